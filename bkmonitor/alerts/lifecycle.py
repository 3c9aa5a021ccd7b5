"""The alert lifecycle (docs/ARCHITECTURE.md, Semantics: alert lifecycle, flapping) as plain
functions over plain data.

One Series per dedupe_md5 holds its ABNORMAL alert (if any), its most recent ended alert and the event
times of its recent state changes. `apply_event` mutates the series' alerts in place and returns the
log entries it wrote; nothing here touches a database, a clock or a setting.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ABNORMAL, RECOVERED, CLOSED = "ABNORMAL", "RECOVERED", "CLOSED"
OPENING_TYPES = frozenset({"anomaly", "no_data"})
STATUS_TYPES = frozenset({"recovering", "recovered", "closed"})
EVENT_TYPES = OPENING_TYPES | STATUS_TYPES
REPLACED_REASON = "a more severe alert replaced it"


@dataclass(frozen=True)
class Limits:
    qos_per_minute: int = 100
    qos_settle: int = 120  # event-time seconds after its minute's end until a minute's QoS verdicts are final
    flapping_changes: int = 6
    flapping_window: int = 3600
    flapping_stable: int = 1800


@dataclass(frozen=True)
class EventIn:
    event_id: str
    event_type: str
    dedupe_md5: str
    time: int
    severity: int
    strategy_id: int = 0
    item_id: int = 0
    bk_biz_id: int = 0
    alert_name: str = ""
    dimensions: Mapping[str, Any] = field(default_factory=dict)
    target_type: str = ""
    target: str = ""
    value: float | None = None
    reason: str = ""

    @property
    def sort_key(self) -> tuple[str, int, str]:
        return self.dedupe_md5, self.time, self.event_id


@dataclass(eq=False)
class AlertState:
    dedupe_md5: str
    alert_name: str
    strategy_id: int
    item_id: int
    bk_biz_id: int
    severity: int
    open_time: int
    first_anomaly_time: int
    begin_time: int
    latest_time: int
    dimensions: Mapping[str, Any] = field(default_factory=dict)
    target_type: str = ""
    target: str = ""
    status: str = ABNORMAL
    end_time: int | None = None
    event_count: int = 1
    is_recovering: bool = False
    is_blocked: bool = False
    is_flapping: bool = False
    close_reason: str = ""
    recovery_value: float | None = None
    reason: str = ""  # why the event that opened it fired
    latest_reason: str = ""  # why its latest applied event happened
    id: int | None = None  # None until the builder stores it
    dirty: bool = False

    @property
    def is_open(self) -> bool:
        return self.status == ABNORMAL


@dataclass(frozen=True)
class LogEntry:
    alert: AlertState | None
    dedupe_md5: str
    time: int
    op: str
    event_id: str
    description: str


@dataclass
class Series:
    dedupe_md5: str
    abnormal: AlertState | None = None
    last_ended: AlertState | None = None
    changes: list[int] = field(default_factory=list)  # event times of opens and ends, for flapping


@dataclass
class Outcome:
    alert: AlertState | None = None  # the alert the event is attached to
    logs: list[LogEntry] = field(default_factory=list)
    opened: list[AlertState] = field(default_factory=list)
    ended: list[AlertState] = field(default_factory=list)

    def log(self, alert: AlertState | None, dedupe_md5: str, time: int, op: str, event_id: str,
            description: str) -> None:
        self.logs.append(LogEntry(alert, dedupe_md5, time, op, event_id, description))


def apply_event(series: Series, event: EventIn, limits: Limits) -> Outcome:
    """Apply one new event to its series (events of a series must come in EventIn.sort_key order).

    QoS is not decided here: whether a new alert is blocked depends on the other alerts of its minute,
    which the builder decides per batch (bkmonitor/alerts/qos.py)."""
    outcome = Outcome()
    current = series.abnormal
    if current is not None and current.is_flapping:
        _end_flapping_if_stable(current, event.time, event.event_id, limits, outcome)
    if event.event_type in OPENING_TYPES:
        _apply_anomaly(series, event, limits, outcome)
    else:
        _apply_status(series, event, outcome)
    return outcome


def end_flapping_if_stable(alert: AlertState, now: int, limits: Limits) -> LogEntry | None:
    """For the periodic sweep: the alert's dedupe_md5 has not changed state since it opened."""
    outcome = Outcome()
    _end_flapping_if_stable(alert, now, "", limits, outcome)
    return outcome.logs[0] if outcome.logs else None


def _end_flapping_if_stable(alert: AlertState, now: int, event_id: str, limits: Limits, outcome: Outcome) -> None:
    # While an alert is ABNORMAL its series cannot change state, so it has been stable since it opened.
    stable_at = alert.open_time + limits.flapping_stable
    if now < stable_at:
        return
    alert.is_flapping = False
    alert.dirty = True
    # Logged at the moment it became stable, so the event and the sweep write the same row.
    outcome.log(alert, alert.dedupe_md5, stable_at, "FLAPPING_END", event_id,
                f"flapping ended: no state change for {limits.flapping_stable}s")


def _why(event: EventIn) -> str:
    """The event's own reason, appended to a log line so the log tells why, not only what."""
    return f": {event.reason}" if event.reason else ""


