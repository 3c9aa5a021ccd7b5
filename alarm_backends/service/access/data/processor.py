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
from alarm_backends.service.access.data.index import ItemSpec, StrategyIndex
from alarm_backends.service.access.data.parse import Point, parse_metric_message
from alarm_backends.service.access.data.state import PartitionState, SeriesMemory
from alarm_backends.service.access.data.windows import ClosedWindow
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
        """Add one message's points; raises InvalidMessage (nothing is added then)."""
        points = self.parser(raw)
        by_metric = self.index.metrics_for_topic(topic)
        add = state.windows.add
        observe = state.windows.observe
        accepted = 0
        for point in points:
            dims = point.dimensions
            identity = None
            for metric, value in point.metrics.items():
                items = by_metric.get(metric)
                if not items:
                    continue
                for item in items:
                    if item.condition is not None and not item.condition(dims):
                        continue
                    if identity is None:
                        identity = point.identity or tuple(sorted(dims.items()))
                    accepted += add((item.uid, item.key_of(dims)), point.time, item.interval, value, identity)
            observe(point.time)
        return accepted

    @property
    def index(self) -> StrategyIndex:
        return self._index

    @index.setter
    def index(self, index: StrategyIndex) -> None:
        self._index = index
        # per item: (memory horizon in seconds, look-backs read from Redis, their TTL)
        self._history_plan: dict[str, tuple[int, tuple[int, ...], int]] = {}
        for uid, item in index.items.items():
            short = [o for o in item.history_offsets if o <= self.memory_seconds]
            long = tuple(o for o in item.history_offsets if o > self.memory_seconds)
            self._history_plan[uid] = (max(short, default=0), long, max(long, default=0) + DAY)
        self._watched_items = {uid for uid, item in index.items.items() if item.no_data_config.get("is_enabled")}

    def close_windows(self, state: PartitionState) -> list[dict[str, Any]]:
        closed = state.windows.close_ready(self.index.methods)
        events: list[dict[str, Any]] = []
        if closed:
            long_values = self._fetch_long(closed)
            long_writes: list[tuple[SeriesId, int, float, int]] = []
            seen = state.item_seen
            items, plans = self.index.items, self._history_plan
            for window in closed:
                uid = window.series[0]
                item = items[uid]
                if window.start > seen.get(uid, -1):
                    seen[uid] = window.start
                self._close_one(state, item, window, long_values.get(window.series) if long_values else None, events)
                _horizon, long_offsets, ttl = plans[uid]
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

    def _close_one(self, state: PartitionState, item: ItemSpec, window: ClosedWindow,
                   long_values: dict[int, float] | None, events: list[dict[str, Any]]) -> None:
        t, value = window.start, window.value
        mem = state.series_memory(window.series)
        series = window.series
        if mem.last_closed is not None and t - mem.last_closed > item.interval:
            # data is back after a gap the silence scan may not have seen yet (batch boundaries)
            self._silence(item, mem, series, t - item.interval, events)
        if mem.nodata_open:
            mem.nodata_open = False
            events.append(self._status("recovered", item, self._nodata_level(item), t, value, series,
                                       about_nodata=True))
        fired = self._detect_and_trigger(mem, item, window, long_values)
        if fired is not None:
            level, event = fired
            events.append(event)
            if mem.alert_level is None or level < mem.alert_level:
                mem.alert_level = level
            mem.clean = 0
        elif mem.alert_level is not None and self._still_met(mem, item, mem.alert_level, t):
            mem.clean = 0
        elif mem.alert_level is not None:
            rule = self._rule(item, mem.alert_level)
            mem.clean += 1
            if mem.clean >= rule.check_window:
                events.append(self._status(rule.ends_as, item, mem.alert_level, t, value, series,
                                           reason="recovery_config: status_setter close"
                                           if rule.ends_as == "closed" else ""))
                mem.alert_level, mem.clean = None, 0
            elif mem.clean == 1:
                events.append(self._status("recovering", item, mem.alert_level, t, value, series))
        mem.last_closed, mem.last_value = t, value
        if mem.alert_level is not None or mem.nodata_open or item.uid in self._watched_items:
            state.watch.add(window.series)
        else:
            state.watch.discard(window.series)

    def _detect_and_trigger(self, mem: SeriesMemory, item: ItemSpec, window: ClosedWindow,
                            long_values: dict[int, float] | None) -> tuple[int, dict[str, Any]] | None:
        t, value = window.start, window.value
        view = HistoryView(mem.history, long_values) if long_values else mem.history
        unit = item.interval
        fired = None
        for level in item.levels:  # most severe first
            if not level.detector(value, t, unit, view):
                continue
            times = mem.anomalies.setdefault(level.level, [])
            times.append(t)
            if fired is None and count_in_window(times, t, level.check_window, unit) >= level.trigger_count \
                    and in_uptime(t, level.uptime, self.tz):
                fired = level
        for level in item.levels:
            times = mem.anomalies.get(level.level)
            if times:
                mem.anomalies[level.level] = prune(times, t, level.check_window, unit)
        history = mem.history
        history[t] = value
        horizon = self._history_plan[item.uid][0]
        if len(history) > horizon // unit + 1:  # something fell out of the look-back (or a gap)
            oldest = t - horizon
            for old in [s for s in history if s < oldest]:
                del history[old]
        if fired is None:
            return None
        low = window_start(t, fired.check_window, unit)
        dimensions = dict(zip(item.dimensions, window.series[1], strict=True))
        return fired.level, build_event(
            strategy_id=item.strategy_id, item_id=item.item_id, strategy_name=item.strategy_name,
            bk_biz_id=item.bk_biz_id, level=fired.level, t=t, value=value, dimensions=dimensions,
            anomaly_times=[a for a in mem.anomalies.get(fired.level, []) if low <= a <= t], uid=item.uid,
            interval=unit, metric=item.metric, table_id=item.table_id, points=window.points,
        )

    def _scan_silence(self, state: PartitionState, events: list[dict[str, Any]]) -> None:
        """Series that went silent: no-data events, and alerts that -nodata recovery ends."""
        watermark = state.windows.watermark
        full = state.watch_stale or (watermark // 60) % 60 == 0
        state.watch_stale = False
        for series in list(state.memory if full else state.watch):
            mem = state.memory.get(series)
            item = self.index.items.get(series[0])
            if item is None or mem is None or mem.last_closed is None:
                state.watch.discard(series)
                continue
            self._silence(item, mem, series, watermark, events)
            if mem.alert_level is None and not mem.nodata_open and watermark - mem.last_closed > FORGET_AFTER:
                del state.memory[series]  # long gone: keep memory bounded
                state.watch.discard(series)
            elif full and (mem.alert_level is not None or mem.nodata_open or item.uid in self._watched_items):
                state.watch.add(series)

    def _silence(self, item: ItemSpec, mem: SeriesMemory, series: SeriesId, watermark: int,
                 events: list[dict[str, Any]]) -> None:
        assert mem.last_closed is not None
        missing = missing_windows(mem.last_closed, watermark, item.interval)
        if missing <= 0:
            return
        if mem.alert_level is not None:
            rule = self._rule(item, mem.alert_level)
            close_after = self._no_data_close_windows(item, mem.alert_level)
            if rule.on_nodata and missing >= rule.check_window:
                t = silence_start(mem.last_closed, rule.check_window, item.interval)
                events.append(self._status(rule.ends_as, item, mem.alert_level, t, mem.last_value, series,
                                           reason="no data"))
                mem.alert_level, mem.clean = None, 0
            elif missing >= close_after:
                t = silence_start(mem.last_closed, close_after, item.interval)
                events.append(self._status("closed", item, mem.alert_level, t, mem.last_value, series,
                                           reason="no data"))
                mem.alert_level, mem.clean = None, 0
        nodata = item.no_data_config
        if nodata.get("is_enabled") and not mem.nodata_open and missing >= int(nodata.get("continuous", 5)):
            t = silence_start(mem.last_closed, int(nodata.get("continuous", 5)), item.interval)
            events.append(self._status("no_data", item, self._nodata_level(item), t, 0.0, series,
                                       reason=f"no data for {nodata.get('continuous', 5)} windows"))
            mem.nodata_open = True

    @staticmethod
    def _still_met(mem: SeriesMemory, item: ItemSpec, level: int, t: int) -> bool:
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
    def _status(kind: str, item: ItemSpec, level: int, t: int, value: float, series: SeriesId,
                reason: str = "", about_nodata: bool = False) -> dict[str, Any]:
        dimensions = dict(zip(item.dimensions, series[1], strict=True))
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
