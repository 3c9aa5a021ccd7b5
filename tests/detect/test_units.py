from __future__ import annotations

import logging

import pytest

from alarm_backends.service.detect import registry, units
from alarm_backends.service.detect.history import MappingHistory
from alarm_backends.service.detect.registry import compile_algorithm, is_anomaly
from tests.detect.helpers import DAY, INTERVAL, T, algorithm, history_before


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        pytest.param(5, "percent", 5, id="percent stays in percent"),
        pytest.param(5, "%", 5, id="the percent sign stays in percent"),
        pytest.param(0.05, "percentunit", 5, id="percentunit is a fraction of one"),
        pytest.param(3, "bytes", 3, id="bytes are the byte base"),
        pytest.param(3, "B", 3, id="B is bytes"),
        pytest.param(1, "k", 1000, id="k is a thousand bytes"),
        pytest.param(1, "KB", 1000, id="KB is a thousand bytes"),
        pytest.param(1, "M", 1000**2, id="M is a million bytes"),
        pytest.param(2, "GB", 2 * 1000**3, id="GB is a billion bytes"),
        pytest.param(1, "Ki", 1024, id="Ki is 1024 bytes"),
        pytest.param(1, "KiB", 1024, id="KiB is 1024 bytes"),
        pytest.param(1, "Mi", 1024**2, id="Mi is 1024 squared bytes"),
        pytest.param(3, "GiB", 3 * 1024**3, id="GiB is 1024 cubed bytes"),
        pytest.param(1500, "ms", 1.5, id="milliseconds become seconds"),
        pytest.param(250, "µs", 0.00025, id="microseconds become seconds"),
        pytest.param(250, "us", 0.00025, id="us is microseconds"),
        pytest.param(2, "s", 2, id="seconds are the time base"),
        pytest.param(2, "min", 120, id="minutes become seconds"),
        pytest.param(1.5, "h", 5400, id="hours become seconds"),
        pytest.param(7, "ops", 7, id="an unknown unit leaves the value alone"),
        pytest.param(7, "", 7, id="no unit leaves the value alone"),
    ],
)
def test_normalise_expresses_a_value_in_its_base_unit(value, unit, expected):
    assert units.normalise(value, unit) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        pytest.param("Mi", "bytes", 1024**2, id="Mi into bytes"),
        pytest.param("bytes", "KiB", 1 / 1024, id="bytes into KiB"),
        pytest.param("Mi", "MB", 1.048576, id="Mi into MB"),
        pytest.param("ms", "s", 0.001, id="ms into seconds"),
        pytest.param("min", "ms", 60000, id="minutes into ms"),
        pytest.param("%", "percentunit", 0.01, id="percent into a fraction"),
        pytest.param("percentunit", "%", 100, id="a fraction into percent"),
        pytest.param("", "bytes", 1, id="no prefix means the metric's unit"),
        pytest.param("s", "s", 1, id="the same unit"),
        pytest.param("ops", "ops", 1, id="the same unknown unit"),
        pytest.param("%", "bytes", None, id="percent cannot become bytes"),
        pytest.param("ms", "GB", None, id="time cannot become bytes"),
        pytest.param("Mi", "ops", None, id="a known unit cannot become an unknown one"),
        pytest.param("Mi", "", None, id="a known unit cannot become no unit"),
    ],
)
def test_conversion_factor_between_units(source, target, expected):
    factor = units.conversion_factor(source, target)
    if expected is None:
        assert factor is None
    else:
        assert factor == pytest.approx(expected, rel=1e-12)


def gte(threshold: float, prefix: str) -> dict:
    return algorithm("Threshold", [[{"method": "gte", "threshold": threshold}]], unit_prefix=prefix)


@pytest.mark.parametrize(
    ("algo", "metric_unit", "value", "expected"),
    [
        pytest.param(gte(1, "Mi"), "bytes", 1048576, True, id="1 Mi on a bytes metric is 1048576 bytes"),
        pytest.param(gte(1, "Mi"), "bytes", 1048575, False, id="one byte below 1 Mi is normal"),
        pytest.param(gte(1, "Mi"), "MB", 1.048576, True, id="1 Mi on an MB metric is 1.048576 MB"),
        pytest.param(gte(1, "Mi"), "MB", 1.04857, False, id="just below 1 Mi in MB is normal"),
        pytest.param(gte(2, "G"), "GiB", 1.862645, True, id="2 G on a GiB metric is 1.862645 GiB after rounding"),
        pytest.param(gte(2, "G"), "GiB", 1.862644, False, id="just below 2 G in GiB is normal"),
        pytest.param(gte(500, "ms"), "s", 0.5, True, id="500 ms on a seconds metric is 0.5 s"),
        pytest.param(gte(500, "ms"), "s", 0.499, False, id="499 ms is below 500 ms"),
        pytest.param(gte(1, "min"), "ms", 60000, True, id="1 min on a ms metric is 60000 ms"),
        pytest.param(gte(90, "%"), "percentunit", 0.9, True, id="90 percent on a fraction metric is 0.9"),
        pytest.param(gte(90, "%"), "percentunit", 0.89, False, id="0.89 is below 90 percent"),
        pytest.param(gte(90, "%"), "percent", 90, True, id="90 percent on a percent metric is 90"),
        pytest.param(gte(90, ""), "bytes", 90, True, id="no prefix compares in the metric's unit"),
        pytest.param(gte(90, ""), "bytes", 89, False, id="no prefix does not rescale"),
        pytest.param(gte(1, "Ki"), "kbytes", 1, True, id="Grafana kbytes are KiB"),
    ],
)
def test_threshold_unit_prefix_is_converted_into_the_metric_unit(algo, metric_unit, value, expected):
    assert is_anomaly(algo, value, T, INTERVAL, MappingHistory(), metric_unit) is expected


