"""The access stage as a plain object: messages in, anomaly events out.

ingest() parses one message and adds its points to the partition's windows;
close_windows() closes what the watermark passed, runs detection per level,
records anomalies and fires the N-of-M trigger. No Kafka here, and Redis only
for look-backs longer than the in-memory horizon (one pipeline per call).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from alarm_backends.service.access.data.history import HistoryView, LongHistory, SeriesId
from alarm_backends.service.access.data.index import AggSpec, ItemSpec, LevelSpec, StrategyIndex
from alarm_backends.service.access.data.parse import Point, parse_metric_message
from alarm_backends.service.access.data.state import ItemMemory, PartitionState, SeriesMemory
from alarm_backends.service.access.data.windows import ClosedWindow
from alarm_backends.service.detect.compare import PRECISION
from alarm_backends.service.trigger.event import build_event, build_status_event
from alarm_backends.service.trigger.nofm import count_in_window, in_uptime, prune, window_start
from alarm_backends.service.trigger.recovery import RecoveryRule, missing_windows, silence_start

DAY = 86_400
NO_DATA_CLOSE_SECONDS = 30 * 60
FORGET_AFTER = 2 * DAY  # a series silent this long, with nothing open, is forgotten

Parser = Callable[[bytes | None], list[Point]]  # raises InvalidMessage


class AccessProcessor:
    def __init__(self, index: StrategyIndex, *, long_history: LongHistory | None = None,
                 memory_seconds: int = 3 * 3600, tz: ZoneInfo | None = None,
                 parser: Parser = parse_metric_message) -> None:
        self.parser = parser
        self.long_history = long_history
        self.memory_seconds = memory_seconds
        self.tz = tz or ZoneInfo("UTC")
        self.index = index

    def ingest(self, state: PartitionState, topic: str, raw: bytes | None) -> int:
        """Add one message's points (once per aggregation that reads them); raises InvalidMessage
        (nothing is added then). Returns the points added to a window."""
        points = self.parser(raw)
        by_metric = self.index.metrics_for_topic(topic)
        add = state.windows.add
        observe = state.windows.observe
        accepted = 0
        for point in points:
            dims = point.dimensions
            identity = None
            for metric, value in point.metrics.items():
                aggs = by_metric.get(metric)
                if not aggs:
                    continue
                for agg in aggs:
                    if agg.condition is not None and not agg.condition(dims):
                        continue
                    if identity is None:
                        identity = point.identity or tuple(sorted(dims.items()))
                    accepted += add((agg.uid, agg.key_of(dims)), point.time, agg.interval, value, identity)
            observe(point.time)
        return accepted

    @property
    def index(self) -> StrategyIndex:
        return self._index

    @index.setter
    def index(self, index: StrategyIndex) -> None:
        self._index = index
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

    def close_windows(self, state: PartitionState) -> list[dict[str, Any]]:
        closed = state.windows.close_ready(self.index.methods)
        events: list[dict[str, Any]] = []
        if closed:
            long_values = self._fetch_long(closed)
            long_writes: list[tuple[SeriesId, int, float, int]] = []
            seen = state.agg_seen
            aggs, plans = self.index.aggs, self._history_plan
            for window in closed:
                uid = window.series[0]
                if window.start > seen.get(uid, -1):
                    seen[uid] = window.start
                horizon, long_offsets, ttl = plans[uid]
                self._close_one(state, aggs[uid], horizon, window,
                                long_values.get(window.series) if long_values else None, events)
                if long_offsets:
                    long_writes.append((window.series, window.start, window.value, ttl))
            if long_writes and self.long_history is not None:
                self.long_history.store(long_writes)
        minute = state.windows.watermark // 60
        if minute > state.nodata_scanned:
            state.nodata_scanned = minute
            self._scan_silence(state, events)
        state.events += len(events)
        return events

    def _close_one(self, state: PartitionState, agg: AggSpec, horizon: int, window: ClosedWindow,
                   long_values: dict[int, float] | None, events: list[dict[str, Any]]) -> None:
        """One closed window of an aggregated series, through every item that reads it."""
        t, value, key = window.start, window.value, window.series[1]
        mem = state.series_memory(window.series)
        history = mem.history
        view = HistoryView(history, long_values) if long_values else history
        unit = agg.interval
        seen = round(value, PRECISION) if agg.prerounded else value
        flags = [detector(seen, t, unit, view) for detector in agg.detectors]
        gap = mem.last_closed is not None and t - mem.last_closed > unit
        if mem.items or (gap and agg.watches_nodata) or any(flags):  # else: nothing pends, nothing new
            for item, plan in agg.plans:
                imem = mem.items.get(item.uid) if mem.items else None
                anomalous = [level for level, slot in plan if flags[slot]]
                if imem is None and not anomalous and not (gap and item.no_data_config.get("is_enabled")):
                    continue
                imem = self._close_item(item, mem, imem or ItemMemory(), key, window, anomalous, gap, events)
                mem.settle(item.uid, imem)
            if mem.items:
                state.watch.add(window.series)
        mem.last_closed, mem.last_value = t, value
        history[t] = value
        if len(history) > horizon // unit + 1:  # something fell out of the look-back (or a gap)
            oldest = t - horizon
            for old in [s for s in history if s < oldest]:
                del history[old]
        if agg.watches_nodata:
            state.watch.add(window.series)

    def _close_item(self, item: ItemSpec, mem: SeriesMemory, imem: ItemMemory, key: tuple[Any, ...],
                    window: ClosedWindow, anomalous: list[LevelSpec], gap: bool,
                    events: list[dict[str, Any]]) -> ItemMemory:
        t, value = window.start, window.value
        if gap:
            # data is back after a gap the silence scan may not have seen yet (batch boundaries)
            self._silence(item, mem, imem, key, t - item.interval, events)
        if imem.nodata_open:
            imem.nodata_open = False
            events.append(self._status("recovered", item, self._nodata_level(item), t, value, key,
                                       about_nodata=True))
        fired = self._trigger(imem, item, window, anomalous)
        if fired is not None:
            level, event = fired
            events.append(event)
            if imem.alert_level is None or level < imem.alert_level:
                imem.alert_level = level
            imem.clean = 0
        elif imem.alert_level is not None and self._still_met(imem, item, imem.alert_level, t):
            imem.clean = 0
        elif imem.alert_level is not None:
            rule = self._rule(item, imem.alert_level)
            imem.clean += 1
            if imem.clean >= rule.check_window:
                events.append(self._status(rule.ends_as, item, imem.alert_level, t, value, key,
                                           reason="recovery_config: status_setter close"
                                           if rule.ends_as == "closed" else ""))
                imem.alert_level, imem.clean = None, 0
            elif imem.clean == 1:
                events.append(self._status("recovering", item, imem.alert_level, t, value, key))
        return imem

    def _trigger(self, imem: ItemMemory, item: ItemSpec, window: ClosedWindow,
                 anomalous: list[LevelSpec]) -> tuple[int, dict[str, Any]] | None:
        """Record this window's anomalies (levels most severe first) and fire the N-of-M trigger."""
        t, value = window.start, window.value
        unit = item.interval
        fired = None
        for level in anomalous:
            times = imem.anomalies.setdefault(level.level, [])
            times.append(t)
            if fired is None and count_in_window(times, t, level.check_window, unit) >= level.trigger_count \
                    and in_uptime(t, level.uptime, self.tz):
                fired = level
        for level in item.levels:
            times = imem.anomalies.get(level.level)
            if times:
                kept = prune(times, t, level.check_window, unit)
                if kept:
                    imem.anomalies[level.level] = kept
                else:
                    del imem.anomalies[level.level]
        if fired is None:
            return None
        low = window_start(t, fired.check_window, unit)
        dimensions = dict(zip(item.dimensions, window.series[1], strict=True))
        return fired.level, build_event(
            strategy_id=item.strategy_id, item_id=item.item_id, strategy_name=item.strategy_name,
            bk_biz_id=item.bk_biz_id, level=fired.level, t=t, value=value, dimensions=dimensions,
            anomaly_times=[a for a in imem.anomalies.get(fired.level, []) if low <= a <= t], uid=item.uid,
            interval=unit, metric=item.metric, table_id=item.table_id, points=window.points,
        )

    def _scan_silence(self, state: PartitionState, events: list[dict[str, Any]]) -> None:
        """Series that went silent: no-data events, and alerts that -nodata recovery ends."""
        watermark = state.windows.watermark
        full = state.watch_stale or (watermark // 60) % 60 == 0
        state.watch_stale = False
        aggs = self.index.aggs
        for series in list(state.memory if full else state.watch):
            mem = state.memory.get(series)
            agg = aggs.get(series[0])
            if agg is None or mem is None or mem.last_closed is None:
                state.watch.discard(series)
                continue
            key = series[1]
            for item in agg.items:
                imem = mem.items.get(item.uid) if mem.items else None
                if imem is None:
                    if not item.no_data_config.get("is_enabled"):
                        continue
                    imem = ItemMemory()
                self._silence(item, mem, imem, key, watermark, events)
                mem.settle(item.uid, imem)
            alerting = mem.items is not None and any(m.alert_level is not None or m.nodata_open
                                                     for m in mem.items.values())
            if not alerting and watermark - mem.last_closed > FORGET_AFTER:
                del state.memory[series]  # long gone: keep memory bounded
                state.watch.discard(series)
            elif mem.items or agg.watches_nodata:
                state.watch.add(series)
            else:
                state.watch.discard(series)

    def _silence(self, item: ItemSpec, mem: SeriesMemory, imem: ItemMemory, key: tuple[Any, ...],
                 watermark: int, events: list[dict[str, Any]]) -> None:
        assert mem.last_closed is not None
        missing = missing_windows(mem.last_closed, watermark, item.interval)
        if missing <= 0:
            return
        if imem.alert_level is not None:
            rule = self._rule(item, imem.alert_level)
            close_after = self._no_data_close_windows(item, imem.alert_level)
            if rule.on_nodata and missing >= rule.check_window:
                t = silence_start(mem.last_closed, rule.check_window, item.interval)
                events.append(self._status(rule.ends_as, item, imem.alert_level, t, mem.last_value, key,
                                           reason="no data"))
                imem.alert_level, imem.clean = None, 0
            elif missing >= close_after:
                t = silence_start(mem.last_closed, close_after, item.interval)
                events.append(self._status("closed", item, imem.alert_level, t, mem.last_value, key,
                                           reason="no data"))
                imem.alert_level, imem.clean = None, 0
        nodata = item.no_data_config
        if nodata.get("is_enabled") and not imem.nodata_open and missing >= int(nodata.get("continuous", 5)):
            t = silence_start(mem.last_closed, int(nodata.get("continuous", 5)), item.interval)
            events.append(self._status("no_data", item, self._nodata_level(item), t, 0.0, key,
                                       reason=f"no data for {nodata.get('continuous', 5)} windows"))
            imem.nodata_open = True

    @staticmethod
    def _still_met(mem: ItemMemory, item: ItemSpec, level: int, t: int) -> bool:
        """Does the window ending at t still meet the alert level's N-of-M condition?"""
        for spec in item.levels:
            if spec.level == level:
                times = mem.anomalies.get(level, [])
                return count_in_window(times, t, spec.check_window, item.interval) >= spec.trigger_count
        return False

    @staticmethod
    def _no_data_close_windows(item: ItemSpec, level: int) -> int:
        """An open alert whose series has no data for max(trigger window, 30 min) is closed."""
        window = max((spec.check_window for spec in item.levels if spec.level == level), default=1)
        return max(window, -(-NO_DATA_CLOSE_SECONDS // item.interval))

    @staticmethod
    def _rule(item: ItemSpec, level: int) -> RecoveryRule:
        for spec in item.levels:
            if spec.level == level:
                return RecoveryRule.of(spec.recovery_config)
        return RecoveryRule.of({})

    @staticmethod
    def _nodata_level(item: ItemSpec) -> int:
        return int(item.no_data_config.get("level", 2))

    @staticmethod
    def _status(kind: str, item: ItemSpec, level: int, t: int, value: float, key: tuple[Any, ...],
                reason: str = "", about_nodata: bool = False) -> dict[str, Any]:
        dimensions = dict(zip(item.dimensions, key, strict=True))
        return build_status_event(kind, strategy_id=item.strategy_id, item_id=item.item_id,
                                  strategy_name=item.strategy_name, bk_biz_id=item.bk_biz_id, level=level, t=t,
                                  value=value, dimensions=dimensions, reason=reason, about_nodata=about_nodata)

    def _fetch_long(self, closed: list[ClosedWindow]) -> dict[SeriesId, dict[int, float]]:
        if self.long_history is None:
            return {}
        wanted = []
        for window in closed:
            offsets = self._history_plan[window.series[0]][1]
            if offsets:
                wanted.append((window.series, [window.start - o for o in offsets]))
        return self.long_history.fetch(wanted)
