"""Event-time windows per series, closed on the partition's watermark.

Determinism is what makes crash recovery exact: a point is late when its
window ends at or before the watermark computed from the points *before* it
in the partition (max event time seen minus the allowed lateness), whatever
the batch boundaries. Windows are closed in order of their end, so a window's
detection always sees the earlier windows of its series in the history.
"""
from __future__ import annotations

import heapq
from typing import Any, NamedTuple

AGG_METHODS = ("AVG", "SUM", "MAX", "MIN", "COUNT", "LAST")
SeriesId = tuple[str, tuple[Any, ...]]  # (item uid, values of agg_dimension)


class Acc:
    """Running aggregate of one window of one series (created with its first point)."""

    __slots__ = ("total", "count", "low", "high", "last_time", "last_value", "first", "seen")

    def __init__(self, t: int | None = None, value: float = 0.0, token: Any = None) -> None:
        self.seen: set[Any] | None = None
        if t is None:
            self.total = 0.0
            self.count = 0
            self.low = float("inf")
            self.high = float("-inf")
            self.last_time = -1
            self.last_value = 0.0
            self.first: Any = None  # the first point's token; a set is only built for a second point
        else:
            self.total = self.low = self.high = self.last_value = value
            self.count = 1
            self.last_time = t
            self.first = token

    def is_duplicate(self, token: Any) -> bool:
        """Record token; True when this window already had it."""
        if self.count == 0:
            self.first = token
            return False
        seen = self.seen
        if seen is None:
            if token == self.first:
                return True
            self.seen = {self.first, token}
            return False
        if token in seen:
            return True
        seen.add(token)
        return False

    def add(self, t: int, value: float) -> None:
        self.total += value
        self.count += 1
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        if t >= self.last_time:
            self.last_time, self.last_value = t, value

    def result(self, method: str) -> float:
        if method == "AVG":
            return self.total / self.count
        if method == "SUM":
            return self.total
        if method == "MAX":
            return self.high
        if method == "MIN":
            return self.low
        if method == "COUNT":
            return float(self.count)
        return self.last_value

    def dump(self) -> list[Any]:
        tokens = self.seen if self.seen is not None else ([self.first] if self.count else [])
        return [self.total, self.count, self.low, self.high, self.last_time, self.last_value, list(tokens)]

    @classmethod
    def load(cls, data: list[Any]) -> Acc:
        acc = cls()
        acc.total, acc.count, acc.low, acc.high, acc.last_time, acc.last_value, seen = data
        tokens = [_freeze(s) for s in seen]
        if len(tokens) == 1:
            acc.first = tokens[0]
        elif tokens:
            acc.first, acc.seen = tokens[0], set(tokens)
        return acc


def _freeze(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


class ClosedWindow(NamedTuple):
    series: SeriesId
    start: int
    value: float
    points: int


class WindowSet:
    """The open windows of one partition, with its watermark and counters.

    Windows are kept per aggregation and window start, in buckets of series
    (uid -> start -> key -> Acc): every series of an aggregation shares the
    window boundaries, so closing pops one bucket, not one heap entry per series.
    """

    def __init__(self, lateness: int) -> None:
        self.lateness = lateness
        self.max_time = 0
        self._open: dict[str, dict[int, dict[tuple[Any, ...], Acc]]] = {}
        self._heap: list[tuple[int, int, int, str]] = []  # (end, start, seq, uid), one per bucket
        self._seq = 0
        self.points = 0
        self.late = 0
        self.duplicates = 0

    @property
    def watermark(self) -> int:
        return self.max_time - self.lateness

    def observe(self, t: int) -> None:
        """Advance event time; call after the point at t was added."""
        if t > self.max_time:
            self.max_time = t

    def add(self, series: SeriesId, t: int, interval: int, value: float, identity: Any) -> bool:
        """Add one point; False when it was late or a duplicate (and counted as such)."""
        start = t - t % interval
        if start + interval <= self.max_time - self.lateness:
            self.late += 1
            return False
        uid, key = series
        by_start = self._open.get(uid)
        if by_start is None:
            by_start = self._open[uid] = {}
        bucket = by_start.get(start)
        if bucket is None:
            bucket = by_start[start] = {}
            self._seq += 1
            heapq.heappush(self._heap, (start + interval, start, self._seq, uid))
        acc = bucket.get(key)
        if acc is None:
            bucket[key] = Acc(t, value, (t, identity))
        elif acc.is_duplicate((t, identity)):
            self.duplicates += 1
            return False
        else:
            acc.add(t, value)
        self.points += 1
        return True

    def close_ready(self, methods: dict[str, str]) -> list[ClosedWindow]:
        """Windows whose end the watermark has passed, in order of end; `methods` maps
        aggregation uid to agg_method. Windows of aggregations no longer read are dropped."""
        closed: list[ClosedWindow] = []
        watermark = self.watermark
        heap = self._heap
        while heap and heap[0][0] <= watermark:
            _end, start, _seq, uid = heapq.heappop(heap)
            by_start = self._open.get(uid)
            bucket = by_start.pop(start, None) if by_start else None
            if by_start is not None and not by_start:
                del self._open[uid]
            method = methods.get(uid)
            if not bucket or method is None:
                continue
            if method == "AVG":
                closed.extend([ClosedWindow((uid, key), start, acc.total / acc.count, acc.count)
                               for key, acc in bucket.items()])
            else:
                closed.extend([ClosedWindow((uid, key), start, acc.result(method), acc.count)
                               for key, acc in bucket.items()])
        return closed

    def open_series(self) -> set[SeriesId]:
        return {(uid, key) for uid, by_start in self._open.items() for bucket in by_start.values() for key in bucket}

    def drop_items(self, uids: set[str]) -> None:
        """Forget the open windows of aggregations no longer read."""
        for uid in uids:
            self._open.pop(uid, None)
        self._heap = [entry for entry in self._heap if entry[3] not in uids]
        heapq.heapify(self._heap)

    def dump(self) -> dict[str, Any]:
        return {
            "max_time": self.max_time, "points": self.points, "late": self.late, "duplicates": self.duplicates,
            "open": [[uid, start, [[key, acc.dump()] for key, acc in bucket.items()]]
                     for uid, by_start in self._open.items() for start, bucket in by_start.items()],
        }

    @classmethod
    def load(cls, data: dict[str, Any], lateness: int, intervals: dict[str, int]) -> WindowSet:
        ws = cls(lateness)
        ws.max_time, ws.points, ws.late, ws.duplicates = (data["max_time"], data["points"], data["late"],
                                                          data["duplicates"])
        for uid, start, bucket in data["open"]:
            interval = intervals.get(uid)
            if interval is None:
                continue
            ws._open.setdefault(uid, {})[start] = {freeze_key(key): Acc.load(acc) for key, acc in bucket}
            ws._seq += 1
            ws._heap.append((start + interval, start, ws._seq, uid))
        heapq.heapify(ws._heap)
        return ws


def freeze_key(values: list[Any]) -> tuple[Any, ...]:
    """A series key as read back from a snapshot (JSON arrays) -> the tuple it was."""
    return tuple(_freeze(v) for v in values)