def _apply_anomaly(series: Series, event: EventIn, limits: Limits, outcome: Outcome) -> None:
    current = series.abnormal
    if current is None:
        ended = series.last_ended
        if ended is not None and ended.end_time is not None and event.time <= ended.end_time:
            outcome.alert = ended
            outcome.log(ended, series.dedupe_md5, event.time, "LATE_EVENT", event.event_id,
                        f"late event after the alert ended (event time {event.time} <= end time {ended.end_time})")
            return
        _open(series, event, limits, outcome)
        return
    if event.severity < current.severity:
        current.latest_reason = f"{REPLACED_REASON} (severity {event.severity}){_why(event)}"
        _end(series, current, CLOSED, max(event.time, current.begin_time), outcome, event.event_id,
             close_reason=REPLACED_REASON,
             description=f"closed: a more severe alert replaced it (severity {event.severity} "
                         f"< {current.severity})")
        _open(series, event, limits, outcome)
        return
    outcome.alert = current
    if event.time < current.begin_time:
        previous = current.begin_time
        current.begin_time = event.time
        current.first_anomaly_time = min(current.first_anomaly_time, event.time)
        current.dirty = True
        outcome.log(current, series.dedupe_md5, event.time, "MOVED_BEGIN", event.event_id,
                    f"out-of-order event: begin time moved back from {previous} to {event.time}")
        return
    if event.severity > current.severity:
        outcome.log(current, series.dedupe_md5, event.time, "LOWER_SEVERITY_DROPPED", event.event_id,
                    f"less severe event dropped (severity {event.severity} > {current.severity}){_why(event)}")
        return
    current.event_count += 1
    current.latest_time = max(current.latest_time, event.time)
    current.is_recovering = False
    current.latest_reason = event.reason
    current.dirty = True
    outcome.log(current, series.dedupe_md5, event.time, "ANOMALY", event.event_id,
                f"anomaly, value {event.value}{_why(event)}")


def _apply_status(series: Series, event: EventIn, outcome: Outcome) -> None:
    current = series.abnormal
    if current is None:
        outcome.log(None, series.dedupe_md5, event.time, "NO_OPEN_ALERT", event.event_id,
                    f"no open alert: {event.event_type} event ignored")
        return
    outcome.alert = current
    # A status decision older than the alert (or, for recovering, than its latest anomaly) is outdated.
    stale_before = current.latest_time if event.event_type == "recovering" else current.begin_time
    if event.time < stale_before:
        outcome.log(current, series.dedupe_md5, event.time, "STALE_EVENT", event.event_id,
                    f"stale {event.event_type} event ignored (event time {event.time} < {stale_before})")
        return
    if event.event_type == "recovering":
        if not current.is_recovering:
            current.is_recovering = True
            current.latest_reason = event.reason
            current.dirty = True
            outcome.log(current, series.dedupe_md5, event.time, "RECOVERING", event.event_id,
                        f"recovering: the latest window is clean; notices held{_why(event)}")
    elif event.event_type == "recovered":
        current.recovery_value = event.value
        current.latest_reason = event.reason
        _end(series, current, RECOVERED, event.time, outcome, event.event_id,
             description=f"recovered, value {event.value}{_why(event)}")
    else:
        reason = event.reason or "closed"
        current.latest_reason = reason
        _end(series, current, CLOSED, event.time, outcome, event.event_id, close_reason=reason,
             description=f"closed: {reason}")


def _open(series: Series, event: EventIn, limits: Limits, outcome: Outcome) -> None:
    alert = AlertState(
        dedupe_md5=series.dedupe_md5, alert_name=event.alert_name, strategy_id=event.strategy_id,
        item_id=event.item_id, bk_biz_id=event.bk_biz_id, severity=event.severity, open_time=event.time,
        first_anomaly_time=event.time, begin_time=event.time, latest_time=event.time,
        dimensions=dict(event.dimensions), target_type=event.target_type, target=event.target,
        reason=event.reason, latest_reason=event.reason, dirty=True)
    series.abnormal = alert
    outcome.alert = alert
    outcome.opened.append(alert)
    label = "no data" if event.event_type == "no_data" else "anomaly"
    outcome.log(alert, series.dedupe_md5, event.time, "CREATE", event.event_id,
                f"created by {label}, severity {event.severity}, value {event.value}{_why(event)}")
    changes = _record_change(series, event.time, limits)
    if changes > limits.flapping_changes:
        alert.is_flapping = True
        outcome.log(alert, series.dedupe_md5, event.time, "FLAPPING_START", event.event_id,
                    f"flapping: {changes} state changes within {limits.flapping_window}s")


def _end(series: Series, alert: AlertState, status: str, time: int, outcome: Outcome, event_id: str, *,
         description: str, close_reason: str = "") -> None:
    alert.status = status
    alert.end_time = time
    alert.is_recovering = False
    if close_reason:
        alert.close_reason = close_reason
    alert.dirty = True
    series.abnormal = None
    series.last_ended = alert
    outcome.ended.append(alert)
    outcome.log(alert, series.dedupe_md5, time, "RECOVER" if status == RECOVERED else "CLOSE", event_id,
                description)
    _record_change(series, time, limits=None)


def _record_change(series: Series, time: int, limits: Limits | None) -> int:
    """Remember a state change; returns how many fall in the flapping window ending at `time`."""
    series.changes.append(time)
    if limits is None:
        return 0
    return sum(1 for t in series.changes if time - limits.flapping_window < t <= time)
