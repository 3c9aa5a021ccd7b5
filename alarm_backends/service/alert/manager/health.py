"""Is the access pipeline keeping up? (pure)

Read from the access progress (one record per partition, written at every checkpoint) and the access
group's lag per partition. Lag is normal in a busy topic for a moment (offsets are committed after each
checkpoint), so the stall and delay rules only count lag that has lasted `stall_seconds`; a partition
that is merely idle has no lag and is never degraded.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

TP = tuple[str, int]


@dataclass(frozen=True)
class PartitionProgress:
    topic: str
    partition: int
    updated: float  # wall clock of its last checkpoint
    offset: int
    max_time: int  # event time
    watermark: int
    items: Mapping[str, int] = field(default_factory=dict)  # "<strategy_id>.<item_id>" -> last closed window start

    @property
    def key(self) -> TP:
        return self.topic, self.partition


@dataclass(frozen=True)
class HealthLimits:
    stall_seconds: float = 120.0
    max_lag: int = 100_000
    max_delay_seconds: float = 900.0


@dataclass(frozen=True)
class Health:
    degraded: bool
    reasons: tuple[str, ...] = ()
    total_lag: int = 0


@dataclass(frozen=True)
class Episode:
    """One degraded period; `started` (wall seconds) names its alert."""
    started: int


def parse_progress(raw: Mapping[Any, Any]) -> list[PartitionProgress]:
    """The progress hash as Redis returns it (bytes or str); unreadable fields are skipped."""
    found = []
    for name, blob in raw.items():
        name = name.decode() if isinstance(name, bytes) else str(name)
        topic, _, partition = name.rpartition(":")
        try:
            data = orjson.loads(blob)
            found.append(PartitionProgress(
                topic=topic, partition=int(partition), updated=float(data["updated"]), offset=int(data["offset"]),
                max_time=int(data["max_time"]), watermark=int(data["watermark"]),
                items={str(k): int(v) for k, v in (data.get("items") or {}).items()}))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            continue
    return sorted(found, key=lambda p: p.key)


def lag_since(previous: Mapping[TP, float], lag: Mapping[TP, int], now: float) -> dict[TP, float]:
    """Since when each partition has had lag without a break (partitions without lag are dropped)."""
    return {tp: previous.get(tp, now) for tp, n in lag.items() if n > 0}


def assess(progress: Sequence[PartitionProgress], lag: Mapping[TP, int], since: Mapping[TP, float], now: float,
           limits: HealthLimits, lag_error: str | None = None) -> Health:
    """Degraded when lag cannot be read, total lag is over the limit, or a partition with lasting lag has
    not checkpointed for `stall_seconds` or is more than `max_delay_seconds` behind the wall clock."""
    total = sum(lag.values())
    if lag_error is not None:
        return Health(True, (f"lag unavailable: {lag_error}",), total)
    reasons = []
    if total > limits.max_lag:
        reasons.append(f"total lag {total} > {limits.max_lag}")
    by_tp = {p.key: p for p in progress}
    for tp, n in sorted(lag.items()):
        if n <= 0 or now - since.get(tp, now) < limits.stall_seconds:
            continue
        name = f"{tp[0]}:{tp[1]}"
        record = by_tp.get(tp)
        if record is None:
            reasons.append(f"{name}: lag {n} and no progress recorded")
        elif now - record.updated > limits.stall_seconds:
            reasons.append(f"{name}: lag {n} and no checkpoint for {int(now - record.updated)}s")
        elif now - record.watermark > limits.max_delay_seconds:
            reasons.append(f"{name}: lag {n} and the watermark {int(now - record.watermark)}s behind")
    return Health(bool(reasons), tuple(reasons), total)


def next_episode(health: Health, episode: Episode | None, now: float) -> tuple[Episode | None, str | None]:
    """The episode after this check and the event to apply: "anomaly" while degraded (the same one every
    time, so repeating it changes nothing), "recovered" once healthy again, else None."""
    if health.degraded:
        return (episode or Episode(int(now))), "anomaly"
    if episode is not None:
        return None, "recovered"
    return None, None


def event_clock(progress: Sequence[PartitionProgress], topic: str | None = None) -> int | None:
    """The pipeline's (or one topic's) event-time clock: the highest watermark."""
    marks = [p.watermark for p in progress if topic is None or p.topic == topic]
    return max(marks) if marks else None
