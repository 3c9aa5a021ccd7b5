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
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import redis

SeriesId = tuple[str, tuple[Any, ...]]


class HistoryView:
    """What an algorithm sees: get(window start) -> value or None."""

    __slots__ = ("short", "long")

    def __init__(self, short: Mapping[int, float], long: Mapping[int, float] | None = None) -> None:
        self.short = short
        self.long = long or {}

    def get(self, timestamp: int) -> float | None:
        value = self.short.get(timestamp)
        return value if value is not None else self.long.get(timestamp)


def series_key(series: SeriesId) -> str:
    uid, values = series
    digest = hashlib.md5(orjson.dumps(list(values))).hexdigest()
    return f"bkm:hist:{uid}:{digest}"


class LongHistory:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def fetch(self, wanted: Iterable[tuple[SeriesId, list[int]]]) -> dict[SeriesId, dict[int, float]]:
        wanted = list(wanted)
        if not wanted:
            return {}
        pipe = self.client.pipeline(transaction=False)
        for series, stamps in wanted:
            pipe.hmget(series_key(series), [str(s) for s in stamps])
        found: dict[SeriesId, dict[int, float]] = {}
        for (series, stamps), values in zip(wanted, pipe.execute(), strict=True):
            found[series] = {s: float(v) for s, v in zip(stamps, values, strict=True) if v is not None}
        return found

    def store(self, writes: Iterable[tuple[SeriesId, int, float, int]]) -> None:
        """(series, window start, value, ttl seconds); idempotent, so replays are harmless."""
        pipe = self.client.pipeline(transaction=False)
        count = 0
        for series, start, value, ttl in writes:
            key = series_key(series)
            pipe.hset(key, str(start), repr(value))
            pipe.expire(key, ttl)
            count += 1
        if count:
            pipe.execute()
