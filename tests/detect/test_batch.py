"""Batch (column-wise) detection answers exactly what the scalar detectors answer, element by element.

The scalar tests pin the semantics; here every batch form is compared with its
scalar twin on random columns built to hit the edges: zeros, negatives, exact
threshold and ratio ties, ties at the 7th decimal, missing points (NaN) and
missing columns (history.get returns None).
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pytest

from alarm_backends.service.detect.algorithms.ratio import COMPENSATED_SUM, python_sum
from alarm_backends.service.detect.algorithms.threshold import Threshold
from alarm_backends.service.detect.batch import (
    BatchDetector,
    compile_algorithm_batch,
    compile_level_batch,
    round6,
)
from alarm_backends.service.detect.errors import AlgorithmConfigError
from alarm_backends.service.detect.history import Detector
from alarm_backends.service.detect.level import compile_level
from alarm_backends.service.detect.registry import compile_algorithm, required_history
from alarm_backends.service.detect.rounding import on_rounded
from tests.detect.helpers import T, algorithm

# values per random round6 sample; raise it (e.g. to 10**7) for a longer proof run
ROUND6_SAMPLES = int(os.environ.get("BKM_ROUND6_SAMPLES", "300000"))


def python_round6(values: np.ndarray) -> np.ndarray:
    return np.array(list(map(round, values.tolist(), repeat(6))), dtype=np.float64)


def assert_same_floats(got: np.ndarray, expected: np.ndarray, inputs: np.ndarray) -> None:
    same = ((got == expected) & (np.signbit(got) == np.signbit(expected))) | (np.isnan(got) & np.isnan(expected))
    bad = np.flatnonzero(~same)
    assert not bad.size, [(repr(inputs[i]), repr(got[i]), repr(expected[i])) for i in bad[:5]]


# ---------------------------------------------------------------------------------------------- round6

TIES = [
    0.0000005,
    0.0000015,
    0.0000025,
    -0.0000005,
    2.6749995,
    -2.6749995,
    1.0000005,
    0.1234565,
    99.9999995,
    0.0078125,  # 7812.5 millionths exactly: half to even
    0.0234375,
    -0.0078125,
    3 * 1e-7,
    7 * 1e-7,
    2**20 + 0.0000005,
    2**20 - 0.0000005,
    1e15 + 0.5,
    2**52 - 0.5,
]
EDGES = [
    0.0,
    -0.0,
    -1e-7,  # rounds to -0.0 in Python
    -4.9e-7,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    1e-300,
    1e15,
    -1e15,
    1e15 + 0.3,
    4503599627370495.5,
    2.0**52,
    2.0**53 + 2,
    1e300,
    -1e300,
    1.7976931348623157e308,
    -1.7976931348623157e308,
    math.inf,
    -math.inf,
    math.nan,
]


@pytest.mark.parametrize("value", TIES + EDGES, ids=repr)
def test_round6_returns_what_python_round_returns_for_ties_and_edge_values(value):
    x = np.array([value])
    assert_same_floats(round6(x), python_round6(x), x)


def _uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(-10, 10, n)


def _decimal_ties(rng: np.random.Generator, n: int) -> np.ndarray:
    # k + 0.5 millionths, written as decimals: the nearest double is a hair off the tie
    return (rng.integers(-(10**12), 10**12, n) + 0.5) / 1e6


def _binary_ties(rng: np.random.Generator, n: int) -> np.ndarray:
    # odd multiples of 1/128 are exactly half a millionth off a 6-place decimal
    return (rng.integers(-(10**12), 10**12, n) * 2 + 1) / 128


def _tie_neighbours(rng: np.random.Generator, n: int) -> np.ndarray:
    ties = (rng.integers(-(10**9), 10**9, n) + 0.5) / 10.0 ** rng.integers(6, 9, n)
    return np.nextafter(ties, rng.choice([-math.inf, math.inf], n))


def _every_magnitude(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.ldexp(rng.uniform(1, 2, n), rng.integers(-1074, 1024, n)) * rng.choice([-1.0, 1.0], n)


def _large_with_fractions(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.ldexp(rng.uniform(1, 2, n), rng.integers(17, 54, n)) * rng.choice([-1.0, 1.0], n)


def _any_bits(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, n, dtype=np.int64).view(np.float64)


def _metric_like(rng: np.random.Generator, n: int) -> np.ndarray:
    # sums and means of few-decimal numbers, as aggregation produces them
    parts = np.round(rng.uniform(-1000, 1000, (n, 3)), rng.integers(0, 4))
    return parts.sum(axis=1) / rng.integers(1, 8, n)


@pytest.mark.parametrize(
    "sample",
    [
        pytest.param(_uniform, id="uniform values between -10 and 10"),
        pytest.param(_decimal_ties, id="decimal ties at the seventh place"),
        pytest.param(_binary_ties, id="exact binary ties at the seventh place"),
        pytest.param(_tie_neighbours, id="the doubles next to seventh-place ties"),
        pytest.param(_every_magnitude, id="values of every magnitude"),
        pytest.param(_large_with_fractions, id="large values with fractions"),
        pytest.param(_any_bits, id="arbitrary bit patterns"),
        pytest.param(_metric_like, id="means of few-decimal numbers"),
    ],
)
def test_round6_returns_what_python_round_returns_for_random_values(sample: Callable[..., np.ndarray]):
    x = sample(np.random.default_rng(zlib.crc32(sample.__name__.encode())), ROUND6_SAMPLES)
    assert_same_floats(round6(x), python_round6(x), x)


def test_round6_keeps_the_shape_of_its_input():
    x = np.array([[0.0000005, 1.25], [2**40 + 0.1234565, -1e-7]])
    assert round6(x).shape == (2, 2)
    assert_same_floats(round6(x).ravel(), python_round6(x.ravel()), x.ravel())
    assert round6(np.array([])).shape == (0,)


# ------------------------------------------------------------------------------------ random batches


class ArrayHistory:
    """A BatchHistory over {timestamp: column}."""

    def __init__(self, columns: dict[int, np.ndarray]) -> None:
        self.columns = columns

    def get(self, timestamp: int) -> np.ndarray | None:
        return self.columns.get(timestamp)


class SeriesHistory:
    """Element i of an ArrayHistory, as a scalar detector sees it."""

    def __init__(self, history: ArrayHistory, i: int) -> None:
        self._history, self._i = history, i

    def get(self, timestamp: int) -> float | None:
        column = self._history.get(timestamp)
        if column is None or math.isnan(column[self._i]):
            return None
        return float(column[self._i])


BASES = [0.0, 1.0, -1.0, 0.5, 0.7, 1.1, 90.0, 100.0, 110.0, -37.25, 2.6749995, 0.0000005, 12345.678901, 1e9 + 5e-7]
FACTORS = [1.0, 1.0, 1.0, 1.0, 0.0, -1.0, 0.5, 2.0, 0.9, 1.1, 0.95, 1.05]
NUDGES = [0.0, 0.0, 0.0, 0.0, 1e-6, -1e-6, 5e-7, -5e-7, 4e-7, -4e-7, 1e-7]


def _pick(rng: np.random.Generator, pool: Sequence[float], size: int) -> np.ndarray:
    return np.asarray(pool, dtype=np.float64)[rng.integers(len(pool), size=size)]


def random_batch(
    rng: np.random.Generator,
    offsets: Sequence[int],
    size: int,
    anchors: Sequence[float],
    factors: Sequence[float],
    absent: float,
) -> tuple[np.ndarray, ArrayHistory]:
    """Rounded values and a history around per-series base levels, so ties and equal points are common.

    `anchors` (thresholds, shocks) are added to values; `factors` (1 - floor%, 1 + ratio, ...) scale
    them against the base; each column is absent with probability `absent`.
    """
    random_bases = np.round(rng.uniform(-200, 200, size), int(rng.integers(0, 8)))
    base = np.where(rng.random(size) < 0.5, _pick(rng, BASES + list(anchors), size), random_bases)
    all_factors = FACTORS + list(factors)
    signed_anchors = [0.0] * len(anchors) + list(anchors) + [-a for a in anchors]
    raw = base * _pick(rng, all_factors, size) + _pick(rng, signed_anchors or [0.0], size)
    values = round6(raw + _pick(rng, NUDGES, size))
    no_history = rng.random(size) < 0.1
    columns: dict[int, np.ndarray] = {}
    for offset in offsets:
        if rng.random() < absent:
            continue
        column = base * _pick(rng, all_factors, size) + _pick(rng, NUDGES, size)
        column[no_history | (rng.random(size) < 0.15)] = np.nan
        columns[T - offset] = column
    return values, ArrayHistory(columns)


def assert_batch_matches_scalar(
    batch: BatchDetector | None,
    scalar: Detector,
    algorithms: Sequence[dict[str, Any]],
    anchors: Sequence[float] = (),
    factors: Sequence[float] = (),
    intervals: Sequence[int] = (60, 300),
    rounds: int = 6,
    size: int = 300,
    seed: int = 0,
    both_outcomes: bool = True,
) -> None:
    """Round 0 has no history at all; later rounds drop a column now and then."""
    assert batch is not None
    detect_rounded = on_rounded(scalar) or scalar
    rng = np.random.default_rng(seed)
    outcomes: set[bool] = set()
    for round_ in range(rounds):
        interval = intervals[round_ % len(intervals)]
        offsets = sorted({offset for algo in algorithms for offset in required_history(algo, interval)})
        values, history = random_batch(rng, offsets, size, anchors, factors, 1.0 if round_ == 0 else 0.15)
        got = batch(values, T, interval, history)
        assert got.dtype == np.bool_ and got.shape == values.shape
        expected = np.array(
            [detect_rounded(v, T, interval, SeriesHistory(history, i)) for i, v in enumerate(values.tolist())]
        )
        bad = np.flatnonzero(got != expected)
        assert not bad.size, [
            (values[i], {t - T: float(c[i]) for t, c in history.columns.items()}, bool(got[i])) for i in bad[:3]
        ]
        outcomes.update(expected.tolist())
    if both_outcomes:
        assert outcomes == {True, False}, "the random batches never made the detector change its answer"


def assert_algorithm_matches(algo: dict[str, Any], metric_unit: str = "", **kwargs: Any) -> None:
    batch = compile_algorithm_batch(algo, metric_unit)
    assert_batch_matches_scalar(batch, compile_algorithm(algo, metric_unit), [algo], **kwargs)


def cond(method: str, threshold: float) -> dict[str, Any]:
    return {"method": method, "threshold": threshold}


METHODS = ("gt", "gte", "lt", "lte", "eq", "neq")


@pytest.mark.parametrize("method", METHODS)
def test_every_threshold_method_flags_the_same_values_as_the_scalar_detector(method):
    for seed, threshold in enumerate((0, 1.1, -37.25, 90.0000005)):
        algo = algorithm("Threshold", [[cond(method, threshold)]])
        assert_algorithm_matches(algo, anchors=[threshold], seed=seed)


@pytest.mark.parametrize(
    ("config", "anchors"),
    [
        pytest.param([[cond("gte", 10), cond("lt", 100)], [cond("lte", -5)]], [10, 100, -5], id="a range or a floor"),
        pytest.param([[cond("neq", 0)], [cond("eq", 0.5)]], [0, 0.5], id="nonzero or exactly a half"),
        pytest.param(
            [[cond("gt", 1), cond("lte", 1.1), cond("neq", 1.05)], [cond("eq", 90)], [cond("lt", -1)]],
            [1, 1.1, 1.05, 90, -1],
            id="three groups, one with three conditions",
        ),
        pytest.param([[cond("gte", 0.0000005)]], [0.0000005, 0.000001], id="a threshold tied at the seventh place"),
    ],
)
def test_threshold_groups_are_anded_inside_and_ored_across_like_the_scalar_detector(config, anchors):
    assert_algorithm_matches(algorithm("Threshold", config), anchors=anchors)


@pytest.mark.parametrize(
    ("unit_prefix", "metric_unit", "threshold", "anchor"),
    [
        pytest.param("KB", "bytes", 1.5, 1500, id="KB thresholds scale by 1000 on a bytes metric"),
        pytest.param("KiB", "bytes", 1.5, 1536, id="KiB thresholds scale by 1024 on a bytes metric"),
        pytest.param("ms", "s", 250.0000004, 0.25, id="ms thresholds scale by 0.001 on a seconds metric"),
        pytest.param("percentunit", "%", 0.9, 90, id="a percentunit threshold scales to percent"),
        pytest.param("ms", "bytes", 90, 90, id="an unconvertible prefix compares raw numbers in both forms"),
    ],
)
def test_unit_prefixes_scale_thresholds_like_the_scalar_detector(unit_prefix, metric_unit, threshold, anchor):
    algo = algorithm("Threshold", [[cond("gte", threshold)], [cond("eq", -threshold)]], unit_prefix)
    assert_algorithm_matches(algo, metric_unit, anchors=[anchor])


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"floor": 10, "ceil": 10}, id="ten percent either way"),
        pytest.param({"floor": 0, "ceil": 50}, id="a zero floor checks rises only"),
        pytest.param({"floor": None, "ceil": 25.5}, id="a null floor checks rises only"),
        pytest.param({"floor": 99.5, "ceil": None}, id="a null ceil checks drops only"),
        pytest.param({"floor": 33.3, "ceil": 1000}, id="fractional and large percentages"),
    ],
)
@pytest.mark.parametrize("kind", ["SimpleRingRatio", "SimpleYearRound"])
def test_simple_ratios_flag_the_same_values_as_the_scalar_detector(kind, config):
    factors = [1 - (config["floor"] or 0) / 100, 1 + (config["ceil"] or 0) / 100]
    assert_algorithm_matches(algorithm(kind, config), factors=factors)


@pytest.mark.parametrize(
    "config",
    [
        pytest.param({"floor": 10, "ceil": 10, "floor_interval": 3, "ceil_interval": 5}, id="avg by default"),
        pytest.param(
            {"floor": 10, "ceil": 20, "floor_interval": 5, "ceil_interval": 2, "fetch_type": "avg"},
            id="avg over more floor points than ceil points",
        ),
        pytest.param(
            {"floor": 10, "ceil": 10, "floor_interval": 3, "ceil_interval": 3, "fetch_type": "last"},
            id="last over equal point counts",
        ),
        pytest.param(
            {"floor": 50, "ceil": 5, "floor_interval": 1, "ceil_interval": 4, "fetch_type": "last"},
            id="last over different point counts",
        ),
        pytest.param(
            {"floor": 0, "ceil": 10, "floor_interval": None, "ceil_interval": 4, "fetch_type": "avg"},
            id="a ceil side alone",
        ),
        pytest.param(
            {"floor": 10, "ceil": None, "floor_interval": 6, "ceil_interval": None, "fetch_type": "last"},
            id="a floor side alone",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["AdvancedRingRatio", "AdvancedYearRound"])
def test_advanced_ratios_flag_the_same_values_as_the_scalar_detector(kind, config):
    factors = [1 - (config["floor"] or 0) / 100, 1 + (config["ceil"] or 0) / 100]
    assert_algorithm_matches(algorithm(kind, config), factors=factors)


@pytest.mark.parametrize(
    ("config", "unit_prefix", "metric_unit", "anchors"),
    [
        pytest.param({"ratio": 0.5, "shock": 1, "threshold": 10}, None, "", [1, 10], id="half plus one above ten"),
        pytest.param({"ratio": 0, "shock": 0.3, "threshold": 0}, None, "", [0.3], id="a shock alone"),
        pytest.param({"ratio": 1, "shock": 0, "threshold": 0}, None, "", [0], id="a ratio alone"),
        pytest.param({"ratio": 0.1, "shock": -2, "threshold": -50}, None, "", [-2, -50], id="negative shock"),
        pytest.param(
            {"ratio": 0.5, "shock": 1.5, "threshold": 2}, "KB", "bytes", [1500, 2000], id="KB shock and threshold"
        ),
    ],
)
def test_ring_ratio_amplitude_flags_the_same_values_as_the_scalar_detector(config, unit_prefix, metric_unit, anchors):
    factors = [1 + config["ratio"], 1 - config["ratio"]]
    algo = algorithm("RingRatioAmplitude", config, unit_prefix)
    assert_algorithm_matches(algo, metric_unit, anchors=anchors, factors=factors)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["YearRoundAmplitude", "YearRoundRange"])
def test_daily_comparisons_flag_the_same_values_as_the_scalar_detector(kind, method):
    for config, unit_prefix, metric_unit in [
        ({"ratio": 1, "shock": 0, "days": 2, "method": method}, None, ""),
        ({"ratio": 0.5, "shock": 1.1, "days": 3, "method": method}, None, ""),
        ({"ratio": 2, "shock": 0.5, "days": 1, "method": method}, "KiB", "bytes"),
    ]:
        algo = algorithm(kind, config, unit_prefix)
        shock = config["shock"] * (1024 if unit_prefix else 1)
        assert_algorithm_matches(algo, metric_unit, anchors=[shock], factors=[config["ratio"], 1 + config["ratio"]])


# ------------------------------------------------------------------------------------------- levels

GTE_90 = algorithm("Threshold", [[cond("gte", 90)]])
RING = algorithm("SimpleRingRatio", {"floor": 10, "ceil": 10})
ADVANCED = algorithm("AdvancedRingRatio", {"floor": 20, "ceil": 20, "floor_interval": 2, "ceil_interval": 3})
RANGE = algorithm("YearRoundRange", {"ratio": 1, "shock": 5, "days": 2, "method": "gte"})
BYTES = algorithm("Threshold", [[cond("gte", 1), cond("lt", 2)]], "Mi")


@pytest.mark.parametrize("connector", ["and", "or"])
@pytest.mark.parametrize(
    ("algorithms", "metric_unit", "anchors"),
    [
        pytest.param([GTE_90, RING], "", [90], id="a threshold and a ring ratio"),
        pytest.param([GTE_90, RING, ADVANCED, RANGE], "", [90, 5], id="four kinds of algorithm"),
        pytest.param([BYTES, RING], "bytes", [2**20, 2**21], id="a byte threshold and a ring ratio"),
        pytest.param([RANGE], "", [5], id="a single algorithm"),
    ],
)
def test_a_level_combines_its_batch_algorithms_like_the_scalar_level(algorithms, connector, metric_unit, anchors):
    batch = compile_level_batch(algorithms, connector, metric_unit)
    scalar = compile_level(algorithms, connector, metric_unit)
    assert_batch_matches_scalar(batch, scalar, algorithms, anchors=anchors, factors=[0.9, 1.1], rounds=8)


@pytest.mark.parametrize("connector", ["and", "or"])
def test_an_empty_level_flags_nothing_in_both_forms(connector):
    batch = compile_level_batch([], connector)
    scalar = compile_level([], connector)
    assert_batch_matches_scalar(batch, scalar, [], both_outcomes=False)


def test_a_level_decides_raw_values_rounded_by_round6_as_the_scalar_level_decides_them():
    rng = np.random.default_rng(7)
    raw = (rng.integers(899_999_990, 900_000_010, 2000) + rng.choice([0.5, 0.4, 0.6], 2000)) / 1e7
    algo = algorithm("Threshold", [[cond("gte", 90)], [cond("eq", 89.9999995)]])
    batch = compile_level_batch([algo, algo], "and")
    scalar = compile_level([algo, algo], "and")
    history = ArrayHistory({})
    assert batch is not None
    got = batch(round6(raw), T, 60, history)
    expected = [scalar(v, T, 60, SeriesHistory(history, 0)) for v in raw.tolist()]
    assert got.tolist() == expected
    assert 0 < got.sum() < len(got)


def test_an_algorithm_without_a_batch_form_leaves_the_level_without_one(monkeypatch):
    monkeypatch.setattr(Threshold, "batch_detector", lambda self, scale=1.0: None)
    assert compile_algorithm_batch(GTE_90) is None
    assert compile_level_batch([RING, GTE_90], "or") is None
    assert compile_level_batch([RING], "or") is not None


@pytest.mark.parametrize(
    ("algorithms", "connector", "field"),
    [
        pytest.param([GTE_90], "xor", "connector", id="an unknown connector names connector"),
        pytest.param([GTE_90, algorithm("Threshold", [])], "or", "config", id="an invalid algorithm names config"),
    ],
)
def test_a_batch_level_rejects_what_the_scalar_level_rejects(algorithms, connector, field):
    with pytest.raises(AlgorithmConfigError) as raised:
        compile_level_batch(algorithms, connector)
    assert raised.value.field == field


# -------------------------------------------------------------------------------------- the mean


def cpython_compensated_sum(values: list[float]) -> float:
    """CPython 3.12+'s float sum(), step for step."""
    total, compensation = 0.0, 0.0
    for x in values:
        new_total = total + x
        if abs(total) >= abs(x):
            compensation += (total - new_total) + x
        else:
            compensation += (x - new_total) + total
        total = new_total
    return total + compensation if compensation and math.isfinite(compensation) else total


