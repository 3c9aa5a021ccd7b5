"""Commit policy and the per-partition tracker behind "commit after processing".

The tracker never looks at a message on the fast path. After each batch the
consumer reads librdkafka's application positions (last delivered offset + 1
per partition) and records one segment per partition that advanced. Marking a
whole batch processed completes its segments; marking single messages builds
that batch's offset list for the partition once, and completes the segment
when every message in it is done. The committable offset of a partition is
the end of its leading run of completed segments, or, inside a partially done
segment, one past its contiguous processed prefix.
"""
from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from confluent_kafka import Message

from alarm_backends.core.kafka.messages import TP, offset_of, tp_of


class CommitMode(enum.Enum):
    AUTO = "auto"  # librdkafka commits delivered offsets in the background (at-most/at-least once mix)
    SYNC = "sync"  # the caller calls commit(); it blocks until the broker acknowledges
    ASYNC = "async"  # the caller calls commit(); it returns at once
    AFTER_PROCESSING = "after_processing"  # only what the caller marked processed, contiguously


@dataclass(frozen=True)
class CommitPolicy:
    """When offsets are committed. Revokes and close always commit synchronously."""

    mode: CommitMode = CommitMode.AFTER_PROCESSING
    interval_seconds: float = 1.0
    every_messages: int = 10_000

    def __post_init__(self) -> None:
        if self.interval_seconds < 0:
            raise ValueError(f"interval_seconds must be >= 0, got {self.interval_seconds}")
        if self.every_messages < 1:
            raise ValueError(f"every_messages must be >= 1, got {self.every_messages}")


class Batch(list):
    """Messages returned by one get_messages() call, with the positions they end at.

    A caller that marks a batch processed long after it is done with the messages (a consumer
    that commits at checkpoints) calls release(): the messages are dropped and only what marking
    the whole batch needs is kept. Holding on to consumed messages is not free: the access
    benchmark's runner, which marks at checkpoints every 5 s, did about 100,000 messages/s
    holding them and 134,000 releasing them."""

    __slots__ = ("ends", "released", "firsts")

    def __init__(self, messages: Iterable[Message] = (), ends: dict[TP, int] | None = None) -> None:
        super().__init__(messages)
        self.ends: dict[TP, int] = ends or {}
        self.released: int | None = None  # the message count, once released
        self.firsts: dict[TP, int] | None = None  # per partition its first offset, once released

    @property
    def size(self) -> int:
        return len(self) if self.released is None else self.released

    def release(self) -> None:
        """Drop the messages, keeping their count and each partition's first offset; the batch
        can then only be marked processed whole."""
        if self.released is not None:
            return
        # delivered messages: topic, partition and offset are never None
        keys = cast(list[TP], list(zip(map(Message.topic, self), map(Message.partition, self), strict=True)))
        offsets = cast(list[int], list(map(Message.offset, self)))
        keys.reverse()
        offsets.reverse()
        self.firsts = dict(zip(keys, offsets, strict=True))  # the last write of each key is its first message
        self.released = len(self)
        self.clear()


class _Segment:
    __slots__ = ("batch", "end", "remaining", "done", "processed_prefix")

    def __init__(self, batch: Batch, end: int) -> None:
        self.batch = batch
        self.end = end
        self.remaining: deque[int] | None = None  # offsets not yet processed, built on first single mark
        self.done: set[int] = set()
        self.processed_prefix: int | None = None  # next offset after the contiguous processed prefix
        # (only meaningful while partially done)


class _Partition:
    __slots__ = ("segments", "committable", "committed", "paused")

    def __init__(self) -> None:
        self.segments: deque[_Segment] = deque()
        self.committable: int | None = None
        self.committed: int | None = None
        self.paused = False