@pytest.mark.parametrize(
    ("algo", "metric_unit", "value", "history", "expected"),
    [
        pytest.param(
            algorithm("RingRatioAmplitude", {"ratio": 0, "shock": 500, "threshold": 1000}, "ms"),
            "s", 2, {INTERVAL: 1}, True, id="ring amplitude threshold and shock convert from ms to s",
        ),
        pytest.param(
            algorithm("RingRatioAmplitude", {"ratio": 0, "shock": 500, "threshold": 1000}, "ms"),
            "s", 1.4, {INTERVAL: 1}, False, id="a 0.4 s jump misses a 500 ms shock",
        ),
        pytest.param(
            algorithm("RingRatioAmplitude", {"ratio": 0, "shock": 500, "threshold": 1000}, "ms"),
            "s", 0.9, {INTERVAL: 0.2}, False, id="0.9 s is below a 1000 ms threshold",
        ),
        pytest.param(
            algorithm("YearRoundRange", {"ratio": 1, "shock": 1, "days": 1, "method": "gte"}, "Ki"),
            "bytes", 2048, {DAY: 1024}, True, id="year round range shock converts from Ki to bytes",
        ),
        pytest.param(
            algorithm("YearRoundRange", {"ratio": 1, "shock": 1, "days": 1, "method": "gte"}, "Ki"),
            "bytes", 2047, {DAY: 1024}, False, id="one byte short of the Ki shock is normal",
        ),
        pytest.param(
            algorithm("YearRoundAmplitude", {"ratio": 1, "shock": 500, "days": 1, "method": "gte"}, "B"),
            "KB", 1.5, {INTERVAL: 1, DAY: 1, DAY + INTERVAL: 1}, True,
            id="year round amplitude shock converts from B to KB",
        ),
        pytest.param(
            algorithm("YearRoundAmplitude", {"ratio": 1, "shock": 500, "days": 1, "method": "gte"}, "B"),
            "KB", 1.4, {INTERVAL: 1, DAY: 1, DAY + INTERVAL: 1}, False, id="a 0.4 KB change misses a 500 B shock",
        ),
        pytest.param(
            algorithm("SimpleRingRatio", {"floor": 10, "ceil": 10}, "Mi"),
            "bytes", 90, {INTERVAL: 100}, True, id="ratio algorithms ignore the prefix",
        ),
    ],
)
def test_absolute_parameters_convert_into_the_metric_unit(algo, metric_unit, value, history, expected):
    assert is_anomaly(algo, value, T, INTERVAL, history_before(history), metric_unit) is expected


@pytest.mark.parametrize(
    ("metric_unit", "value", "expected"),
    [
        pytest.param("bytes", 95, True, id="a percent prefix on a bytes metric compares raw numbers above"),
        pytest.param("bytes", 85, False, id="a percent prefix on a bytes metric compares raw numbers below"),
        pytest.param("ops", 95, True, id="a percent prefix on an unknown metric unit compares raw numbers"),
    ],
)
def test_incompatible_units_fall_back_to_raw_numbers_at_detect_time(metric_unit, value, expected):
    assert is_anomaly(gte(90, "%"), value, T, INTERVAL, MappingHistory(), metric_unit) is expected


def test_incompatible_units_are_logged_once(monkeypatch, caplog):
    monkeypatch.setattr(registry, "_warned_unit_pairs", set())
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        for _ in range(3):
            compile_algorithm(gte(90, "%"), "bytes")
        compile_algorithm(gte(90, "ms"), "bytes")
    messages = [r.getMessage() for r in caplog.records if r.name == registry.__name__]
    assert len(messages) == 2
    assert "'%'" in messages[0] and "'bytes'" in messages[0]
    assert "'ms'" in messages[1]


def test_compatible_units_are_not_logged(monkeypatch, caplog):
    monkeypatch.setattr(registry, "_warned_unit_pairs", set())
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        compile_algorithm(gte(1, "Mi"), "bytes")
    assert not [r for r in caplog.records if r.name == registry.__name__]


def test_algorithms_without_absolute_values_never_warn_about_units(monkeypatch, caplog):
    monkeypatch.setattr(registry, "_warned_unit_pairs", set())
    with caplog.at_level(logging.WARNING, logger=registry.__name__):
        compile_algorithm(algorithm("SimpleRingRatio", {"floor": 10, "ceil": 10}, "%"), "bytes")
    assert not [r for r in caplog.records if r.name == registry.__name__]