def _columns_with_gaps(rng: np.random.Generator, depth: int, size: int) -> list[np.ndarray]:
    magnitudes = 10.0 ** rng.integers(-6, 17, (depth, size))
    columns = np.round(rng.uniform(-1, 1, (depth, size)) * magnitudes, 6)
    columns[rng.random((depth, size)) < 0.2] = np.nan
    return list(columns)


@pytest.mark.parametrize("compensated", [False, True], ids=["plain sum", "compensated sum"])
def test_the_batch_sum_adds_up_the_present_points_in_order_like_sum(compensated):
    rng = np.random.default_rng(3)
    columns = _columns_with_gaps(rng, 6, 3000)
    total, count = python_sum(columns, compensated)
    python = cpython_compensated_sum if compensated else sum
    for i in range(3000):
        present = [float(c[i]) for c in columns if not math.isnan(c[i])]
        assert count[i] == len(present)
        assert total[i] == python(present) or not present


def test_the_batch_sum_adds_up_like_this_interpreters_sum():
    rng = np.random.default_rng(4)
    columns = _columns_with_gaps(rng, 5, 3000)
    total, _ = python_sum(columns, COMPENSATED_SUM)
    expected = [sum(float(c[i]) for c in columns if not math.isnan(c[i])) for i in range(3000)]
    assert total.tolist() == expected
