"""The access stage as a plain object: messages in, anomaly events out.

ingest_many() parses a run of one partition's messages and files their points in
the partition's windows (ingest() one message);
close_windows() closes what the watermark passed, aggregates and detects
column-wise (one numpy pass per aggregation and window), then records
anomalies and fires the N-of-M trigger for the few series that need it. No
Kafka here, and Redis only for look-backs longer than the in-memory horizon
(one pipeline per closed column).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from alarm_backends.core.faults import INFRASTRUCTURE_ERRORS, describe
from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.service.access.data.columns import Closing, Column
from alarm_backends.service.access.data.history import ColumnHistory, LongHistory, RowHistory
from alarm_backends.service.access.data.index import AggSpec, ItemSpec, LevelSpec, StrategyIndex
from alarm_backends.service.access.data.parse import Point, parse_metric_message
from alarm_backends.service.access.data.state import NEVER, AggMemory, ItemMemory, PartitionState, SeriesTable
from alarm_backends.service.detect.batch import round6
from alarm_backends.service.detect.compare import PRECISION
from alarm_backends.service.trigger.event import Event, ItemEvents, SeriesEvents
from alarm_backends.service.trigger.nofm import count_in_window, in_uptime, prune
from alarm_backends.service.trigger.reason import StatusReasons, fallback_reason, level_reason, status_reasons
from alarm_backends.service.trigger.recovery import RecoveryRule, missing_windows, silence_start

DAY = 86_400
DEFAULT_RULE = RecoveryRule.of({})
NO_DATA_CLOSE_SECONDS = 30 * 60
FORGET_AFTER = 2 * DAY  # a series silent this long, with nothing open, is forgotten
SEED_GRACE = 30 * 60  # as access/rebuild.py: how long (event time) a seed waits for its series

if TYPE_CHECKING:
    from alarm_backends.service.access.rebuild import SeedClaims

# (raw message, latest event time accepted) -> points; raises InvalidMessage
Parser = Callable[[bytes | None, float], list[Point]]


class ClosedWindow(NamedTuple):
    """One series' closed window, as the trigger and the events see it."""
    key: tuple[Any, ...]  # the values of agg_dimension
    start: int
    value: float
    points: int


