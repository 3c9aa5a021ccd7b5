"""SimpleRingRatio, SimpleYearRound, AdvancedRingRatio, AdvancedYearRound.

Anomaly if (v or h) and (v <= h*(100-floor)/100 or v >= h*(100+ceil)/100).
"""
from __future__ import annotations

import pytest

from alarm_backends.service.detect.algorithms.ratio import (
    aggregate_history,
    ratio_anomaly,
)
from alarm_backends.service.detect.registry import is_anomaly
from tests.detect.helpers import (
    DAY,
    INTERVAL,
    WEEK,
    T,
    algorithm,
    history_before,
    points_before,
)

TEN_TEN = {"floor": 10, "ceil": 10}


@pytest.mark.parametrize(
    ("config", "value", "previous", "expected"),
    [
        pytest.param(TEN_TEN, 100, 100, False, id="an unchanged value is normal"),
        pytest.param(TEN_TEN, 90, 100, True, id="a drop of exactly floor percent is anomalous"),
        pytest.param(TEN_TEN, 90.000001, 100, False, id="a drop just short of floor percent is normal"),
        pytest.param(TEN_TEN, 90.0000004, 100, True, id="a drop that rounds to floor percent is anomalous"),
        pytest.param(TEN_TEN, 110, 100, True, id="a rise of exactly ceil percent is anomalous"),
        pytest.param(TEN_TEN, 109.999999, 100, False, id="a rise just short of ceil percent is normal"),
        pytest.param(TEN_TEN, 0, 0, False, id="zero after zero is normal"),
        pytest.param(TEN_TEN, 0, 100, True, id="a drop to zero is anomalous"),
        pytest.param(TEN_TEN, 5, 0, True, id="any rise from zero is anomalous"),
        pytest.param(TEN_TEN, -5, 0, True, id="any drop below zero is anomalous"),
        pytest.param(TEN_TEN, 100, None, False, id="a missing previous value is never anomalous"),
        pytest.param(TEN_TEN, 0, None, False, id="zero with a missing previous value is normal"),
        pytest.param(TEN_TEN, 1.21, 1.1, True, id="the ceil bound is rounded before comparing"),
        pytest.param(TEN_TEN, 0.63, 0.7, True, id="the floor bound is rounded before comparing"),
        pytest.param({"floor": 10, "ceil": 0}, 200, 100, False, id="a zero ceil turns the rise check off"),
        pytest.param({"floor": 10, "ceil": None}, 90, 100, True, id="a null ceil keeps the drop check"),
        pytest.param({"floor": 0, "ceil": 50}, 100, 100, False, id="a zero floor turns the drop check off"),
        pytest.param({"floor": None, "ceil": 50}, 10, 100, False, id="a null floor ignores drops"),
        pytest.param({"floor": None, "ceil": 50}, 150, 100, True, id="a null floor keeps the rise check"),
        pytest.param({"floor": 99.5, "ceil": 1000}, 0.5, 100, True, id="fractional percentages apply as given"),
    ],
)
def test_simple_ring_ratio_compares_with_the_value_one_interval_earlier(config, value, previous, expected):
    history = history_before({INTERVAL: previous})
    assert is_anomaly(algorithm("SimpleRingRatio", config), value, T, INTERVAL, history) is expected


@pytest.mark.parametrize(
    ("interval", "offset", "expected"),
    [
        pytest.param(60, 60, True, id="with a 60 s interval it reads t-60"),
        pytest.param(300, 300, True, id="with a 300 s interval it reads t-300"),
        pytest.param(300, 60, False, id="with a 300 s interval it does not read t-60"),
        pytest.param(60, 120, False, id="it does not read two intervals back"),
        pytest.param(60, WEEK, False, id="it does not read a week back"),
    ],
)
def test_simple_ring_ratio_reads_exactly_one_interval_back(interval, offset, expected):
    history = history_before({offset: 100})
    assert is_anomaly(algorithm("SimpleRingRatio", TEN_TEN), 50, T, interval, history) is expected


@pytest.mark.parametrize(
    ("value", "history", "expected"),
    [
        pytest.param(90, {WEEK: 100}, True, id="a drop against last week is anomalous"),
        pytest.param(110, {WEEK: 100}, True, id="a rise against last week is anomalous"),
        pytest.param(100, {WEEK: 100}, False, id="the same as last week is normal"),
        pytest.param(0, {WEEK: 0}, False, id="zero as last week is normal"),
        pytest.param(50, {INTERVAL: 100}, False, id="the previous interval is not last week"),
        pytest.param(50, {DAY: 100}, False, id="yesterday is not last week"),
        pytest.param(50, {}, False, id="no value last week is never anomalous"),
    ],
)
def test_simple_year_round_compares_with_the_value_one_week_earlier(value, history, expected):
    algo = algorithm("SimpleYearRound", TEN_TEN)
    assert is_anomaly(algo, value, T, INTERVAL, history_before(history)) is expected


FLOOR3_CEIL5 = {"floor": 10, "ceil": 10, "floor_interval": 3, "ceil_interval": 5, "fetch_type": "avg"}


