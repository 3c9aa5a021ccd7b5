"""QoS (docs/ARCHITECTURE.md, Semantics: QoS) as a pure rule over plain data.

Why a rank and not a counter: the alerts of one (strategy, severity, event-time minute) come from
several partitions, and which of them arrives first depends on partition interleaving, batch
boundaries and crash replays. Counting in arrival order made the blocked set depend on all of that.
Here the alerts of a minute are ranked by (open_time, dedupe_md5), both fixed when the alert opens,
and the first `limit` are admitted: the verdict depends on which alerts opened, not on when they
arrived.

Why a minute settles: an alert that arrives late but ranks early pushes the last admitted alert out.
That is only harmless while nothing acted on the verdict (a notice sent). So a verdict may change,
in one direction only (admitted -> blocked), until the minute settles: the builder's event clock
passed the minute's end by `settle` seconds. From then on admitted alerts stay admitted, and an alert
arriving into a full settled minute is blocked whatever its rank (the documented exception).

Why a settled minute's lock row may be deleted: a settled minute's verdict reads only the stored
alerts and the event clock, and the clock never moves back (events are never deleted), so a minute
settled once stays settled. Its row is then only a lock, which `lock_minutes` re-creates for an alert
that arrives later; that alert is judged exactly as it would have been with the row kept.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

SECONDS_PER_MINUTE = 60
#: how long (event time) the alert manager keeps a settled minute's lock row: a late alert of a minute
#: settled within the hour (a partition briefly behind) still finds its row instead of re-creating it
SETTLED_KEEP_SECONDS = 3600

#: (strategy_id, severity, event-time minute = open_time // 60)
MinuteKey = tuple[int, int, int]


class Ranked(Protocol):
    @property
    def open_time(self) -> int: ...

    @property
    def dedupe_md5(self) -> str: ...


R = TypeVar("R", bound=Ranked)


@dataclass(frozen=True)
class StoredAlert:
    """An admitted alert already in the database, as much of it as the rule needs."""

    id: int
    dedupe_md5: str
    open_time: int


@dataclass(frozen=True)
class Verdict:
    blocked: list  # new alerts to create blocked, in rank order
    displaced: list  # admitted stored alerts now ranked beyond the limit, in rank order


def minute_of(time: int) -> int:
    return time // SECONDS_PER_MINUTE


def minute_key(strategy_id: int, severity: int, open_time: int) -> MinuteKey:
    return strategy_id, severity, minute_of(open_time)


def rank(alert: Ranked) -> tuple[int, str]:
    """Unique within a minute key: one dedupe_md5 cannot open two alerts of one severity at one time."""
    return alert.open_time, alert.dedupe_md5


def settles_at(minute: int, settle: int) -> int:
    """The event time from which a minute's verdicts are final."""
    return (minute + 1) * SECONDS_PER_MINUTE + settle


def is_settled(minute: int, clock: int | None, settle: int) -> bool:
    """`clock` is the latest event time stored before the batch (None: nothing stored yet)."""
    return clock is not None and clock >= settles_at(minute, settle)


def prunable_before(clock: int | None, settle: int, keep: int) -> int | None:
    """Minutes below the returned one have been settled for at least `keep` seconds of event time, so
    their lock rows may go (None: nothing is stored yet, so nothing has settled)."""
    if keep < 0:
        raise ValueError(f"QoS keep margin must not be negative, got {keep}")
    if clock is None:
        return None
    # m < minute_of(clock - settle - keep)  <=>  settles_at(m, settle) + keep <= clock
    return minute_of(clock - settle - keep)


def decide(limit: int, admitted: Sequence[Ranked], new: Iterable[R], settled: bool) -> Verdict:
    """The verdict for one minute key: `admitted` are its stored alerts not blocked, `new` those this
    batch opens. Stored blocked alerts need not be given: they rank after every admitted one (a
    settled minute never admits out of rank order, so that holds as long as the minute is open)."""
    if limit < 1:
        raise ValueError(f"QoS limit must be at least 1, got {limit}")
    fresh = sorted(new, key=rank)
    if settled:
        room = max(0, limit - len(admitted))
        return Verdict(blocked=fresh[room:], displaced=[])
    fresh_ids = {id(alert) for alert in fresh}
    ranked: list[Ranked] = [*admitted, *fresh]
    beyond = sorted(ranked, key=rank)[limit:]
    return Verdict(blocked=[a for a in beyond if id(a) in fresh_ids],
                   displaced=[a for a in beyond if id(a) not in fresh_ids])


def block_reason(limit: int, strategy_id: int, severity: int) -> str:
    return f"QoS: more than {limit} new alerts per minute for strategy {strategy_id} severity {severity}"
