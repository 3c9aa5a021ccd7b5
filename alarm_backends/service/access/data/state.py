"""Per-partition state of the access stage and its snapshot format.

Everything a partition's future output depends on lives here: open windows,
the watermark, each aggregated series' short history, each item's trigger and
alert state, and the offset of the next message. A snapshot plus the messages
from its offset on reproduce exactly what an uninterrupted run would have
produced.

A series is (aggregation uid, dimension values): its memory holds what the data
says (history, the last closed window) and, per item reading it, what that
item concluded (anomalies still countable, the open alert, no-data). Item
state is sparse: an item with nothing pending on a series has no entry at all,
which is what keeps a million quiet series cheap.
"""
from __future__ import annotations

from typing import Any

import orjson

from alarm_backends.service.access.data.windows import SeriesId, WindowSet, freeze_key

SNAPSHOT_FORMAT = 3


class SeriesMemory:
    """An aggregated series: its closed windows' values (short look-backs), the latest one,
    and the state of the items with something pending on it."""

    __slots__ = ("history", "last_closed", "last_value", "items")

    def __init__(self) -> None:
        self.history: dict[int, float] = {}  # closed window start -> value
        self.last_closed: int | None = None  # start of the latest closed window with data
        self.last_value = 0.0
        self.items: dict[str, ItemMemory] | None = None  # item uid -> state; None when nothing pends

    def settle(self, uid: str, item: ItemMemory) -> None:
        """Keep an item's state, or forget it when it holds nothing."""
        if not item.is_empty:
            if self.items is None:
                self.items = {}
            self.items[uid] = item
        elif self.items is not None and self.items.pop(uid, None) is not None and not self.items:
            self.items = None

    def dump(self, live: dict[str, str]) -> list[Any]:
        items = [[uid, m.dump()] for uid, m in self.items.items() if uid in live] if self.items else []
        return [list(self.history.items()), self.last_closed, self.last_value, items]

    def restore(self, data: list[Any], live: set[str]) -> None:
        history, self.last_closed, self.last_value, items = data
        self.history = dict(history)
        for uid, dumped in items:
            if uid in live:
                item = ItemMemory()
                item.restore(dumped)
                self.settle(uid, item)


class ItemMemory:
    """What one item concluded about one series; absent when there is nothing to remember."""

    __slots__ = ("anomalies", "alert_level", "clean", "nodata_open")

    def __init__(self) -> None:
        self.anomalies: dict[int, list[int]] = {}  # level -> anomalous window starts still countable
        self.alert_level: int | None = None  # the level that fired and has not recovered yet
        self.clean = 0  # consecutive windows since then that did not meet the trigger condition
        self.nodata_open = False  # a no-data event was emitted and data has not come back

    @property
    def is_empty(self) -> bool:
        return (self.alert_level is None and not self.nodata_open and not self.clean
                and not any(self.anomalies.values()))

    def dump(self) -> list[Any]:
        return [list(self.anomalies.items()), self.alert_level, self.clean, self.nodata_open]

    def restore(self, data: list[Any]) -> None:
        anomalies, self.alert_level, self.clean, self.nodata_open = data
        self.anomalies = {int(level): times for level, times in anomalies}


class PartitionState:
    def __init__(self, lateness: int) -> None:
        self.windows = WindowSet(lateness)
        self.memory: dict[SeriesId, SeriesMemory] = {}
        self.offset: int | None = None  # next offset to process
        self.events = 0
        self.nodata_scanned = 0  # watermark minute of the last silence scan
        self.agg_seen: dict[str, int] = {}  # aggregation uid -> start of its latest closed window here
        # series the silence scan checks every event-minute (an item has state on it, or it is
        # read by a no-data item); everything else is scanned once an event-hour to forget the gone
        self.watch: set[SeriesId] = set()
        self.watch_stale = True

    def series_memory(self, series: SeriesId) -> SeriesMemory:
        mem = self.memory.get(series)
        if mem is None:
            mem = self.memory[series] = SeriesMemory()
        return mem

    def drop(self, items: set[str], aggs: set[str]) -> None:
        """Forget the state of items whose config changed and of aggregations no longer read."""
        if aggs:
            self.windows.drop_items(aggs)
            for uid in aggs:
                self.agg_seen.pop(uid, None)
            for series in [s for s in self.memory if s[0] in aggs]:
                del self.memory[series]
            self.watch = {s for s in self.watch if s[0] not in aggs}
        if items:
            for mem in self.memory.values():
                if mem.items:
                    for uid in items & mem.items.keys():
                        del mem.items[uid]
                    if not mem.items:
                        mem.items = None

    def dump(self, fingerprints: dict[str, str]) -> bytes:
        return orjson.dumps({
            "format": SNAPSHOT_FORMAT, "offset": self.offset, "events": self.events,
            "fingerprints": fingerprints, "windows": self.windows.dump(),
            "nodata_scanned": self.nodata_scanned, "agg_seen": self.agg_seen,
            "memory": [[s[0], s[1], m.dump(fingerprints)] for s, m in self.memory.items()],
        })

    @classmethod
    def load(cls, raw: bytes, lateness: int, intervals: dict[str, int],
             fingerprints: dict[str, str]) -> PartitionState:
        """Restore a snapshot. `intervals` maps the live aggregations to their interval: the
        state of others is dropped; items whose config changed since it was taken start afresh."""
        data: dict[str, Any] = orjson.loads(raw)
        if data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown snapshot format {data.get('format')!r}")
        state = cls(lateness)
        state.offset, state.events = data["offset"], data.get("events", 0)
        saved = data.get("fingerprints", {})
        state.windows = WindowSet.load(data["windows"], lateness, intervals)
        state.nodata_scanned = data.get("nodata_scanned", 0)
        state.agg_seen = {uid: t for uid, t in data.get("agg_seen", {}).items() if uid in intervals}
        unchanged = {uid for uid, fp in fingerprints.items() if saved.get(uid) == fp}
        for uid, key, memory in data["memory"]:
            if uid in intervals:
                series = (uid, freeze_key(key))
                state.series_memory(series).restore(memory, unchanged)
                if state.memory[series].items:
                    state.watch.add(series)
        return state

