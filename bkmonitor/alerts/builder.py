"""The alert builder: a batch of events in, alerts and logs out, in one transaction.

The consumer calls `apply_events` once per batch and commits its offsets after it returns. Only events
whose event_id is not stored yet are applied, so replaying any batch, or any overlapping range of one,
changes nothing. Queries are per batch, not per event.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Max

from bkmonitor.alerts.lifecycle import (
    ABNORMAL,
    AlertState,
    EventIn,
    Limits,
    LogEntry,
    Series,
    apply_event,
)
from bkmonitor.alerts.bulk import insert_rows
from bkmonitor.alerts.qos_store import (
    UnlockedMinute,
    check_locked,
    judge,
    lock_minutes,
    log_displaced,
    minute_keys,
    read_minutes,
)
from bkmonitor.alerts.store import (
    chunks,
    limits_from_settings,
    to_log_dicts,
    to_row,
    to_state,
    update_alerts,
)
from bkmonitor.alerts.validation import InvalidEvent, parse_event, validate_event
from bkmonitor.models import Alert, AlertLog, Event, LogOp

__all__ = ["BuildResult", "InvalidEvent", "apply_events", "apply_parsed", "parse_event", "validate_event"]

logger = logging.getLogger(__name__)
CHANGE_OPS = (LogOp.CREATE, LogOp.RECOVER, LogOp.CLOSE)
#: a concurrent writer of the same new event makes our insert fail; a retry then sees it as stored
ATTEMPTS = 3
#: PostgreSQL deadlock / serialization failure: two builders locked the same alerts (e.g. during a rebalance)
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})


@dataclass(frozen=True)
class BuildResult:
    new_events: int
    duplicates: int
    opened: list[int] = field(default_factory=list)
    ended: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)


def apply_events(events: list[dict[str, Any]], limits: Limits | None = None) -> BuildResult:
    """Validate every event (InvalidEvent before any write), then store and apply the new ones atomically."""
    return apply_parsed([parse_event(event) for event in events], limits)


def apply_parsed(items: list[tuple[EventIn, dict[str, Any]]], limits: Limits | None = None) -> BuildResult:
    """apply_events for events already checked with parse_event (a consumer that dead-letters
    invalid events one by one has parsed them once already)."""
    parsed: dict[str, tuple[EventIn, dict[str, Any]]] = {}
    for item in items:
        parsed.setdefault(item[0].event_id, item)
    repeated_in_batch = len(items) - len(parsed)
    limits = limits or limits_from_settings()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            result = _apply_atomically(parsed, limits)
        except (IntegrityError, OperationalError) as exc:
            if attempt == ATTEMPTS or not _retryable(exc):
                raise
            logger.warning("alert batch conflicted with a concurrent writer (%s); retrying (attempt %d)", exc, attempt)
            continue
        return BuildResult(result.new_events, result.duplicates + repeated_in_batch, result.opened,
                           result.ended, result.updated)
    raise AssertionError("unreachable")


def _apply_atomically(parsed: dict[str, tuple[EventIn, dict[str, Any]]], limits: Limits) -> BuildResult:
    try:
        with transaction.atomic():
            return _apply(parsed, limits, narrow=True)
    except UnlockedMinute as exc:
        # rare: an alert closed between the QoS pre-read and its lock; every candidate minute this time
        logger.info("alert batch: %s; applying it again with every candidate QoS minute locked", exc)
        with transaction.atomic():
            return _apply(parsed, limits, narrow=False)


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    return getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES


def _apply(parsed: dict[str, tuple[EventIn, dict[str, Any]]], limits: Limits, narrow: bool) -> BuildResult:
    stored = _stored_event_ids(list(parsed))
    new = sorted((item for event_id, item in parsed.items() if event_id not in stored), key=lambda i: i[0].sort_key)
    if not new:
        return BuildResult(0, len(stored))
    # QoS minute locks first: every batch that may open alerts takes them before any alert lock.
    locked = lock_minutes(minute_keys([e for e, _ in new], narrow))
    minutes = read_minutes(locked)
    series = _load_series(sorted({e.dedupe_md5 for e, _ in new}), min(e.time for e, _ in new), limits)
    loaded = {state.id: state for s in series.values() for state in (s.abnormal, s.last_ended)
              if state is not None and state.id is not None}

    logs: list[LogEntry] = []
    touched: dict[int, AlertState] = {}  # id(state) -> state, in first-touch order
    opened: list[AlertState] = []
    ended: list[AlertState] = []
    event_alerts: list[AlertState | None] = []
    opened_by: dict[int, str] = {}  # id(alert) -> the event that opened it
    for event, _ in new:
        outcome = apply_event(series[event.dedupe_md5], event, limits)
        logs.extend(outcome.logs)
        opened.extend(outcome.opened)
        opened_by.update((id(alert), event.event_id) for alert in outcome.opened)
        ended.extend(outcome.ended)
        event_alerts.append(outcome.alert)
        for entry in outcome.logs:
            if entry.alert is not None:
                touched.setdefault(id(entry.alert), entry.alert)

    check_locked(locked, opened)
    judgement = judge(minutes, opened, opened_by, loaded, limits.qos_per_minute, limits.qos_settle)
    displaced_elsewhere = log_displaced(judgement, limits.qos_per_minute)
    logs.extend(judgement.logs)
    for state in judgement.touched:
        touched.setdefault(id(state), state)

    _write_alerts(list(touched.values()))
    insert_rows(Event, [{**row, "alert_id": alert.id if alert is not None else None}
                        for (_, row), alert in zip(new, event_alerts, strict=True)])
    insert_rows(AlertLog, to_log_dicts(logs))

    opened_ids = {id(a) for a in opened}
    ended_ids = {id(a) for a in ended}
    return BuildResult(
        new_events=len(new), duplicates=len(stored),
        opened=[a.id for a in opened if a.id is not None],
        ended=[a.id for a in ended if a.id is not None],
        updated=[a.id for a in touched.values()
                 if a.dirty and a.id is not None and id(a) not in opened_ids and id(a) not in ended_ids]
        + displaced_elsewhere)


def _stored_event_ids(event_ids: list[str]) -> set[str]:
    stored: set[str] = set()
    for part in chunks(event_ids):
        stored.update(Event.objects.filter(event_id__in=part).values_list("event_id", flat=True))
    return stored


def _load_series(keys: list[str], min_time: int, limits: Limits) -> dict[str, Series]:
    """Each key's latest alert (its ABNORMAL one, else its most recent ended one) and recent state changes."""
    series = {key: Series(key) for key in keys}
    for part in chunks(keys):
        # Alerts of one dedupe_md5 follow each other (one ABNORMAL at a time), so the highest id is the latest.
        latest = Alert.objects.filter(dedupe_md5__in=part).values("dedupe_md5").annotate(last=Max("id"))
        last_ids = [row["last"] for row in latest]
        # In id order, so two builders that meet on the same alerts wait for each other instead of deadlocking.
        for alert in Alert.objects.select_for_update().filter(id__in=last_ids).order_by("id"):
            state = to_state(alert)
            if state.status == ABNORMAL:
                series[alert.dedupe_md5].abnormal = state
            else:
                series[alert.dedupe_md5].last_ended = state
        # Manual operations have no event_id: flapping counts what the events did.
        lookback = min_time - limits.flapping_window
        changes = (AlertLog.objects.filter(dedupe_md5__in=part, op__in=CHANGE_OPS, time__gt=lookback)
                   .exclude(event_id="").order_by("time").values_list("dedupe_md5", "time"))
        for key, time in changes:
            series[key].changes.append(time)
    return series


def _write_alerts(alerts: Iterable[AlertState]) -> None:
    alerts = list(alerts)
    # Existing alerts first: a replaced ABNORMAL alert must be CLOSED before its successor is inserted.
    changed = [a for a in alerts if a.id is not None and a.dirty]
    if changed:
        update_alerts(changed)
    fresh = [a for a in alerts if a.id is None]
    if fresh:
        ids = insert_rows(Alert, [to_row(a) for a in fresh], returning_ids=True)
        for state, pk in zip(fresh, ids, strict=True):
            state.id = pk
