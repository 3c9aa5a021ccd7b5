"""RingRatioAmplitude, YearRoundAmplitude and YearRoundRange."""
from __future__ import annotations

import pytest

from alarm_backends.service.detect.registry import is_anomaly
from tests.detect.helpers import DAY, INTERVAL, T, algorithm, history_before


def rra(ratio: float, shock: float, threshold: float) -> dict:
    return algorithm("RingRatioAmplitude", {"ratio": ratio, "shock": shock, "threshold": threshold})


@pytest.mark.parametrize(
    ("algo", "value", "previous", "expected"),
    [
        # |prev - v| >= prev*ratio + shock, with v and prev both >= threshold
        pytest.param(rra(0.5, 1, 10), 20, 10, True, id="a jump of 10 beats 10 times 0.5 plus 1"),
        pytest.param(rra(0.5, 1, 10), 15, 10, False, id="a jump of 5 misses 6"),
        pytest.param(rra(0.5, 1, 10), 16, 10, True, id="a jump of exactly prev times ratio plus shock is anomalous"),
        pytest.param(rra(0.5, 1, 10), 10, 22, True, id="a fall counts by its absolute size"),
        pytest.param(rra(0.5, 1, 10), 9, 30, False, id="a value below the threshold is normal"),
        pytest.param(rra(0.5, 1, 10), 30, 9, False, id="a previous value below the threshold is normal"),
        pytest.param(rra(0.5, 1, 10), 10, 10, False, id="no change at the threshold is normal"),
        pytest.param(rra(0.5, 1, 10), 20, None, False, id="a missing previous value is never anomalous"),
        pytest.param(rra(0.5, 0, 0), 0, 0, True, id="zero after zero with zero threshold and shock meets the formula"),
        pytest.param(rra(0.5, 1, 0), 0, 0, False, id="zero after zero misses a positive shock"),
        pytest.param(rra(1, 0, 0), 5, 0, True, id="any jump from zero beats a zero shock"),
        pytest.param(rra(0, 0.3, 0), 0.7, 0.4, True, id="the difference is rounded before comparing"),
    ],
)
def test_ring_ratio_amplitude_compares_the_jump_with_the_previous_value(algo, value, previous, expected):
    assert is_anomaly(algo, value, T, INTERVAL, history_before({INTERVAL: previous})) is expected


def test_ring_ratio_amplitude_reads_exactly_one_interval_back():
    assert is_anomaly(rra(0.5, 1, 10), 20, T, INTERVAL, history_before({2 * INTERVAL: 10})) is False
    assert is_anomaly(rra(0.5, 1, 10), 20, T, 300, history_before({300: 10})) is True


def yra(method: str = "gte", ratio: float = 1, shock: float = 0, days: int = 2) -> dict:
    return algorithm("YearRoundAmplitude", {"ratio": ratio, "shock": shock, "days": days, "method": method})


def day_changes(*pairs: tuple[float | None, float | None]) -> dict[int, float | None]:
    """Day i's (value at t - i days, value at t - i days - Δ)."""
    history: dict[int, float | None] = {}
    for day, (then, before) in enumerate(pairs, start=1):
        history[day * DAY] = then
        history[day * DAY + INTERVAL] = before
    return history