class AccessProcessor:
    def __init__(self, index: StrategyIndex, *, long_history: LongHistory | None = None,
                 memory_seconds: int = 3 * 3600, tz: ZoneInfo | None = None,
                 parser: Parser = parse_metric_message, max_future: float = 300.0) -> None:
        self.parser = parser
        self.max_future = max_future  # how far ahead of the wall clock a point may be (seconds)
        self.long_history = long_history
        self.memory_seconds = memory_seconds
        self.tz = tz or ZoneInfo("UTC")
        self.windows_closed = 0  # all partitions', for the stage's metrics
        self.claims: SeedClaims | None = None  # set by the runner: seeds claimed across the group
        self.index = index

    def ingest(self, state: PartitionState, topic: str, raw: bytes | None) -> int:
        """File one message's points into the windows of the groups that read them; raises
        InvalidMessage (nothing is filed then). Returns the (point, group) filings."""
        filed, invalid = self.ingest_many(state, topic, (raw,))
        if invalid:
            raise invalid[0][1]
        return filed

    def ingest_many(self, state: PartitionState, topic: str, raws: Sequence[bytes | None]
                    ) -> tuple[int, list[tuple[int, InvalidMessage]]]:
        """ingest() over consecutive messages of one partition: the (point, group) filings, and
        the position and error of each invalid message (nothing of it is filed).

        A message is applied whole or not at all: the parser checks all of it against the contract
        (docs/ARCHITECTURE.md, Data contracts: metric message) before any point is filed, and any
        exception it raises, whatever its type, is that message's fault and rejects it with nothing
        filed. Filing only uses values the contract admitted (scalars of bounded size, times that are
        positive and not ahead), so it raises for no message; if it ever did, that is our bug and it
        propagates: the process stops before its next checkpoint, and the half-filed message, never
        snapshotted, is replayed by whoever resumes the partition from its last snapshot."""
        parser = self.parser
        not_after = int(time.time() + self.max_future)  # once per run; an int compares faster with the times
        groups = self._groups_by_topic.get(topic, ())
        windows = state.windows
        open_windows, tables, lateness = windows.open, state.tables, windows.lateness
        max_time = windows.max_time  # a point is late against the points before it, even in its message
        filed = 0
        invalid: list[tuple[int, InvalidMessage]] = []
        try:
            for position, raw in enumerate(raws):
                try:
                    points = parser(raw, not_after)
                except InvalidMessage as exc:
                    invalid.append((position, exc))
                    continue
                except INFRASTRUCTURE_ERRORS:
                    raise
                except Exception as exc:  # noqa: BLE001 - the message's fault (see the docstring)
                    invalid.append((position, InvalidMessage(describe(exc))))
                    continue
                for point in points:
                    t, metrics = point.time, point.metrics
                    for group in groups:
                        if group.names[0] not in metrics and group.metric_set.isdisjoint(metrics):
                            continue
                        if group.condition is not None and not group.condition(point.dimensions):
                            continue
                        interval = group.interval
                        start = t - t % interval
                        if start + interval <= max_time - lateness:
                            windows.late += group.fed(metrics)  # counted per aggregation it would have fed
                            continue
                        by_start = open_windows.get(group.uid)
                        bucket = by_start.get(start) if by_start is not None else None
                        if bucket is None:
                            bucket = windows.bucket(group.uid, start, interval)
                        table = tables.get(group.uid) or state.table(group.uid)
                        key = group.key_of(point.dimensions)
                        slot = table.slot_of.get(key)
                        if slot is None:
                            slot = table.slot(key)
                        token = (slot, t)
                        if token in bucket.first:
                            part = bucket.add_colliding(slot, point, group.metric_set)
                            windows.duplicates += group.fed(metrics) - (group.fed(part.metrics) if part else 0)
                            if part is None:
                                continue
                        else:
                            bucket.first[token] = len(bucket.points)
                            bucket.slots.append(slot)
                            bucket.points.append(point)
                        filed += 1
                    if t > max_time:
                        max_time = t
        finally:
            windows.max_time = max_time
            windows.points += filed
        return filed, invalid

    @property
    def index(self) -> StrategyIndex:
        return self._index

    @index.setter
    def index(self, index: StrategyIndex) -> None:
        self._index = index
        self._item_events: dict[str, ItemEvents] = {}
        self._reasons: dict[str, dict[int, StatusReasons]] = {}
        for uid, item in index.items.items():
            levels = self._level_reasons(item)
            self._item_events[uid] = ItemEvents(
                strategy_id=item.strategy_id, item_id=item.item_id, strategy_name=item.strategy_name,
                bk_biz_id=item.bk_biz_id, uid=item.uid, interval=item.interval, metric=item.metric,
                table_id=item.table_id, agg_method=item.agg_method, levels=levels)
            self._reasons[uid] = self._status_reasons(item, levels)
        self._groups_by_topic = {topic: index.groups_for_topic(topic) for topic in index.topics}
        # per aggregation: (memory horizon in seconds, look-backs read from Redis, their TTL)
        self._history_plan: dict[str, tuple[int, tuple[int, ...], int]] = {}
        for uid, agg in index.aggs.items():
            short = [o for o in agg.history_offsets if o <= self.memory_seconds]
            long = tuple(o for o in agg.history_offsets if o > self.memory_seconds)
            self._history_plan[uid] = (max(short, default=0), long, max(long, default=0) + DAY)

    def item_seen(self, state: PartitionState) -> dict[str, int]:
        """Item uid -> start of the latest window of its aggregation closed in this partition."""
        seen = state.agg_seen
        return {uid: seen[item.agg_uid] for uid, item in self.index.items.items() if item.agg_uid in seen}

    def close_windows(self, state: PartitionState) -> list[Event]:
        closed = state.windows.close_ready()
        self.windows_closed += len(closed)
        events: list[Event] = []
        groups = self.index.groups
        for group_uid, start, bucket in closed:
            group = groups.get(group_uid)
            if group is None:
                continue
            table = state.table(group_uid)
            closing = Closing(bucket, group.names)
            for agg in group.aggs:
                column = closing.column(start, agg.metric, agg.agg_method)
                if len(column.slots):
                    self._close_column(state, agg, table, column, events)
        minute = state.windows.watermark // 60
        if minute > state.nodata_scanned:
            state.nodata_scanned = minute
            self._scan_silence(state, events, full=minute % 60 == 0)
        state.events += len(events)
        return events

    def _close_column(self, state: PartitionState, agg: AggSpec, table: SeriesTable, column: Column,
                      events: list[Event]) -> None:
        """One closed window of every series of an aggregation: detection column-wise, then the
        items of the series that are anomalous, have something pending or came back from a gap."""
        t, slots, values, unit = column.start, column.slots, column.values, agg.interval
        if t > state.agg_seen.get(agg.uid, -1):
            state.agg_seen[agg.uid] = t
        mem = state.agg_memory(agg.uid, agg.group_uid, len(table.keys))
        horizon, long_offsets, ttl = self._history_plan[agg.uid]
        long_values = self._fetch_long(agg, table, column, long_offsets) if long_offsets else None
        flags = self._detect(agg, mem, column, long_values)
        last = mem.last_closed[slots]
        known = last != NEVER
        gap = known & (t - np.where(known, last, t) > unit)
        rows = np.logical_or.reduce(flags) if len(flags) else np.zeros(len(slots), dtype=bool)
        if agg.watches_nodata:
            rows |= gap
        if mem.items:
            rows |= np.isin(slots, np.fromiter(mem.items, np.int64, len(mem.items)))
        for i in np.flatnonzero(rows).tolist():
            slot = int(slots[i])
            self._close_series(agg, mem, slot, table.keys[slot], column, i, [bool(f[i]) for f in flags],
                               bool(gap[i]), int(last[i]) if known[i] else None, events)
        seeded = state.seeds.get(agg.uid)
        if seeded:
            self._claim_seeds(state, agg, table, seeded, slots)
        mem.last_closed[slots] = t
        mem.last_value[slots] = values
        if horizon:
            history = mem.history
            window = history.get(t)
            if window is None:
                window = history[t] = np.full(len(mem.last_closed), np.nan)
            window[slots] = values
            oldest = t - horizon
            for old in [s for s in history if s < oldest]:
                del history[old]
        if long_offsets and self.long_history is not None:
            self.long_history.store([((agg.uid, table.keys[slot]), t, value, ttl)
                                     for slot, value in zip(slots.tolist(), values.tolist(), strict=True)])

    def _detect(self, agg: AggSpec, mem: AggMemory, column: Column,
                long_values: list[dict[int, float]] | None) -> list[np.ndarray]:
        """Per distinct detector of the aggregation, which series of the column are anomalous."""
        t, slots, values, unit = column.start, column.slots, column.values, agg.interval
        if agg.batch is not None:
            history = ColumnHistory(mem.history, slots, long_values)
            seen = round6(values)
            return [detect(seen, t, unit, history) for detect in agg.batch]
        flags = [np.zeros(len(slots), dtype=bool) for _ in agg.detectors]
        for i, (slot, value) in enumerate(zip(slots.tolist(), values.tolist(), strict=True)):
            view = RowHistory(mem.history, slot, long_values[i] if long_values else None)
            seen = round(value, PRECISION) if agg.prerounded else value
            for flag, detector in zip(flags, agg.detectors, strict=True):
                flag[i] = detector(seen, t, unit, view)
        return flags

    def _close_series(self, agg: AggSpec, mem: AggMemory, slot: int, key: tuple[Any, ...], column: Column,
                      row: int, flags: list[bool], gap: bool, last_closed: int | None,
                      events: list[Event]) -> None:
        pending = mem.items.get(slot)
        window = ClosedWindow(key, column.start, float(column.values[row]), int(column.points[row]))
        last_value = float(mem.last_value[slot])
        for item, plan in agg.plans:
            imem = pending.get(item.uid) if pending else None
            anomalous = [level for level, k in plan if flags[k]]
            if imem is None and not anomalous and not (gap and item.no_data_config.get("is_enabled")):
                continue
            imem = self._close_item(item, last_closed, last_value, imem or ItemMemory(), window, anomalous, gap,
                                    events)
            mem.settle(slot, item.uid, imem)

    def _close_item(self, item: ItemSpec, last_closed: int | None, last_value: float, imem: ItemMemory,
                    window: ClosedWindow, anomalous: list[LevelSpec], gap: bool,
                    events: list[Event]) -> ItemMemory:
        t, value, key = window.start, window.value, window.key
        if gap:
            # data is back after a gap the silence scan may not have seen yet (batch boundaries)
            assert last_closed is not None
            self._silence(item, last_closed, last_value, imem, key, t - item.interval, events)
        if imem.nodata_open:
            imem.nodata_open = False
            level = self._nodata_level(item)
            events.append(self._status(imem, "recovered", item, level, t, value, key, about_nodata=True,
                                       reason=self._reason(item, level, "data_back", value)))
        previous = last_value if last_closed == t - item.interval else None
        fired = self._trigger(imem, item, window, anomalous, previous)
        if fired is not None:
            level, event = fired
            events.append(event)
            if imem.alert_level is None or level <= imem.alert_level:
                # the alert's own level again, or a more severe one (the alert manager replaces the
                # alert with a new one at that level): either way nothing is clean any more
                imem.alert_level, imem.clean = level, 0
                return imem
            # A less severe level fired: the alert manager drops its event, so it must not touch the
            # open alert, whose windows are judged by the alert's own level only.
        if imem.alert_level is not None:
            self._count_clean(imem, item, t, value, key, events)
        return imem

    def _count_clean(self, imem: ItemMemory, item: ItemSpec, t: int, value: float, key: tuple[Any, ...],
                     events: list[Event]) -> None:
        """Judge a window for the open alert by its own level's N-of-M condition: a window that
        meets it resets the clean count, one that does not counts towards recovery. `recovering`
        is told once, at the first clean window: the alert manager keeps the flag until an event
        of the alert's level or a more severe one (or the end) clears it, which is when the count
        resets (but for a window outside the level's uptime: docs/ARCHITECTURE.md, Semantics:
        recovery)."""
        level = imem.alert_level
        assert level is not None
        if self._still_met(imem, item, level, t):
            imem.clean = 0
            return
        rule = self._rule(item, level)
        imem.clean += 1
        if imem.clean >= rule.check_window:
            events.append(self._status(imem, rule.ends_as, item, level, t, value, key,
                                       reason=self._reason(item, level, rule.ends_as, value)))
            imem.alert_level, imem.clean = None, 0
        elif imem.clean == 1:
            events.append(self._status(imem, "recovering", item, level, t, value, key,
                                       reason=self._reason(item, level, "recovering", value)))

    def _trigger(self, imem: ItemMemory, item: ItemSpec, window: ClosedWindow, anomalous: list[LevelSpec],
                 previous: float | None = None) -> tuple[int, Event] | None:
        """Record this window's anomalies (levels most severe first) and fire the N-of-M trigger.
        `previous`: the series' value in the window just before, for the event's reason."""
        t = window.start
        anomalies = imem.anomalies  # per level, ascending window starts (windows close in order)
        fired = None
        for level in anomalous:
            times = anomalies.get(level.level)
            if times is None:
                times = anomalies[level.level] = [t]
            else:
                times.append(t)
            if fired is None and count_in_window(times, t, level.span) >= level.trigger_count \
                    and (not level.uptime or in_uptime(t, level.uptime, self.tz)):
                fired = level
        if anomalies:
            for level in item.levels:
                times = anomalies.get(level.level)
                if times and times[0] < t - level.span:  # some can no longer fall in a window ending at or after t
                    kept = prune(times, t, level.span)
                    if kept:
                        anomalies[level.level] = kept
                    else:
                        del anomalies[level.level]
        if fired is None:
            return None
        return fired.level, self._events_of(imem, item, window.key).anomaly(
            level=fired.level, t=t, value=window.value, points=window.points,
            anomaly_times=prune(anomalies[fired.level], t, fired.span), previous=previous)

    def _claim_seeds(self, state: PartitionState, agg: AggSpec, table: SeriesTable,
                     seeded: dict[int, tuple[int, float]], slots: np.ndarray) -> None:
        """A rebuilt series that closes a window here lives here: from now on it is ordinary state,
        and the group's other partitions holding the same seed are told to let it go."""
        found = [slot for slot in slots.tolist() if slot in seeded]
        if not found:
            return
        for slot in found:
            del seeded[slot]
        if not seeded:
            del state.seeds[agg.uid]
        if self.claims is not None:
            self.claims.claim([(agg.group_uid, table.keys[slot]) for slot in found])  # type: ignore[misc]

    def _settle_seeds(self, state: PartitionState, watermark: int) -> None:
        """Seeds not seen here within SEED_GRACE of event time: one claimed by another partition is
        dropped quietly; an unclaimed one (its series is gone) becomes a silent series whose last
        window is its alert's latest event, which the scan then ends by the no-data rules at a time
        that depends on the alert only (the same event id on every partition)."""
        if state.seeded_since is None:
            state.seeded_since = watermark
        if watermark - state.seeded_since < SEED_GRACE:
            return
        seeds = [(uid, slot, seen) for uid, by_slot in state.seeds.items() for slot, seen in by_slot.items()]
        series: list[tuple[str, tuple[Any, ...]]] = []
        for uid, slot, _seen in seeds:
            mem = state.memory.get(uid)
            table = state.tables.get(mem.group) if mem is not None else None
            key = table.keys[slot] if table is not None and slot < len(table.keys) else None
            series.append((mem.group, key) if mem is not None and key is not None else ("", ()))
        claimed = self.claims.claimed(series) if self.claims is not None else [False] * len(seeds)
        for (uid, slot, (t, value)), taken, (group, _key) in zip(seeds, claimed, series, strict=True):
            mem = state.memory.get(uid)
            if mem is None or not group or mem.last_closed[slot] != NEVER:
                continue
            if taken:
                mem.items.pop(slot, None)
            else:
                mem.last_closed[slot], mem.last_value[slot] = t, value
        state.seeds, state.seeded_since = {}, None

    def _scan_silence(self, state: PartitionState, events: list[Event], full: bool) -> None:
        """Series that went silent: no-data events, and alerts that -nodata recovery ends. Series
        silent for FORGET_AFTER with nothing alerting are forgotten; once an event-hour (`full`)
        their slots are released for new series."""
        watermark = state.windows.watermark
        if state.seeds:
            self._settle_seeds(state, watermark)
        aggs = self.index.aggs
        for uid, mem in state.memory.items():
            agg = aggs.get(uid)
            table = state.tables.get(mem.group)
            if agg is None or table is None:
                continue
            last = mem.last_closed
            known = last != NEVER
            silent_for = watermark - np.where(known, last, watermark)
            silent = known & (silent_for >= 2 * agg.interval)  # a window closed without data
            if not agg.watches_nodata:
                silent &= np.isin(np.arange(len(last)), np.fromiter(mem.items, np.int64, len(mem.items)))
            for slot in np.flatnonzero(silent).tolist():
                pending = mem.items.get(slot)
                last_closed, last_value = int(last[slot]), float(mem.last_value[slot])
                for item in agg.items:
                    imem = pending.get(item.uid) if pending else None
                    if imem is None:
                        if not item.no_data_config.get("is_enabled"):
                            continue
                        imem = ItemMemory()
                    self._silence(item, last_closed, last_value, imem, table.keys[slot], watermark, events)  # type: ignore[arg-type]
                    mem.settle(slot, item.uid, imem)
            gone = np.flatnonzero(known & (silent_for > FORGET_AFTER))
            if len(gone):
                alerting = {slot for slot, pending in mem.items.items() if any(m.is_alerting for m in pending.values())}
                mem.forget(np.array([s for s in gone.tolist() if s not in alerting], dtype=np.int64))
        if full:
            self._release_forgotten(state)

    def _release_forgotten(self, state: PartitionState) -> None:
        """Slots no aggregation of their group remembers and no open window holds."""
        by_group: dict[str, list[AggMemory]] = {}
        for mem in state.memory.values():
            by_group.setdefault(mem.group, []).append(mem)
        for group, table in state.tables.items():
            size = len(table.keys)
            unused = np.ones(size, dtype=bool)
            for mem in by_group.get(group, []):
                unused &= mem.last_closed[:size] == NEVER
                for slot in mem.items:
                    unused[slot] = False
            for slot in state.windows.open_slots(group):
                unused[slot] = False
            if unused.any():
                table.release(s for s in np.flatnonzero(unused).tolist() if table.keys[s] is not None)

    def _silence(self, item: ItemSpec, last_closed: int, last_value: float, imem: ItemMemory,
                 key: tuple[Any, ...], watermark: int, events: list[Event]) -> None:
        missing = missing_windows(last_closed, watermark, item.interval)
        if missing <= 0:
            return
        if imem.alert_level is not None:
            rule = self._rule(item, imem.alert_level)
            close_after = self._no_data_close_windows(item, imem.alert_level)
            if rule.on_nodata and missing >= rule.check_window:
                t = silence_start(last_closed, rule.check_window, item.interval)
                events.append(self._status(imem, rule.ends_as, item, imem.alert_level, t, last_value, key,
                                           reason=self._reason(item, imem.alert_level, "nodata_end", last_value)))
                imem.alert_level, imem.clean = None, 0
            elif missing >= close_after:
                t = silence_start(last_closed, close_after, item.interval)
                events.append(self._status(imem, "closed", item, imem.alert_level, t, last_value, key,
                                           reason=self._reason(item, imem.alert_level, "nodata_close", last_value)))
                imem.alert_level, imem.clean = None, 0
        nodata = item.no_data_config
        if nodata.get("is_enabled") and not imem.nodata_open and missing >= int(nodata.get("continuous", 5)):
            t = silence_start(last_closed, int(nodata.get("continuous", 5)), item.interval)
            level = self._nodata_level(item)
            events.append(self._status(imem, "no_data", item, level, t, 0.0, key,
                                       reason=self._reason(item, level, "no_data", last_value)))
            imem.nodata_open = True

    @staticmethod
    def _level_reasons(item: ItemSpec) -> dict[int, Any]:
        return {lv.level: level_reason(level=lv.level, method=item.agg_method, metric=item.metric,
                                       algorithms=lv.algorithms, connector=lv.connector,
                                       trigger_count=lv.trigger_count, check_window=lv.check_window,
                                       metric_unit=item.unit) for lv in item.levels}

    def _status_reasons(self, item: ItemSpec, levels: dict[int, Any]) -> dict[int, StatusReasons]:
        """Per level (0: a level the item no longer has), the reasons of its status events."""
        continuous = int(item.no_data_config.get("continuous", 5))
        found = {0: status_reasons(fallback_reason(0, item.agg_method, item.metric),
                                   check_window=DEFAULT_RULE.check_window, setter="recovery",
                                   close_after=self._no_data_close_windows(item, 0),
                                   interval=item.interval, nodata_continuous=continuous)}
        for lv in item.levels:
            found[lv.level] = status_reasons(
                levels[lv.level], check_window=lv.rule.check_window,
                setter=str(lv.recovery_config.get("status_setter", "recovery")),
                close_after=self._no_data_close_windows(item, lv.level), interval=item.interval,
                nodata_continuous=continuous)
        return found

    def _reason(self, item: ItemSpec, level: int, kind: str, value: float | None) -> str:
        reasons = self._reasons[item.uid]
        return StatusReasons.say(getattr(reasons.get(level) or reasons[0], kind), value)

    @staticmethod
    def _still_met(mem: ItemMemory, item: ItemSpec, level: int, t: int) -> bool:
        """Does the window ending at t still meet the alert level's N-of-M condition?"""
        spec = item.by_level.get(level)
        if spec is None:
            return False
        times = mem.anomalies.get(level)
        return bool(times) and count_in_window(times, t, spec.span) >= spec.trigger_count

    @staticmethod
    def _no_data_close_windows(item: ItemSpec, level: int) -> int:
        """An open alert whose series has no data for max(trigger window, 30 min) is closed."""
        window = max((spec.check_window for spec in item.levels if spec.level == level), default=1)
        return max(window, -(-NO_DATA_CLOSE_SECONDS // item.interval))

    @staticmethod
    def _rule(item: ItemSpec, level: int) -> RecoveryRule:
        spec = item.by_level.get(level)
        return spec.rule if spec is not None else DEFAULT_RULE

    @staticmethod
    def _nodata_level(item: ItemSpec) -> int:
        return int(item.no_data_config.get("level", 2))

    def _status(self, imem: ItemMemory, kind: str, item: ItemSpec, level: int, t: int, value: float,
                key: tuple[Any, ...], reason: str = "", about_nodata: bool = False) -> Event:
        return self._events_of(imem, item, key).status(kind, level=level, t=t, value=value, reason=reason,
                                                       about_nodata=about_nodata)

    def _events_of(self, imem: ItemMemory, item: ItemSpec, key: tuple[Any, ...]) -> SeriesEvents:
        """What every event of an item's series shares, kept with the item's state while it has any."""
        events = imem.events
        if events is None:
            dimensions = dict(zip(item.dimensions, key, strict=True))
            events = imem.events = SeriesEvents(self._item_events[item.uid], dimensions)
        return events

    def _fetch_long(self, agg: AggSpec, table: SeriesTable, column: Column,
                    offsets: tuple[int, ...]) -> list[dict[int, float]] | None:
        """Per series of the column, its look-backs kept in Redis (one pipeline)."""
        if self.long_history is None:
            return None
        stamps = [column.start - o for o in offsets]
        series = [(agg.uid, table.keys[slot]) for slot in column.slots.tolist()]
        found = self.long_history.fetch([(s, stamps) for s in series])
        return [found.get(s, {}) for s in series]