class OffsetTracker:
    def __init__(self) -> None:
        self._partitions: dict[TP, _Partition] = {}
        self.marked_since_commit = 0

    # assignment
    def add(self, tps: Iterable[TP]) -> None:
        for tp in tps:
            self._partitions.setdefault(tp, _Partition())

    def remove(self, tps: Iterable[TP]) -> None:
        for tp in tps:
            self._partitions.pop(tp, None)

    def reset(self, tp: TP) -> None:
        """After a seek: nothing delivered before it will be marked any more."""
        if tp in self._partitions:
            self._partitions[tp] = _Partition()

    def __contains__(self, tp: TP) -> bool:
        return tp in self._partitions

    # delivery
    def delivered(self, batch: Batch) -> None:
        for tp, end in batch.ends.items():
            part = self._partitions.get(tp)
            if part is not None:
                part.segments.append(_Segment(batch, end))

    def pending(self, tp: TP) -> int:
        """Delivered but not yet committable (an estimate: offset gaps count)."""
        part = self._partitions.get(tp)
        if part is None or not part.segments:
            return 0
        start = part.committable if part.committable is not None else _first_offset(part.segments[0], tp)
        return part.segments[-1].end - start

    # processing
    def mark_batch(self, batch: Batch) -> None:
        for tp in batch.ends:
            part = self._partitions.get(tp)
            if part is None:
                continue  # revoked since delivery; its new owner will redeliver
            for segment in part.segments:
                if segment.batch is batch:
                    segment.remaining = deque()
                    break
            self._advance(part)
        self.marked_since_commit += batch.size

    def mark_message(self, message: Message) -> None:
        tp = tp_of(message)
        part = self._partitions.get(tp)
        if part is None:
            return
        offset = offset_of(message)
        for segment in part.segments:
            if offset < segment.end:
                if segment.batch.released is not None and segment.remaining is None:
                    raise ValueError(f"{tp[0]}[{tp[1]}]@{offset} belongs to a released batch: mark the batch")
                if segment.remaining is None:
                    segment.remaining = deque(
                        m.offset() for m in segment.batch if m.partition() == tp[1] and m.topic() == tp[0])
                if segment.remaining and segment.remaining[0] == offset:
                    segment.remaining.popleft()
                    while segment.remaining and segment.remaining[0] in segment.done:
                        segment.done.discard(segment.remaining.popleft())
                    segment.processed_prefix = offset + 1 if not segment.remaining else segment.remaining[0]
                elif offset in segment.remaining:
                    segment.done.add(offset)
                break
        self._advance(part)
        self.marked_since_commit += 1

    def _advance(self, part: _Partition) -> None:
        while part.segments and part.segments[0].remaining is not None and not part.segments[0].remaining:
            part.committable = part.segments.popleft().end
        if part.segments and part.segments[0].processed_prefix is not None:
            head = part.segments[0]
            prefix = head.processed_prefix
            if prefix is not None and (part.committable is None or prefix > part.committable):
                part.committable = prefix

    # committing
    def to_commit(self) -> dict[TP, int]:
        return {tp: p.committable for tp, p in self._partitions.items()
                if p.committable is not None and p.committable != p.committed}

    def committed(self, offsets: dict[TP, int]) -> None:
        for tp, offset in offsets.items():
            part = self._partitions.get(tp)
            if part is not None:
                part.committed = offset
        self.marked_since_commit = 0

    def partition(self, tp: TP) -> _Partition | None:
        return self._partitions.get(tp)


def _first_offset(segment: _Segment, tp: TP) -> int:
    if segment.batch.firsts is not None:
        return segment.batch.firsts.get(tp, segment.end)
    for m in segment.batch:
        if m.partition() == tp[1] and m.topic() == tp[0]:
            return int(m.offset())
    return segment.end


class Throttle:
    """Decides when a throttled commit is due."""

    def __init__(self, policy: CommitPolicy) -> None:
        self.policy = policy
        self.last = time.monotonic()

    def due(self, marked: int) -> bool:
        if marked <= 0:
            return False
        return marked >= self.policy.every_messages or time.monotonic() - self.last >= self.policy.interval_seconds

    def done(self) -> None:
        self.last = time.monotonic()
