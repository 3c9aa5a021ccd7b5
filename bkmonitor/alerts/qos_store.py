"""QoS against the database, once per batch (the rule itself is bkmonitor/alerts/qos.py).

Order inside the builder's transaction, and why:
0. `minute_keys`: only the minutes the batch may really open alerts in. Most anomaly events are for an
   alert already open, and each key costs a row and a lock; a non-locking read of the open alerts
   drops those. A read that misses an alert only adds a lock; one that sees an alert closed before the
   batch locks it would leave a minute unlocked, which `check_locked` catches (the builder then runs
   the batch again with every candidate minute).
1. `lock_minutes` before the series' alerts are locked: the minute rows are the first locks every
   batch that may open alerts takes, in key order, so two processes opening alerts in one minute
   decide one after the other and neither counts without the other's commit.
2. `read_minutes` after the locks: the clock and the admitted alerts it reads cannot change until
   this transaction ends (only a holder of the minute's lock admits or displaces in it).
3. `judge` after the lifecycle opened the batch's alerts: marks new alerts blocked, and stored ones
   displaced (those loaded with the batch in memory, so the builder writes them with the rest).
4. `log_displaced` for displaced alerts the batch did not load.

Queries are per batch (chunked), never per alert. `prune_settled` (the alert manager's periodic
sweep) deletes the rows of minutes settled long ago, so the table holds recent minutes only.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import cast

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from bkmonitor.alerts.bulk import insert_rows
from bkmonitor.alerts.lifecycle import ABNORMAL, OPENING_TYPES, AlertState, EventIn, LogEntry
from bkmonitor.alerts.qos import (
    MinuteKey,
    StoredAlert,
    block_reason,
    decide,
    is_settled,
    minute_key,
    prunable_before,
)
from bkmonitor.alerts.store import chunks
from bkmonitor.models import Alert, AlertLog, Event, LogOp
from bkmonitor.models.alert import QosMinute

#: OR-ed key conditions per statement: well under SQLite's expression depth limit (1000)
KEY_CHUNK = 200
#: a row deleted by `prune_settled` between our insert and our lock is re-created; twice in a row
#: would need two sweeps within one transaction
LOCK_ATTEMPTS = 3
#: rows deleted per statement and transaction by `prune_settled`, and statements per sweep: a sweep
#: never holds many locks or runs long; the next one goes on where it stopped
PRUNE_CHUNK = 1000
PRUNE_CHUNKS_PER_SWEEP = 100


class UnlockedMinute(Exception):
    """The batch opened an alert in a minute it did not lock: `minute_keys` saw that series' alert
    open, and it was closed before the batch locked it. The batch must run again unnarrowed."""

    def __init__(self, keys: set[MinuteKey]) -> None:
        super().__init__(f"alerts opened in unlocked QoS minutes {sorted(keys)}")
        self.keys = keys


@dataclass
class Minutes:
    """What the batch knows of the minutes it may open alerts in, read under their locks."""

    clock: int | None  # the latest event time stored before this batch
    admitted: dict[MinuteKey, list[StoredAlert]] = field(default_factory=dict)


@dataclass
class Judgement:
    logs: list[LogEntry] = field(default_factory=list)  # BLOCK entries for alerts in memory
    touched: list[AlertState] = field(default_factory=list)  # loaded alerts now blocked: to be written
    displaced_elsewhere: list[StoredAlert] = field(default_factory=list)  # not loaded: log_displaced
    keys: dict[int, MinuteKey] = field(default_factory=dict)  # id of a displaced stored alert -> its key


def minute_keys(events: Sequence[EventIn], narrow: bool = True) -> set[MinuteKey]:
    """The minutes this batch's opening events may open an alert in. Narrowed: an event of a series
    whose alert is open and at least as severe opens nothing, unless the batch also holds a status
    event of that series (which may end the alert, so a later anomaly opens a new one)."""
    opening = [e for e in events if e.event_type in OPENING_TYPES]
    if not narrow or not opening:
        return {minute_key(e.strategy_id, e.severity, e.time) for e in opening}
    ending = {e.dedupe_md5 for e in events if e.event_type not in OPENING_TYPES}
    held = _open_severities(sorted({e.dedupe_md5 for e in opening} - ending))
    return {minute_key(e.strategy_id, e.severity, e.time) for e in opening
            if e.dedupe_md5 not in held or e.severity < held[e.dedupe_md5]}


def _open_severities(keys: list[str]) -> dict[str, int]:
    """Without locks: a stale answer is caught by check_locked."""
    found: dict[str, int] = {}
    for part in chunks(keys):
        found.update(Alert.objects.filter(dedupe_md5__in=part, status=ABNORMAL)
                     .values_list("dedupe_md5", "severity").order_by())
    return found


def check_locked(locked: Iterable[MinuteKey], opened: Iterable[AlertState]) -> None:
    keys = {minute_key(a.strategy_id, a.severity, a.open_time) for a in opened} - set(locked)
    if keys:
        raise UnlockedMinute(keys)


def lock_minutes(keys: Iterable[MinuteKey]) -> list[MinuteKey]:
    """Create the minute rows that do not exist yet, then lock them all, in key order."""
    ordered = sorted(set(keys))
    missing = ordered
    for _ in range(LOCK_ATTEMPTS):
        _create_minutes(missing)
        locked = _lock_existing(missing)
        missing = [key for key in missing if key not in locked]
        if not missing:
            return ordered
    raise RuntimeError(f"QoS minutes {missing[:5]} deleted {LOCK_ATTEMPTS} times while being locked: the minute "
                       "sweep must only delete settled minutes")


def _create_minutes(keys: list[MinuteKey]) -> None:
    for part in chunks(keys, KEY_CHUNK):
        QosMinute.objects.bulk_create(
            [QosMinute(strategy_id=s, severity=v, minute=m) for s, v, m in part], ignore_conflicts=True)


def _lock_existing(keys: list[MinuteKey]) -> set[MinuteKey]:
    """Lock the rows of these keys in key order; returns those found (a row deleted by the sweep
    after our insert found it in place is missing, and must be created again)."""
    locked: set[MinuteKey] = set()
    for part in chunks(keys, KEY_CHUNK):
        condition = Q()
        for s, v, m in part:
            condition |= Q(strategy_id=s, severity=v, minute=m)
        locked.update(QosMinute.objects.select_for_update().filter(condition)
                      .order_by("strategy_id", "severity", "minute")
                      .values_list("strategy_id", "severity", "minute"))
    return locked


def prune_settled(settle: int, keep: int) -> int:
    """Delete the lock rows of minutes settled at least `keep` seconds of event time ago (see
    bkmonitor/alerts/qos.py for why that cannot change a verdict); returns how many. Rows a builder
    holds are skipped, not waited for: the next sweep takes them."""
    before = prunable_before(Event.objects.aggregate(clock=Max("time"))["clock"], settle, keep)
    if before is None:
        return 0
    deleted = 0
    for _ in range(PRUNE_CHUNKS_PER_SWEEP):
        with transaction.atomic():
            ids = list(QosMinute.objects.select_for_update(skip_locked=True).filter(minute__lt=before)
                       .order_by("id").values_list("id", flat=True)[:PRUNE_CHUNK])
            if ids:
                QosMinute.objects.filter(id__in=ids).delete()
        deleted += len(ids)
        if len(ids) < PRUNE_CHUNK:
            break
    return deleted


def read_minutes(keys: list[MinuteKey]) -> Minutes:
    """The event clock and, per key, its admitted stored alerts (at most the limit each)."""
    minutes = Minutes(clock=Event.objects.aggregate(clock=Max("time"))["clock"] if keys else None)
    wanted = set(keys)
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    for s, v, m in keys:
        low, high = spans.get((s, v), (m, m))
        spans[(s, v)] = (min(low, m), max(high, m))
    for part in chunks(sorted(spans), KEY_CHUNK):
        condition = Q()
        for s, v in part:
            low, high = spans[(s, v)]
            condition |= Q(strategy_id=s, severity=v, open_time__gte=low * 60, open_time__lt=(high + 1) * 60)
        rows = (Alert.objects.filter(condition, is_blocked=False)
                .values_list("id", "strategy_id", "severity", "open_time", "dedupe_md5").order_by())
        for pk, s, v, open_time, dedupe_md5 in rows:
            key = minute_key(s, v, open_time)
            if key in wanted:
                minutes.admitted.setdefault(key, []).append(StoredAlert(pk, dedupe_md5, open_time))
    return minutes


def judge(minutes: Minutes, opened: list[AlertState], opened_by: Mapping[int, str],
          loaded: Mapping[int, AlertState], limit: int, settle: int) -> Judgement:
    """Apply the rule to every key the batch opened alerts in. `opened_by` maps id(alert) to the event
    that opened it; `loaded` maps stored alert ids to the states the batch holds in memory."""
    judgement = Judgement()
    fresh: dict[MinuteKey, list[AlertState]] = defaultdict(list)
    for alert in opened:
        fresh[minute_key(alert.strategy_id, alert.severity, alert.open_time)].append(alert)
    for key in sorted(fresh):
        strategy_id, severity, minute = key
        verdict = decide(limit, minutes.admitted.get(key, []), fresh[key],
                         is_settled(minute, minutes.clock, settle))
        reason = block_reason(limit, strategy_id, severity)
        for alert in verdict.blocked:
            alert.is_blocked = True
            judgement.logs.append(_block_entry(alert, opened_by[id(alert)], reason))
        for stored in verdict.displaced:
            judgement.keys[stored.id] = key
            state = loaded.get(stored.id)
            if state is None:
                judgement.displaced_elsewhere.append(stored)
                continue
            state.is_blocked = True
            state.dirty = True
            judgement.touched.append(state)
    return judgement


def log_displaced(judgement: Judgement, limit: int) -> list[int]:
    """BLOCK entries for the loaded displaced alerts (their opening event read from their CREATE log),
    and the UPDATE and log rows of the others. Returns the ids of the others."""
    states = {cast(int, state.id): state for state in judgement.touched}  # loaded from the database: they have ids
    others = [stored.id for stored in judgement.displaced_elsewhere]
    created_by = _created_by([*states, *others])
    for pk, state in states.items():
        judgement.logs.append(_block_entry(state, created_by.get(pk, ""),
                                           block_reason(limit, state.strategy_id, state.severity)))
    if others:
        for part in chunks(others):
            Alert.objects.filter(id__in=part).update(is_blocked=True, update_time=timezone.now())
        insert_rows(AlertLog, [
            {"alert_id": stored.id, "dedupe_md5": stored.dedupe_md5, "time": stored.open_time,
             "op": str(LogOp.BLOCK), "event_id": created_by.get(stored.id, ""),
             "description": block_reason(limit, *judgement.keys[stored.id][:2])}
            for stored in judgement.displaced_elsewhere])
    return others


def _block_entry(alert: AlertState, event_id: str, reason: str) -> LogEntry:
    # At the alert's open time and with its opening event, whenever it was decided (create_time says
    # when): so the log, like the verdict, is the same whatever order the minute's alerts arrived in.
    return LogEntry(alert, alert.dedupe_md5, alert.open_time, "BLOCK", event_id, reason)


def _created_by(alert_ids: list[int]) -> dict[int, str]:
    created: dict[int, str] = {}
    for part in chunks(alert_ids):
        rows = AlertLog.objects.filter(alert_id__in=part, op=LogOp.CREATE).values_list("alert_id", "event_id")
        created.update(rows)
    return created
