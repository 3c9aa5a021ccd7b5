"""Per-partition state of the access stage and its snapshot format.

Everything a partition's future output depends on lives here: open windows,
the watermark, each aggregated series' short history, each item's trigger and
alert state, and the offset of the next message. A snapshot plus the messages
from its offset on reproduce exactly what an uninterrupted run would have
produced.

State is column-wise. A group's series (same table, dimensions, condition,
interval) get a slot each in its SeriesTable; each aggregation keeps arrays
indexed by slot: the latest closed window and its value, and the values of the
windows its detectors look back at. Item state (anomalies still countable, an
open alert, no-data) is sparse: an item with nothing pending on a series has no
entry at all, which is what keeps a million quiet series cheap.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from alarm_backends.service.access.data.windows import WindowSet, freeze_key

if TYPE_CHECKING:
    from alarm_backends.service.access.data.index import StrategyIndex
    from alarm_backends.service.trigger.event import SeriesEvents

SNAPSHOT_FORMAT = 5  # 5: the origin (cluster and topic incarnation) the offset belongs to
READABLE_FORMATS = (4, 5)  # 4 has no origin: such a snapshot is checked against the watermarks only
NEVER = np.iinfo(np.int64).min  # last_closed of a series with no closed window


@dataclass(frozen=True)
class Origin:
    """The cluster and the incarnation of the topic an offset belongs to.

    An offset means nothing on another cluster, or on a topic deleted and created again
    under the same name (an in-memory broker restarted does both): resuming there at a
    remembered offset skips data silently. The topic id (KIP-516, a UUID per creation) is
    what tells two incarnations apart on Kafka 2.8+ and on the embedded Tansu broker, whose
    cluster id is the same for every run ("tansu_cluster"); None where the broker gives
    none, and then only the watermarks can vouch for the offset."""

    cluster_id: str | None
    topic_id: str | None

    def dump(self) -> list[str | None]:
        return [self.cluster_id, self.topic_id]

    @classmethod
    def load(cls, data: Any) -> Origin:
        if not (isinstance(data, list) and len(data) == 2
                and all(part is None or isinstance(part, str) for part in data)):
            raise ValueError(f"snapshot origin must be [cluster id, topic id] (strings or null), got {data!r}")
        return cls(data[0], data[1])


def stale_snapshot(offset: int, saved: Origin | None, live: Origin, low: int, high: int) -> str | None:
    """Why a snapshot at `offset` cannot be resumed on the partition as it is now (None: it can).

    Known parts of the two origins must agree; then the offset must lie in [low, high]: past
    the end means the messages it counted are not there (resuming would skip whatever arrives
    until the partition grows past it), before the start means they are gone."""
    if saved is not None:
        if saved.cluster_id and live.cluster_id and saved.cluster_id != live.cluster_id:
            return f"it was taken on cluster {saved.cluster_id!r}, the broker is now cluster {live.cluster_id!r}"
        if saved.topic_id and live.topic_id and saved.topic_id != live.topic_id:
            return (f"the topic was created again since it was taken (topic id {saved.topic_id}, "
                    f"now {live.topic_id})")
    if not low <= offset <= high:
        return "its offset is outside the partition's watermarks"
    return None


class SeriesTable:
    """The series of one group: dimension values <-> slot. Slots of forgotten series are reused."""

    __slots__ = ("keys", "slot_of", "free")

    def __init__(self) -> None:
        self.keys: list[tuple[Any, ...] | None] = []
        self.slot_of: dict[tuple[Any, ...], int] = {}
        self.free: list[int] = []

    def slot(self, key: tuple[Any, ...]) -> int:
        slot = self.slot_of.get(key)
        if slot is None:
            if self.free:
                slot = self.free.pop()
                self.keys[slot] = key
            else:
                slot = len(self.keys)
                self.keys.append(key)
            self.slot_of[key] = slot
        return slot

    def release(self, slots: Iterable[int]) -> None:
        for slot in slots:
            key = self.keys[slot]
            if key is not None:
                del self.slot_of[key]
                self.keys[slot] = None
                self.free.append(slot)

    def dump(self) -> list[Any]:
        return self.keys

    @classmethod
    def load(cls, keys: list[Any]) -> SeriesTable:
        table = cls()
        for slot, key in enumerate(keys):
            if key is None:
                table.keys.append(None)
                table.free.append(slot)
            else:
                frozen = freeze_key(key)
                table.keys.append(frozen)
                table.slot_of[frozen] = slot
        table.free.reverse()
        return table


class ItemMemory:
    """What one item concluded about one series; absent when there is nothing to remember."""

    __slots__ = ("anomalies", "alert_level", "clean", "nodata_open", "events")

    def __init__(self) -> None:
        self.anomalies: dict[int, list[int]] = {}  # level -> anomalous window starts still countable
        self.alert_level: int | None = None  # the level that fired and has not recovered yet
        self.clean = 0  # consecutive windows since then that did not meet the trigger condition
        self.nodata_open = False  # a no-data event was emitted and data has not come back
        self.events: SeriesEvents | None = None  # the series' event fields, made at its first event (not saved)

    @property
    def is_empty(self) -> bool:
        return (self.alert_level is None and not self.nodata_open and not self.clean
                and not any(self.anomalies.values()))

    @property
    def is_alerting(self) -> bool:
        return self.alert_level is not None or self.nodata_open

    def dump(self) -> list[Any]:
        return [list(self.anomalies.items()), self.alert_level, self.clean, self.nodata_open]

    @classmethod
    def load(cls, data: list[Any]) -> ItemMemory:
        item = cls()
        anomalies, item.alert_level, item.clean, item.nodata_open = data
        item.anomalies = {int(level): times for level, times in anomalies}
        return item


class AggMemory:
    """One aggregation's closed windows, by series slot."""

    __slots__ = ("group", "last_closed", "last_value", "history", "items")

    def __init__(self, group: str, size: int = 0) -> None:
        self.group = group  # whose SeriesTable the slots index
        self.last_closed = np.full(size, NEVER, dtype=np.int64)  # start of the latest closed window
        self.last_value = np.zeros(size)
        self.history: dict[int, np.ndarray] = {}  # window start -> value per slot, NaN = none
        self.items: dict[int, dict[str, ItemMemory]] = {}  # slot -> item uid -> what is pending

    def ensure(self, size: int) -> None:
        """Room for `size` slots (grown by doubling, so growth is amortised)."""
        have = len(self.last_closed)
        if size <= have:
            return
        grown = max(size, 2 * have, 64)
        self.last_closed = np.concatenate([self.last_closed, np.full(grown - have, NEVER, dtype=np.int64)])
        self.last_value = np.concatenate([self.last_value, np.zeros(grown - have)])
        for start, values in self.history.items():
            self.history[start] = np.concatenate([values, np.full(grown - len(values), np.nan)])

    def settle(self, slot: int, uid: str, item: ItemMemory) -> None:
        """Keep an item's state, or forget it when it holds nothing."""
        pending = self.items.get(slot)
        if not item.is_empty:
            if pending is None:
                pending = self.items[slot] = {}
            pending[uid] = item
        elif pending is not None and pending.pop(uid, None) is not None and not pending:
            del self.items[slot]

    def forget(self, slots: np.ndarray) -> None:
        self.last_closed[slots] = NEVER
        self.last_value[slots] = 0.0
        for values in self.history.values():
            values[slots] = np.nan
        for slot in slots.tolist():
            self.items.pop(slot, None)

    def dump(self, used: int, live: dict[str, str]) -> dict[str, Any]:
        return {
            "last_closed": self.last_closed[:used], "last_value": self.last_value[:used],
            "history": [[start, values[:used]] for start, values in self.history.items()],
            "items": [[slot, [[uid, m.dump()] for uid, m in pending.items() if uid in live]]
                      for slot, pending in self.items.items()],
        }

    @classmethod
    def load(cls, group: str, data: dict[str, Any], live: set[str]) -> AggMemory:
        mem = cls(group)
        mem.last_closed = np.array(data["last_closed"], dtype=np.int64)
        mem.last_value = np.array(data["last_value"], dtype=np.float64)
        mem.history = {start: np.array(values, dtype=np.float64) for start, values in data["history"]}
        for slot, pending in data["items"]:
            for uid, dumped in pending:
                if uid in live:
                    mem.settle(slot, uid, ItemMemory.load(dumped))
        return mem


