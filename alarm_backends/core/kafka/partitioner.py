"""Partitioning strategies.

`murmur2` is the Java client's default for keyed messages (and kafka-python's):
partition = (murmur2(key) & 0x7fffffff) % partitions. librdkafka implements the
same function as its `murmur2_random` partitioner, which is what we use when
producing; the Python function here lets code and tests say where a key lands.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

CustomPartitioner = Callable[[bytes | None, bytes, int], int]

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """32-bit murmur2 with the Java client's seed, as a signed int like Java's."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    nblocks = length // 4
    for i in range(nblocks):
        k = int.from_bytes(data[i * 4 : i * 4 + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = (h * _M) & _MASK
        h ^= k
    tail = length & 3
    base = nblocks * 4
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for_key(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class RoundRobin:
    """Spreads unkeyed messages evenly, one partition after the other, per topic."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def __call__(self, topic: str, partitions: int) -> int:
        counter = self._counters.get(topic)
        if counter is None:
            counter = self._counters[topic] = itertools.count()
        return next(counter) % partitions


def validate_partitioner(strategy: Any) -> None:
    if strategy in ("murmur2", "round_robin") or callable(strategy):
        return
    raise ValueError(
        f"partitioner: {strategy!r} is not 'murmur2', 'round_robin' or a callable(key, value, partitions)"
    )
