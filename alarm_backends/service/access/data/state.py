"""Per-partition state of the access stage and its snapshot format.

Everything a partition's future output depends on lives here: open windows,
the watermark, each series' short history and anomaly history, and the offset
of the next message. A snapshot plus the messages from its offset on
reproduce exactly what an uninterrupted run would have produced.
"""
from __future__ import annotations

from typing import Any

import orjson

from alarm_backends.service.access.data.windows import SeriesId, WindowSet

SNAPSHOT_FORMAT = 2


class SeriesMemory:
    __slots__ = ("history", "anomalies", "last_closed", "last_value", "alert_level", "clean", "nodata_open")

    def __init__(self) -> None:
        self.history: dict[int, float] = {}  # closed window start -> value (short look-backs)
        self.anomalies: dict[int, list[int]] = {}  # level -> anomalous window starts still countable
        self.last_closed: int | None = None  # start of the latest closed window with data
        self.last_value = 0.0
        self.alert_level: int | None = None  # the level that fired and has not recovered yet
        self.clean = 0  # consecutive windows since then that did not meet the trigger condition
        self.nodata_open = False  # a no-data event was emitted and data has not come back

    def dump(self) -> list[Any]:
        return [{str(k): v for k, v in self.history.items()}, {str(k): v for k, v in self.anomalies.items()},
                self.last_closed, self.last_value, self.alert_level, self.clean, self.nodata_open]

    def restore(self, data: list[Any]) -> None:
        history, anomalies, self.last_closed, self.last_value, self.alert_level, self.clean, self.nodata_open = data
        self.history = {int(k): v for k, v in history.items()}
        self.anomalies = {int(k): v for k, v in anomalies.items()}


class PartitionState:
    def __init__(self, lateness: int) -> None:
        self.windows = WindowSet(lateness)
        self.memory: dict[SeriesId, SeriesMemory] = {}
        self.offset: int | None = None  # next offset to process
        self.events = 0
        self.nodata_scanned = 0  # watermark minute of the last silence scan
        self.item_seen: dict[str, int] = {}  # item uid -> start of its latest closed window here
        # series the silence scan checks every event-minute (open alert, open no-data, or a
        # no-data-enabled item); everything else is scanned once an event-hour to forget the gone
        self.watch: set[SeriesId] = set()
        self.watch_stale = True

    def series_memory(self, series: SeriesId) -> SeriesMemory:
        mem = self.memory.get(series)
        if mem is None:
            mem = self.memory[series] = SeriesMemory()
        return mem

    def drop_items(self, uids: set[str]) -> None:
        if not uids:
            return
        self.windows.drop_items(uids)
        for uid in uids:
            self.item_seen.pop(uid, None)
        for series in [s for s in self.memory if s[0] in uids]:
            del self.memory[series]

    def dump(self, fingerprints: dict[str, str]) -> bytes:
        return orjson.dumps({
            "format": SNAPSHOT_FORMAT, "offset": self.offset, "events": self.events,
            "fingerprints": fingerprints, "windows": self.windows.dump(),
            "nodata_scanned": self.nodata_scanned, "item_seen": self.item_seen,
            "memory": [[s[0], list(s[1]), m.dump()] for s, m in self.memory.items()],
        }, option=orjson.OPT_NON_STR_KEYS)

    @classmethod
    def load(cls, raw: bytes, lateness: int, intervals: dict[str, int],
             fingerprints: dict[str, str]) -> PartitionState:
        """Restore a snapshot; items whose config changed since it was taken start afresh."""
        data: dict[str, Any] = orjson.loads(raw)
        if data.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"unknown snapshot format {data.get('format')!r}")
        state = cls(lateness)
        state.offset, state.events = data["offset"], data.get("events", 0)
        saved = data.get("fingerprints", {})
        live = {uid: iv for uid, iv in intervals.items() if saved.get(uid) == fingerprints.get(uid)}
        state.windows = WindowSet.load(data["windows"], lateness, live)
        state.nodata_scanned = data.get("nodata_scanned", 0)
        state.item_seen = {uid: t for uid, t in data.get("item_seen", {}).items() if uid in live}
        for uid, key, memory in data["memory"]:
            if uid in live:
                state.series_memory((uid, tuple(key))).restore(memory)
        return state
