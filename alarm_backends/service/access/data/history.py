"""History for ring-ratio and year-round algorithms.

Short look-backs (up to `memory_seconds`, 3 hours by default) live in the
series' memory, which is part of the partition snapshot. Longer ones (days,
a week) live in Redis, one hash per series (`bkm:hist:<item>:<series md5>`,
field = window start, value = window value) with a TTL of the longest
look-back plus a day; they are read and written with one pipeline per batch of
closed windows, never per message.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import numpy as np
import orjson
import redis

SeriesId = tuple[str, tuple[Any, ...]]
T = TypeVar("T")
Guard = Callable[[Callable[[], T]], T]


def unguarded(call: Callable[[], T]) -> T:
    return call()


class RowHistory:
    """What a scalar detector sees for one series of an aggregation's column-wise history."""

    __slots__ = ("short", "slot", "long")

    def __init__(self, short: Mapping[int, np.ndarray], slot: int, long: Mapping[int, float] | None) -> None:
        self.short, self.slot, self.long = short, slot, long

    def get(self, timestamp: int) -> float | None:
        values = self.short.get(timestamp)
        if values is not None:
            value = values[self.slot]
            if value == value:  # not NaN
                return float(value)
        return self.long.get(timestamp) if self.long else None


class ColumnHistory:
    """What a batch detector sees: per series of a closed column, the value at a window start
    (NaN where there is none), from memory or else from the Redis look-backs."""

    __slots__ = ("short", "slots", "long")

    def __init__(self, short: Mapping[int, np.ndarray], slots: np.ndarray,
                 long: list[Mapping[int, float]] | None) -> None:
        self.short, self.slots, self.long = short, slots, long

    def get(self, timestamp: int) -> np.ndarray | None:
        values = self.short.get(timestamp)
        column = values[self.slots] if values is not None else None
        if self.long:
            far = np.fromiter((found.get(timestamp, np.nan) for found in self.long), np.float64, len(self.long))
            column = far if column is None else np.where(np.isnan(column), far, column)
        return column


def series_key(series: SeriesId) -> str:
    uid, values = series
    digest = hashlib.md5(orjson.dumps(list(values))).hexdigest()
    return f"bkm:hist:{uid}:{digest}"


class LongHistory:
    """`guard` runs each Redis round trip: the runner's retries it in place through a Redis outage,
    since a window being closed cannot be put down half-way (both calls are idempotent)."""

    def __init__(self, client: redis.Redis, guard: Guard = unguarded) -> None:
        self.client = client
        self.guard = guard

    def fetch(self, wanted: Iterable[tuple[SeriesId, list[int]]]) -> dict[SeriesId, dict[int, float]]:
        wanted = list(wanted)
        if not wanted:
            return {}

        def read() -> list[Any]:
            pipe = self.client.pipeline(transaction=False)
            for series, stamps in wanted:
                pipe.hmget(series_key(series), [str(s) for s in stamps])
            return pipe.execute()

        found: dict[SeriesId, dict[int, float]] = {}
        for (series, stamps), values in zip(wanted, self.guard(read), strict=True):
            found[series] = {s: float(v) for s, v in zip(stamps, values, strict=True) if v is not None}
        return found

    def store(self, writes: Iterable[tuple[SeriesId, int, float, int]]) -> None:
        """(series, window start, value, ttl seconds); idempotent, so replays are harmless."""
        writes = list(writes)
        if not writes:
            return

        def write() -> None:
            pipe = self.client.pipeline(transaction=False)
            for series, start, value, ttl in writes:
                key = series_key(series)
                pipe.hset(key, str(start), repr(value))
                pipe.expire(key, ttl)
            pipe.execute()

        self.guard(write)
