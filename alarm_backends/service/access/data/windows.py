"""Event-time windows, closed on the partition's watermark, kept column-wise.

Series that are keyed alike (same table, agg_dimension, agg_condition and
interval: a *group*) share their windows: a window of a group is a bucket of
the points that fell into it, each with the slot of its series, and every
aggregation of the group reduces the bucket's column of its metric when the
window closes (columns.py). Adding a point is two list appends; the work per
series happens once per window, in numpy.

Determinism is what makes crash recovery exact: a point is late when its
window ends at or before the watermark computed from the points *before* it
in the partition (max event time seen minus the allowed lateness), whatever
the batch boundaries. Windows are closed in order of their end, so a window's
detection always sees the earlier windows of its series in the history.

A duplicate is a point of a series at a time already seen in the window with
the same identity (its dimensions, or the identity its parser gave it); it
counts once per aggregation it would have fed, and is not added. When two such
points carry different metrics, the second one's new metrics are still added.
"""
from __future__ import annotations

import heapq
from typing import Any

from alarm_backends.service.access.data.parse import Point

def identity_of(point: Point) -> Any:
    return point.identity if point.identity is not None else tuple(sorted(point.dimensions.items()))


class Bucket:
    """One open window of one group: its points, in arrival order, with their series slots."""

    __slots__ = ("slots", "points", "first")

    def __init__(self) -> None:
        self.slots: list[int] = []
        self.points: list[Point] = []
        # (slot, time) -> index of its first point, or the indexes of all points sharing it
        self.first: dict[tuple[int, int], int | list[int]] = {}

    def add(self, slot: int, point: Point) -> None:
        """File a point whose (slot, time) is new here (the processor inlines this)."""
        self.first[(slot, point.time)] = len(self.points)
        self.slots.append(slot)
        self.points.append(point)

    def add_colliding(self, slot: int, point: Point, metrics: frozenset[str]) -> Point | None:
        """A point whose (slot, time) is already here: the part of it that is new (its metrics
        of `metrics` that no earlier point with its identity carried), or None."""
        token = (slot, point.time)
        seen = self.first[token]
        indexes = [seen] if isinstance(seen, int) else seen
        identity = identity_of(point)
        taken = {name for i in indexes if identity_of(self.points[i]) == identity
                 for name in self.points[i].metrics}
        fresh = {name: value for name, value in point.metrics.items() if name in metrics and name not in taken}
        if not fresh:
            return None
        part = point._replace(metrics=fresh) if len(fresh) != len(point.metrics) else point
        self.first[token] = [*indexes, len(self.points)]
        self.slots.append(slot)
        self.points.append(part)
        return part

    def dump(self) -> list[Any]:
        return [[slot, p.time, p.dimensions, p.metrics, p.identity]
                for slot, p in zip(self.slots, self.points, strict=True)]

    @classmethod
    def load(cls, rows: list[Any]) -> Bucket:
        bucket = cls()
        first = bucket.first
        for slot, t, dimensions, metrics, identity in rows:
            token = (slot, t)
            index = len(bucket.points)
            seen = first.get(token)
            first[token] = index if seen is None else [*([seen] if isinstance(seen, int) else seen), index]
            bucket.slots.append(slot)
            bucket.points.append(Point(t, dimensions, metrics, _freeze(identity)))
        return bucket


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def freeze_key(values: list[Any]) -> tuple[Any, ...]:
    """A series key as read back from a snapshot (JSON arrays) -> the tuple it was."""
    return tuple(_freeze(v) for v in values)


class WindowSet:
    """The open windows of one partition (group uid -> window start -> Bucket), its watermark
    and counters. Closing pops one heap entry per bucket, not one per series."""

    def __init__(self, lateness: int) -> None:
        self.lateness = lateness
        self.max_time = 0
        self.open: dict[str, dict[int, Bucket]] = {}
        self._heap: list[tuple[int, int, int, str]] = []  # (end, start, seq, group uid)
        self._seq = 0
        self.points = 0  # (point, group) filings
        self.late = 0
        self.duplicates = 0

    @property
    def watermark(self) -> int:
        return self.max_time - self.lateness

    def bucket(self, group: str, start: int, interval: int) -> Bucket:
        by_start = self.open.get(group)
        if by_start is None:
            by_start = self.open[group] = {}
        bucket = by_start.get(start)
        if bucket is None:
            bucket = by_start[start] = Bucket()
            self._seq += 1
            heapq.heappush(self._heap, (start + interval, start, self._seq, group))
        return bucket

    def close_ready(self) -> list[tuple[str, int, Bucket]]:
        """(group uid, window start, bucket) of the windows the watermark passed, in order of end."""
        closed = []
        watermark = self.watermark
        heap = self._heap
        while heap and heap[0][0] <= watermark:
            _end, start, _seq, group = heapq.heappop(heap)
            by_start = self.open.get(group)
            bucket = by_start.pop(start, None) if by_start else None
            if by_start is not None and not by_start:
                del self.open[group]
            if bucket is not None and bucket.points:
                closed.append((group, start, bucket))
        return closed

    def open_slots(self, group: str) -> set[int]:
        return {slot for bucket in self.open.get(group, {}).values() for slot in bucket.slots}

    def drop_groups(self, groups: set[str]) -> None:
        for group in groups:
            self.open.pop(group, None)
        self._heap = [entry for entry in self._heap if entry[3] not in groups]
        heapq.heapify(self._heap)

    def dump(self) -> dict[str, Any]:
        return {
            "max_time": self.max_time, "points": self.points, "late": self.late, "duplicates": self.duplicates,
            "open": [[group, start, bucket.dump()] for group, by_start in self.open.items()
                     for start, bucket in by_start.items()],
        }

    @classmethod
    def load(cls, data: dict[str, Any], lateness: int, intervals: dict[str, int]) -> WindowSet:
        """`intervals` maps the live groups to their interval; windows of others are dropped."""
        ws = cls(lateness)
        ws.max_time, ws.points, ws.late, ws.duplicates = (data["max_time"], data["points"], data["late"],
                                                          data["duplicates"])
        for group, start, rows in data["open"]:
            interval = intervals.get(group)
            if interval is not None:
                ws.open.setdefault(group, {})[start] = Bucket.load(rows)
                ws._seq += 1
                ws._heap.append((start + interval, start, ws._seq, group))
        heapq.heapify(ws._heap)
        return ws
