"""The QoS rule on plain data (bkmonitor/alerts/qos.py): no database, no clock, no settings."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from bkmonitor.alerts.qos import StoredAlert, decide, is_settled, minute_key, settles_at


@dataclass(eq=False)
class New:
    dedupe_md5: str
    open_time: int


def stored(name: str, open_time: int) -> StoredAlert:
    return StoredAlert(id=hash(name) & 0xFFFF, dedupe_md5=name, open_time=open_time)


def names(alerts: list) -> list[str]:
    return [a.dedupe_md5 for a in alerts]


# (limit, admitted stored, new, settled) -> (blocked new, displaced stored), each in rank order
CASES = [
    pytest.param(2, [], [("a", 120), ("b", 121), ("c", 122)], False, ["c"], [],
                 id="beyond-the-limit-in-a-fresh-minute-the-latest-ranked-is-blocked"),
    pytest.param(2, [], [("c", 120), ("b", 120), ("a", 120)], False, ["c"], [],
                 id="alerts-opened-in-the-same-second-are-ranked-by-dedupe-md5"),
    pytest.param(2, [("b", 121), ("c", 122)], [("a", 120)], False, [], ["c"],
                 id="a-late-alert-ranked-earlier-displaces-the-last-admitted-one"),
    pytest.param(2, [("a", 120), ("b", 121)], [("c", 122)], False, ["c"], [],
                 id="a-late-alert-ranked-later-is-blocked"),
    pytest.param(3, [("b", 121)], [("a", 120), ("d", 123), ("c", 122)], False, ["d"], [],
                 id="new-alerts-fill-the-room-in-rank-order"),
    pytest.param(1, [("c", 122)], [("b", 121), ("a", 120)], False, ["b"], ["c"],
                 id="several-earlier-alerts-displace-and-block-in-one-batch"),
    pytest.param(2, [("b", 121), ("c", 122)], [("a", 120)], True, ["a"], [],
                 id="in-a-settled-full-minute-a-late-alert-is-blocked-whatever-its-rank"),
    pytest.param(3, [("b", 121)], [("c", 122), ("a", 120), ("d", 123)], True, ["d"], [],
                 id="in-a-settled-minute-with-room-the-earliest-new-alerts-take-it"),
    pytest.param(5, [("a", 120)], [("b", 121)], False, [], [], id="under-the-limit-nothing-is-blocked"),
]


@pytest.mark.parametrize(("limit", "admitted", "new", "settled", "blocked", "displaced"), CASES)
def test_the_rule_blocks_and_displaces_exactly_the_alerts_ranked_beyond_the_limit(
        limit: int, admitted: list[tuple[str, int]], new: list[tuple[str, int]], settled: bool,
        blocked: list[str], displaced: list[str]) -> None:
    verdict = decide(limit, [stored(*a) for a in admitted], [New(*n) for n in new], settled)
    assert (names(verdict.blocked), names(verdict.displaced)) == (blocked, displaced)


def replay(limit: int, batches: list[list[New]]) -> set[str]:
    """What the builder does batch after batch in an open minute: the blocked set at the end."""
    admitted: list[StoredAlert] = []
    blocked: set[str] = set()
    for n, batch in enumerate(batches):
        verdict = decide(limit, admitted, batch, settled=False)
        out = {id(a) for a in verdict.blocked} | {a.id for a in verdict.displaced}
        blocked |= {a.dedupe_md5 for a in verdict.blocked} | {a.dedupe_md5 for a in verdict.displaced}
        admitted = [a for a in admitted if a.id not in out]
        admitted += [StoredAlert(1000 * n + i, a.dedupe_md5, a.open_time)
                     for i, a in enumerate(batch) if id(a) not in out]
    return blocked


def splits(alerts: list[New]) -> list[list[list[New]]]:
    """Every arrival order of the alerts, cut into batches in every way."""
    result = []
    for order in itertools.permutations(alerts):
        for cuts in itertools.product([False, True], repeat=len(order) - 1):
            batches, current = [], [order[0]]
            for alert, cut in zip(order[1:], cuts, strict=True):
                if cut:
                    batches.append(current)
                    current = []
                current.append(alert)
            batches.append(current)
            result.append(batches)
    return result


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_the_blocked_set_of_an_open_minute_does_not_depend_on_arrival_order_or_batches(limit: int) -> None:
    alerts = [New("e", 125), New("a", 130), New("c", 121), New("b", 121), New("d", 179)]
    expected = {a.dedupe_md5 for a in sorted(alerts, key=lambda a: (a.open_time, a.dedupe_md5))[limit:]}
    outcomes = {frozenset(replay(limit, [[New(a.dedupe_md5, a.open_time) for a in batch] for batch in batches]))
                for batches in splits(alerts)}
    assert outcomes == {frozenset(expected)}


def test_a_verdict_only_ever_turns_from_admitted_to_blocked() -> None:
    admitted = [stored("b", 121), stored("c", 122)]
    for batch in ([New("a", 120)], [New("d", 123)], [New("a", 120), New("d", 123)]):
        verdict = decide(2, admitted, batch, settled=False)
        assert {a.dedupe_md5 for a in verdict.displaced} <= {"b", "c"}
        assert len(admitted) - len(verdict.displaced) + len(batch) - len(verdict.blocked) == 2


@pytest.mark.parametrize(("minute", "clock", "settle", "settled"), [
    (2, None, 120, False),  # nothing stored yet: no clock
    (2, 180 + 119, 120, False),  # minute 2 ends at 180; one second short of its settle time
    (2, 180 + 120, 120, True),
    (2, 180, 0, True),  # no settle time: final once the clock reaches the minute's end
    (2, 179, 0, False),
])
def test_a_minute_settles_once_the_event_clock_is_the_settle_time_past_its_end(
        minute: int, clock: int | None, settle: int, settled: bool) -> None:
    assert is_settled(minute, clock, settle) is settled
    assert settles_at(minute, settle) == 180 + settle


def test_minute_keys_split_by_strategy_severity_and_event_time_minute() -> None:
    assert minute_key(7, 1, 179) == (7, 1, 2) and minute_key(7, 1, 180) == (7, 1, 3)


def test_a_limit_below_one_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="QoS limit must be at least 1, got 0"):
        decide(0, [], [New("a", 1)], settled=False)