@pytest.mark.parametrize(
    ("algo", "value", "previous", "days", "expected"),
    [
        # |v - v(t-Δ)| op |v(t-i days) - v(t-i days-Δ)|*ratio + shock for any i in 1..days
        pytest.param(yra(), 20, 10, day_changes((100, 95)), True, id="a change of 10 is gte yesterday's change of 5"),
        pytest.param(yra(), 20, 10, day_changes((100, 85), (100, 80)), False, id="a change of 10 is below every day's"),
        pytest.param(yra(), 20, 10, day_changes((100, 85), (100, 90)), True, id="the second day alone is enough"),
        pytest.param(yra(), 20, 10, day_changes((100, 85), (100, 85), (100, 100)), False, id="days beyond the config are not read"),
        pytest.param(yra(), 10, 20, day_changes((100, 105)), True, id="both changes count by absolute size"),
        pytest.param(yra("lt", days=1), 13, 10, day_changes((100, 105)), True, id="a past fall counts by its size"),
        pytest.param(yra(), 20, None, day_changes((100, 100)), False, id="a missing previous value is never anomalous"),
        pytest.param(yra(), 20, 10, day_changes((100, None), (100, 95)), True, id="a day with a missing point is skipped"),
        pytest.param(yra(), 20, 10, day_changes((None, 100), (None, None)), False, id="no complete day is never anomalous"),
        pytest.param(yra(), 20, 10, {}, False, id="no daily history is never anomalous"),
        pytest.param(yra("gte"), 0, 0, day_changes((0, 0)), True, id="zero change is gte zero change"),
        pytest.param(yra("gt"), 0, 0, day_changes((0, 0)), False, id="zero change is not gt zero change"),
        pytest.param(yra("lt"), 20, 10, day_changes((100, 85)), True, id="lt finds a change smaller than usual"),
        pytest.param(yra("lte", days=1), 20, 10, day_changes((100, 95)), False, id="lte misses a change larger than usual"),
        pytest.param(yra("eq", days=1), 20, 10, day_changes((100, 90)), True, id="eq matches an equal change"),
        pytest.param(yra("neq", days=1), 20, 10, day_changes((100, 90)), False, id="neq misses an equal change"),
        pytest.param(yra(ratio=2, shock=1, days=1), 20, 10, day_changes((100, 96)), True, id="ratio and shock scale the past change"),
        pytest.param(yra(ratio=2, shock=1, days=1), 18, 10, day_changes((100, 96)), False, id="a change of 8 misses 4 times 2 plus 1"),
        pytest.param(yra(ratio=0, shock=0.3, days=1), 0.7, 0.4, day_changes((1, 1)), True, id="the change is rounded before comparing"),
    ],
)
def test_year_round_amplitude_compares_the_change_with_past_days_changes(algo, value, previous, days, expected):
    history = history_before({INTERVAL: previous, **days})
    assert is_anomaly(algo, value, T, INTERVAL, history) is expected


def yrr(method: str = "gte", ratio: float = 1, shock: float = 0, days: int = 2) -> dict:
    return algorithm("YearRoundRange", {"ratio": ratio, "shock": shock, "days": days, "method": method})


@pytest.mark.parametrize(
    ("algo", "value", "history", "expected"),
    [
        # |v| op |v(t-(i+1) days)|*ratio + shock for any i in 0..days-1
        pytest.param(yrr(), 100, {DAY: 100}, True, id="a value gte yesterday's"),
        pytest.param(yrr(), 100, {DAY: 150, 2 * DAY: 90}, True, id="the day before yesterday alone is enough"),
        pytest.param(yrr(), 100, {DAY: 150, 2 * DAY: 150}, False, id="a value below every day's is normal"),
        pytest.param(yrr(), 100, {3 * DAY: 50}, False, id="days beyond the config are not read"),
        pytest.param(yrr(), 100, {DAY + INTERVAL: 50}, False, id="another time of day is not read"),
        pytest.param(yrr(), 100, {}, False, id="no daily history is never anomalous"),
        pytest.param(yrr(), 100, {DAY: None, 2 * DAY: 100}, True, id="a missing day is skipped"),
        pytest.param(yrr(), -100, {DAY: 50}, True, id="the value counts by its absolute size"),
        pytest.param(yrr(), 100, {DAY: -150}, False, id="the past value counts by its absolute size"),
        pytest.param(yrr("gte"), 0, {DAY: 0}, True, id="zero is gte zero"),
        pytest.param(yrr("gt"), 0, {DAY: 0}, False, id="zero is not gt zero"),
        pytest.param(yrr("lt"), 100, {DAY: 150}, True, id="lt finds a value below the past"),
        pytest.param(yrr("neq"), 100, {DAY: 100, 2 * DAY: 100}, False, id="neq misses values equal every day"),
        pytest.param(yrr(ratio=0.5, shock=10), 60, {DAY: 100}, True, id="ratio and shock scale the past value"),
        pytest.param(yrr(ratio=0.5, shock=10), 59.99999, {DAY: 100}, False, id="just below the scaled value is normal"),
        pytest.param(yrr(ratio=0.5, shock=10), 59.9999996, {DAY: 100}, True, id="a value that rounds to the bound is anomalous"),
        pytest.param(yrr("eq"), 0.1 + 0.2, {DAY: 0.3}, True, id="0.1 plus 0.2 equals 0.3 after rounding"),
    ],
)
def test_year_round_range_compares_the_value_with_the_same_time_on_past_days(algo, value, history, expected):
    assert is_anomaly(algo, value, T, INTERVAL, history_before(history)) is expected
