"""Event-time windows per series, closed on the partition's watermark.

Determinism is what makes crash recovery exact: a point is late when its
window ends at or before the watermark computed from the points *before* it
in the partition (max event time seen minus the allowed lateness), whatever
the batch boundaries. Windows are closed in order of their end, so a window's
detection always sees the earlier windows of its series in the history.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

AGG_METHODS = ("AVG", "SUM", "MAX", "MIN", "COUNT", "LAST")
SeriesId = tuple[str, tuple[Any, ...]]  # (item uid, values of agg_dimension)


class Acc:
    """Running aggregate of one window of one series."""

    __slots__ = ("total", "count", "low", "high", "last_time", "last_value", "first", "seen")

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0
        self.low = float("inf")
        self.high = float("-inf")
        self.last_time = -1
        self.last_value = 0.0
        self.first: Any = None  # the first point's token; a set is only built for a second point
        self.seen: set[Any] | None = None

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


@dataclass(frozen=True, slots=True)
class ClosedWindow:
    series: SeriesId
    start: int
    value: float
    points: int


class WindowSet:
    """The open windows of one partition, with its watermark and counters."""

    def __init__(self, lateness: int) -> None:
        self.lateness = lateness
        self.max_time = 0
        self.open: dict[SeriesId, dict[int, Acc]] = {}
        self._heap: list[tuple[int, int, int, SeriesId]] = []  # (end, start, seq, series)
        self._seq = 0  # tiebreaker: series keys may mix None and str, which do not compare
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
        windows = self.open.get(series)
        if windows is None:
            windows = self.open[series] = {}
        acc = windows.get(start)
        if acc is None:
            acc = windows[start] = Acc()
            self._seq += 1
            heapq.heappush(self._heap, (start + interval, start, self._seq, series))
        if acc.is_duplicate((t, identity)):
            self.duplicates += 1
            return False
        acc.add(t, value)
        self.points += 1
        return True

    def close_ready(self, methods: dict[str, str]) -> list[ClosedWindow]:
        """Windows whose end the watermark has passed, in order of end; `methods` maps
        item uid to agg_method. Windows of items no longer configured are dropped."""
        closed: list[ClosedWindow] = []
        watermark = self.watermark
        heap = self._heap
        while heap and heap[0][0] <= watermark:
            _end, start, _seq, series = heapq.heappop(heap)
            windows = self.open.get(series)
            acc = windows.pop(start, None) if windows else None
            if windows is not None and not windows:
                del self.open[series]
            method = methods.get(series[0])
            if acc is None or method is None or acc.count == 0:
                continue
            closed.append(ClosedWindow(series, start, acc.result(method), acc.count))
        return closed

    def drop_items(self, uids: set[str]) -> None:
        """Forget the open windows of items that changed or were removed."""
        for series in [s for s in self.open if s[0] in uids]:
            del self.open[series]
        self._heap = [entry for entry in self._heap if entry[3][0] not in uids]
        heapq.heapify(self._heap)

    def dump(self) -> dict[str, Any]:
        return {
            "max_time": self.max_time, "points": self.points, "late": self.late, "duplicates": self.duplicates,
            "open": [[s[0], list(s[1]), [[start, acc.dump()] for start, acc in w.items()]]
                     for s, w in self.open.items()],
        }

    @classmethod
    def load(cls, data: dict[str, Any], lateness: int, intervals: dict[str, int]) -> WindowSet:
        ws = cls(lateness)
        ws.max_time, ws.points, ws.late, ws.duplicates = (data["max_time"], data["points"], data["late"],
                                                          data["duplicates"])
        for uid, key, windows in data["open"]:
            interval = intervals.get(uid)
            if interval is None:
                continue
            series: SeriesId = (uid, tuple(key))
            ws.open[series] = {}
            for start, acc in windows:
                ws.open[series][start] = Acc.load(acc)
                ws._seq += 1
                ws._heap.append((start + interval, start, ws._seq, series))
        heapq.heapify(ws._heap)
        return ws