@pytest.mark.parametrize(
    ("value", "points", "expected"),
    [
        pytest.param(90, [100, 100, 100, 100, 100], True, id="a drop against the mean is anomalous"),
        pytest.param(95, [100, 100, 100, 100, 100], False, id="a small drop against the mean is normal"),
        pytest.param(100, [100, 100, 100, 10, 10], True, id="the ceil mean covers ceil_interval points"),
        pytest.param(95, [100, 100, 100, 1000, 1000], False, id="the floor mean covers only floor_interval points"),
        pytest.param(90, [None, 100, None, None, None], True, id="missing points are skipped, not counted as zero"),
        pytest.param(100, [None, None, None, 50, 50], True, id="a side with history still checks when the other has none"),
        pytest.param(100, [None, None, None, None, None], False, id="no history at all is never anomalous"),
        pytest.param(100, [None, None, None, None, None, 1], False, id="a point beyond the longest interval is ignored"),
        pytest.param(0, [0, 0, 0, 0, 0], False, id="zero after zeros is normal"),
        pytest.param(1, [0, 0, 0, 0, 0], True, id="any rise from a zero mean is anomalous"),
        pytest.param(0, [1, 2, 3, 4, 5], True, id="a drop to zero is anomalous"),
    ],
)
def test_advanced_ring_ratio_compares_with_the_mean_of_previous_points(value, points, expected):
    algo = algorithm("AdvancedRingRatio", FLOOR3_CEIL5)
    assert is_anomaly(algo, value, T, INTERVAL, points_before(INTERVAL, points)) is expected


LAST3 = {"floor": 10, "ceil": 10, "floor_interval": 3, "ceil_interval": 3, "fetch_type": "last"}


@pytest.mark.parametrize(
    ("value", "points", "expected"),
    [
        # points: newest first. last = the oldest present of the n points (bk-monitor's "瞬间值")
        pytest.param(200, [100, None, 200], False, id="last compares with the value n points back"),
        pytest.param(100, [100, None, 200], True, id="last does not compare with the newest point"),
        pytest.param(200, [100, 200, None], False, id="last falls back to the oldest present point"),
        pytest.param(90, [None, None, None], False, id="last with no points is never anomalous"),
    ],
)
def test_advanced_ring_ratio_last_uses_the_earliest_of_the_previous_points(value, points, expected):
    algo = algorithm("AdvancedRingRatio", LAST3)
    assert is_anomaly(algo, value, T, INTERVAL, points_before(INTERVAL, points)) is expected


def test_advanced_ring_ratio_without_fetch_type_averages():
    config = {"floor": 10, "ceil": 10, "floor_interval": 3, "ceil_interval": 3}
    # mean of 100, 200 = 150: 200 >= 165 is a rise; "last" (200) would be normal
    assert is_anomaly(algorithm("AdvancedRingRatio", config), 200, T, INTERVAL, points_before(INTERVAL, [100, None, 200]))


@pytest.mark.parametrize(
    ("value", "history", "expected"),
    [
        pytest.param(90, {DAY: 100, 2 * DAY: 100}, True, id="a drop against the same time on previous days"),
        pytest.param(90, {DAY: 80, 2 * DAY: 120}, True, id="the days are averaged"),
        pytest.param(95, {DAY: 80, 2 * DAY: 120}, False, id="a small drop against the daily mean is normal"),
        pytest.param(90, {INTERVAL: 100, 2 * INTERVAL: 100}, False, id="previous intervals are not previous days"),
        pytest.param(90, {DAY + INTERVAL: 100}, False, id="another time of day is not read"),
        pytest.param(90, {3 * DAY: 100}, False, id="a day beyond the longest interval is ignored"),
        pytest.param(90, {}, False, id="no previous days is never anomalous"),
    ],
)
def test_advanced_year_round_compares_with_the_same_time_on_previous_days(value, history, expected):
    config = {"floor": 10, "ceil": 10, "floor_interval": 2, "ceil_interval": 2, "fetch_type": "avg"}
    algo = algorithm("AdvancedYearRound", config)
    assert is_anomaly(algo, value, T, INTERVAL, history_before(history)) is expected


@pytest.mark.parametrize(
    ("points", "n", "fetch_type", "expected"),
    [
        pytest.param([1.0, 2.0, 4.0], 3, "avg", 2.333333, id="avg is the mean rounded to six places"),
        pytest.param([1.0, None, 4.0], 3, "avg", 2.5, id="avg skips missing points"),
        pytest.param([1.0, 2.0, 4.0], 2, "avg", 1.5, id="avg reads only the first n points"),
        pytest.param([1.0, 2.0, 4.0], 3, "last", 4.0, id="last is the earliest of the n points"),
        pytest.param([1.0, 2.0, None], 3, "last", 2.0, id="last skips a missing earliest point"),
        pytest.param([None, None], 2, "avg", None, id="no points give no history value"),
    ],
)
def test_history_aggregate(points, n, fetch_type, expected):
    assert aggregate_history(points, n, fetch_type) == expected


@pytest.mark.parametrize(
    ("value", "floor_h", "ceil_h", "expected"),
    [
        pytest.param(100, 200, 100, True, id="the floor side compares with the floor history"),
        pytest.param(100, 100, 50, True, id="the ceil side compares with the ceil history"),
        pytest.param(100, 50, 200, False, id="the floor history never feeds the ceil side"),
        pytest.param(100, None, None, False, id="no side is checked without history"),
    ],
)
def test_ratio_formula_checks_floor_and_ceil_against_their_own_history(value, floor_h, ceil_h, expected):
    assert ratio_anomaly(value, floor_h, ceil_h, 10, 10) is expected