class PartitionState:
    def __init__(self, lateness: int) -> None:
        self.windows = WindowSet(lateness)
        self.tables: dict[str, SeriesTable] = {}  # group uid -> its series
        self.memory: dict[str, AggMemory] = {}  # aggregation uid -> its closed windows
        self.offset: int | None = None  # next offset to process
        self.events = 0
        self.nodata_scanned = 0  # watermark minute of the last silence scan
        self.agg_seen: dict[str, int] = {}  # aggregation uid -> start of its latest closed window here
        self.origin: Origin | None = None  # where `offset` belongs; None: unknown (a format 4 snapshot)
        # Series whose item state was rebuilt from open alerts (access/rebuild.py) and not seen here since:
        # aggregation uid -> slot -> (window of the alert's latest event, its value). Their series may
        # live on another partition: see AccessProcessor._settle_seeds.
        self.seeds: dict[str, dict[int, tuple[int, float]]] = {}
        self.seeded_since: int | None = None  # the watermark when the seeds were first scanned

    def table(self, group: str) -> SeriesTable:
        table = self.tables.get(group)
        if table is None:
            table = self.tables[group] = SeriesTable()
        return table

    def agg_memory(self, uid: str, group: str, size: int) -> AggMemory:
        mem = self.memory.get(uid)
        if mem is None:
            mem = self.memory[uid] = AggMemory(group, size)
        else:
            mem.ensure(size)
        return mem

    def series_counts(self, index: StrategyIndex) -> tuple[int, int]:
        """(aggregated series, item series) this partition holds: live series x what reads them."""
        aggregated = items = 0
        for uid, table in self.tables.items():
            group = index.groups.get(uid)
            if group is not None:
                live = len(table.slot_of)
                aggregated += live * len(group.aggs)
                items += live * sum(len(agg.items) for agg in group.aggs)
        return aggregated, items

    def drop(self, items: set[str], aggs: set[str], groups: set[str]) -> None:
        """Forget the state of items whose config changed, of aggregations no longer read and of
        groups no longer read."""
        if groups:
            self.windows.drop_groups(groups)
            for uid in groups:
                self.tables.pop(uid, None)
        for uid in aggs:
            self.agg_seen.pop(uid, None)
            self.memory.pop(uid, None)
            self.seeds.pop(uid, None)
        if items:
            for mem in self.memory.values():
                for slot in list(mem.items):
                    pending = mem.items[slot]
                    for uid in items & pending.keys():
                        del pending[uid]
                    if not pending:
                        del mem.items[slot]

    def dump(self, fingerprints: dict[str, str]) -> bytes:
        used = {uid: len(table.keys) for uid, table in self.tables.items()}
        return orjson.dumps({
            "format": SNAPSHOT_FORMAT, "offset": self.offset, "events": self.events,
            "origin": self.origin.dump() if self.origin is not None else None,
            "fingerprints": fingerprints, "windows": self.windows.dump(),
            "nodata_scanned": self.nodata_scanned, "agg_seen": self.agg_seen,
            "seeds": [[uid, [[slot, t, v] for slot, (t, v) in by_slot.items()]] for uid, by_slot in self.seeds.items()],
            "seeded_since": self.seeded_since,
            "tables": {uid: table.dump() for uid, table in self.tables.items()},
            "memory": {uid: mem.dump(used.get(mem.group, 0), fingerprints) for uid, mem in self.memory.items()},
        }, option=orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def load(cls, raw: bytes, lateness: int, index: StrategyIndex) -> PartitionState:
        """Restore a snapshot. State of groups and aggregations the index no longer has is
        dropped; items whose config changed since it was taken start afresh."""
        data: dict[str, Any] = orjson.loads(raw)
        if data.get("format") not in READABLE_FORMATS:
            raise ValueError(f"unknown snapshot format {data.get('format')!r}")
        state = cls(lateness)
        origin = data.get("origin")
        state.origin = Origin.load(origin) if origin is not None else None
        state.offset, state.events = data["offset"], data.get("events", 0)
        saved = data.get("fingerprints", {})
        intervals = {uid: group.interval for uid, group in index.groups.items()}
        state.windows = WindowSet.load(data["windows"], lateness, intervals)
        state.nodata_scanned = data.get("nodata_scanned", 0)
        state.agg_seen = {uid: t for uid, t in data.get("agg_seen", {}).items() if uid in index.aggs}
        state.seeds = {uid: {slot: (t, v) for slot, t, v in by_slot}
                       for uid, by_slot in data.get("seeds", []) if uid in index.aggs}
        state.seeded_since = data.get("seeded_since")
        state.tables = {uid: SeriesTable.load(keys) for uid, keys in data["tables"].items() if uid in intervals}
        unchanged = {uid for uid, fp in index.fingerprints.items() if saved.get(uid) == fp}
        for uid, dumped in data["memory"].items():
            agg = index.aggs.get(uid)
            if agg is not None and agg.group_uid in state.tables:
                state.memory[uid] = AggMemory.load(agg.group_uid, dumped, unchanged)
        return state
