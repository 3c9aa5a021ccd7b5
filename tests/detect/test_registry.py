from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alarm_backends.service.detect.history import MappingHistory
from alarm_backends.service.detect.registry import (
    ALGORITHM_TYPES,
    AlgorithmConfigError,
    compile_algorithm,
    is_anomaly,
    required_history,
    validate_algorithm,
)
from tests.detect.helpers import DAY, INTERVAL, WEEK, T, algorithm

VALID = {
    "Threshold": [[{"method": "gte", "threshold": 90}, {"method": "lt", "threshold": 100}], [{"method": "eq", "threshold": 0}]],
    "SimpleRingRatio": {"floor": 10, "ceil": 10},
    "SimpleYearRound": {"floor": 10, "ceil": 10},
    "AdvancedRingRatio": {"floor": 10, "ceil": 10, "floor_interval": 5, "ceil_interval": 5, "fetch_type": "avg"},
    "AdvancedYearRound": {"floor": 10, "ceil": 10, "floor_interval": 5, "ceil_interval": 5, "fetch_type": "avg"},
    "RingRatioAmplitude": {"ratio": 0.5, "shock": 1, "threshold": 10},
    "YearRoundAmplitude": {"ratio": 1, "shock": 0, "days": 7, "method": "gte"},
    "YearRoundRange": {"ratio": 1, "shock": 0, "days": 7, "method": "gte"},
}


def test_algorithm_types_are_the_eight_of_section_5():
    assert set(ALGORITHM_TYPES) == set(VALID) and len(ALGORITHM_TYPES) == 8


@pytest.mark.parametrize(
    "algo",
    [pytest.param(algorithm(kind, config), id=f"the bk-monitor shape of {kind} is valid") for kind, config in VALID.items()]
    + [
        pytest.param(algorithm("SimpleRingRatio", {"floor": None, "ceil": 10}), id="a null floor is valid"),
        pytest.param(algorithm("SimpleRingRatio", {"floor": 0, "ceil": 10}), id="a zero floor is valid"),
        pytest.param(algorithm("SimpleRingRatio", {"floor": 99.9, "ceil": 500}), id="a floor below 100 is valid"),
        pytest.param(
            algorithm("AdvancedRingRatio", {"floor": 10, "ceil": None, "floor_interval": 3, "ceil_interval": None}),
            id="an advanced config without fetch_type or ceil is valid",
        ),
        pytest.param(algorithm("Threshold", VALID["Threshold"], unit_prefix="Mi"), id="a known unit prefix is valid"),
        pytest.param(algorithm("Threshold", VALID["Threshold"], unit_prefix=""), id="an empty unit prefix is valid"),
        pytest.param({"type": "Threshold", "config": VALID["Threshold"]}, id="level is optional"),
        pytest.param(algorithm("YearRoundRange", {**VALID["YearRoundRange"], "method": "neq"}), id="neq is a valid method"),
        pytest.param(algorithm("RingRatioAmplitude", {"ratio": -1, "shock": -2, "threshold": -3}), id="negative amplitude values are valid"),
        pytest.param(algorithm("YearRoundRange", {**VALID["YearRoundRange"], "days": 7.0}), id="a whole float day count is valid"),
    ],
)
def test_valid_algorithms_pass_validation(algo):
    validate_algorithm(algo)


THR = "Threshold"
SRR = "SimpleRingRatio"
ARR = "AdvancedRingRatio"
AYR = "AdvancedYearRound"
ADV = VALID[ARR]


@pytest.mark.parametrize(
    ("algo", "field", "rule"),
    [
        pytest.param(algorithm("Foo", {}), "type", "unknown algorithm type", id="an unknown type names type"),
        pytest.param({"config": {}}, "type", "unknown algorithm type", id="a missing type names type"),
        pytest.param({"type": THR}, "config", "required", id="a missing config names config"),
        pytest.param("Threshold", "algorithm", "object", id="a non-object algorithm names algorithm"),
        pytest.param(algorithm(THR, VALID[THR]) | {"level": 4}, "level", "1 (fatal)", id="level 4 names level"),
        pytest.param(algorithm(THR, VALID[THR]) | {"level": True}, "level", "1 (fatal)", id="a boolean level names level"),
        pytest.param(algorithm(THR, []), "config", "non-empty list", id="an empty threshold list names config"),
        pytest.param(algorithm(THR, {"method": "gte"}), "config", "non-empty list", id="a threshold object names config"),
        pytest.param(algorithm(THR, [[]]), "config[0]", "non-empty list", id="an empty and-group names the group"),
        pytest.param(algorithm(THR, [["gte"]]), "config[0][0]", "object", id="a non-object condition names it"),
        pytest.param(algorithm(THR, [[{"method": "gte"}]]), "config[0][0].threshold", "required", id="a missing threshold names it"),
        pytest.param(algorithm(THR, [[{"method": "gte", "threshold": "90"}]]), "config[0][0].threshold", "finite number", id="a string threshold names it"),
        pytest.param(algorithm(THR, [[{"method": "gte", "threshold": True}]]), "config[0][0].threshold", "finite number", id="a boolean threshold names it"),
        pytest.param(algorithm(THR, [[{"method": "gte", "threshold": float("nan")}]]), "config[0][0].threshold", "finite number", id="a NaN threshold names it"),
        pytest.param(algorithm(THR, [[{"method": "gte", "threshold": None}]]), "config[0][0].threshold", "null", id="a null threshold names it"),
        pytest.param(
            algorithm(THR, [[{"method": "gte", "threshold": 90}, {"method": "approx", "threshold": 1}]]),
            "config[0][1].method", "one of gt, gte, lt, lte, eq, neq", id="an unknown method names its position",
        ),
        pytest.param(algorithm(THR, [[{"threshold": 1}]]), "config[0][0].method", "required", id="a missing method names it"),
        pytest.param(algorithm(THR, [[{"method": "gte", "threshold": 1, "unit": "%"}]]), "config[0][0].unit", "unknown key", id="an unknown condition key names it"),
        pytest.param(algorithm(SRR, [10, 10]), "config", "object", id="a list ring ratio config names config"),
        pytest.param(algorithm(SRR, {"floor": -1, "ceil": 10}), "config.floor", ">= 0", id="a negative floor names floor"),
        pytest.param(algorithm(SRR, {"floor": 100, "ceil": 10}), "config.floor", "< 100", id="a floor of 100 names floor"),
        pytest.param(algorithm("SimpleYearRound", {"floor": 150, "ceil": 10}), "config.floor", "< 100", id="a year round floor above 100 names floor"),
        pytest.param(algorithm(SRR, {"floor": 10, "ceil": -5}), "config.ceil", ">= 0", id="a negative ceil names ceil"),
        pytest.param(algorithm(SRR, {"floor": 10, "ceil": "10"}), "config.ceil", "finite number", id="a string ceil names ceil"),
        pytest.param(algorithm(SRR, {"floor": 10}), "config.ceil", "required", id="a missing ceil names ceil"),
        pytest.param(algorithm(SRR, {"floor": 0, "ceil": 0}), "config", "at least one", id="zero floor and ceil name config"),
        pytest.param(algorithm(SRR, {"floor": None, "ceil": None}), "config", "at least one", id="null floor and ceil name config"),
        pytest.param(algorithm(SRR, {"floor": 10, "celi": 10}), "config.celi", "unknown key", id="a misspelt key names it"),
        pytest.param(algorithm(ARR, {**ADV, "fetch_type": "max"}), "config.fetch_type", "avg, last", id="an unknown fetch_type names it"),
        pytest.param(algorithm(ARR, {**ADV, "floor_interval": 0}), "config.floor_interval", "between 1 and", id="a zero floor_interval names it"),
        pytest.param(algorithm(ARR, {**ADV, "ceil_interval": -1}), "config.ceil_interval", "between 1 and", id="a negative ceil_interval names it"),
        pytest.param(algorithm(ARR, {**ADV, "floor_interval": 2.5}), "config.floor_interval", "integer", id="a fractional floor_interval names it"),
        pytest.param(algorithm(ARR, {**ADV, "floor_interval": 10**9}), "config.floor_interval", "between 1 and 1440", id="an enormous floor_interval names it"),
        pytest.param(algorithm(ARR, {**ADV, "floor_interval": None}), "config.floor_interval", "required when floor is set", id="a floor without floor_interval names it"),
        pytest.param(algorithm(ARR, {**ADV, "ceil_interval": None}), "config.ceil_interval", "required when ceil is set", id="a ceil without ceil_interval names it"),
        pytest.param(algorithm(ARR, {**ADV, "floor": 100}), "config.floor", "< 100", id="an advanced floor of 100 names floor"),
        pytest.param(algorithm(AYR, {**ADV, "ceil_interval": 0}), "config.ceil_interval", "between 1 and", id="a zero year round ceil_interval names it"),
        pytest.param(algorithm(AYR, {**ADV, "ceil_interval": 400}), "config.ceil_interval", "between 1 and 365", id="more than a year of days names it"),
        pytest.param(algorithm("RingRatioAmplitude", {"ratio": 0.5, "threshold": 10}), "config.shock", "required", id="a missing shock names it"),
        pytest.param(algorithm("RingRatioAmplitude", {"ratio": "x", "shock": 1, "threshold": 10}), "config.ratio", "finite number", id="a string ratio names it"),
        pytest.param(algorithm("YearRoundAmplitude", {**VALID["YearRoundAmplitude"], "days": 0}), "config.days", "between 1 and", id="zero days names days"),
        pytest.param(algorithm("YearRoundAmplitude", {**VALID["YearRoundAmplitude"], "days": 1.5}), "config.days", "integer", id="fractional days names days"),
        pytest.param(algorithm("YearRoundAmplitude", {**VALID["YearRoundAmplitude"], "days": True}), "config.days", "integer", id="boolean days names days"),
        pytest.param(algorithm("YearRoundAmplitude", {**VALID["YearRoundAmplitude"], "method": "approx"}), "config.method", "one of", id="an unknown year round method names it"),
        pytest.param(algorithm("YearRoundRange", {"ratio": 1, "shock": 0, "method": "gte"}), "config.days", "required", id="missing days names days"),
        pytest.param(algorithm(THR, VALID[THR], unit_prefix="furlong"), "unit_prefix", "unknown unit", id="an unknown unit prefix names it"),
        pytest.param(algorithm(THR, VALID[THR], unit_prefix=5), "unit_prefix", "unknown unit", id="a numeric unit prefix names it"),
    ],
)
def test_invalid_algorithms_name_the_field_and_the_rule(algo, field, rule):
    with pytest.raises(AlgorithmConfigError) as raised:
        validate_algorithm(algo)
    assert raised.value.field == field
    assert rule in raised.value.message
    assert str(raised.value).startswith(f"{field}: ")


def test_algorithm_config_error_is_a_value_error():
    assert issubclass(AlgorithmConfigError, ValueError)


@pytest.mark.parametrize(
    ("prefix", "metric_unit", "error"),
    [
        pytest.param("%", "bytes", True, id="a percent prefix on a bytes metric is rejected"),
        pytest.param("ms", "GiB", True, id="a time prefix on a bytes metric is rejected"),
        pytest.param("Mi", "percentunit", True, id="a bytes prefix on a fraction metric is rejected"),
        pytest.param("Mi", "bytes", False, id="a bytes prefix on a bytes metric is accepted"),
        pytest.param("%", "percentunit", False, id="a percent prefix on a fraction metric is accepted"),
        pytest.param("%", "ops", False, id="an unknown metric unit cannot be checked"),
        pytest.param("%", "", False, id="a metric without a unit cannot be checked"),
    ],
)
def test_validation_rejects_a_prefix_incompatible_with_a_known_metric_unit(prefix, metric_unit, error):
    algo = algorithm("Threshold", VALID["Threshold"], unit_prefix=prefix)
    if error:
        with pytest.raises(AlgorithmConfigError) as raised:
            validate_algorithm(algo, metric_unit)
        assert raised.value.field == "unit_prefix"
        assert repr(metric_unit) in raised.value.message
    else:
        validate_algorithm(algo, metric_unit)


def adv(floor_interval: int | None, ceil_interval: int | None, **extra) -> dict:
    return {"floor": 10, "ceil": 10, "floor_interval": floor_interval, "ceil_interval": ceil_interval, **extra}


@pytest.mark.parametrize(
    ("kind", "config", "interval", "expected"),
    [
        pytest.param("Threshold", VALID["Threshold"], 60, [], id="threshold reads no history"),
        pytest.param("SimpleRingRatio", VALID["SimpleRingRatio"], 60, [60], id="simple ring ratio reads one interval back"),
        pytest.param("SimpleRingRatio", VALID["SimpleRingRatio"], 300, [300], id="simple ring ratio follows the interval"),
        pytest.param("SimpleYearRound", VALID["SimpleYearRound"], 60, [WEEK], id="simple year round reads one week back"),
        pytest.param("AdvancedRingRatio", adv(2, 4), 60, [60, 120, 180, 240], id="advanced ring ratio reads the longer interval's points"),
        pytest.param("AdvancedRingRatio", adv(3, 1), 300, [300, 600, 900], id="advanced ring ratio floor interval can be the longer"),
        pytest.param(
            "AdvancedRingRatio", {"floor": 0, "ceil": 10, "floor_interval": 9, "ceil_interval": 2}, 60, [60, 120],
            id="a switched-off side does not widen the history",
        ),
        pytest.param("AdvancedYearRound", adv(2, 3), 60, [DAY, 2 * DAY, 3 * DAY], id="advanced year round reads whole days back"),
        pytest.param("RingRatioAmplitude", VALID["RingRatioAmplitude"], 60, [60], id="ring ratio amplitude reads one interval back"),
        pytest.param(
            "YearRoundAmplitude", {"ratio": 1, "shock": 0, "days": 2, "method": "gte"}, 60,
            [60, DAY, DAY + 60, 2 * DAY, 2 * DAY + 60], id="year round amplitude reads each day and the interval before it",
        ),
        pytest.param(
            "YearRoundRange", {"ratio": 1, "shock": 0, "days": 3, "method": "gte"}, 60, [DAY, 2 * DAY, 3 * DAY],
            id="year round range reads the same time on each day",
        ),
    ],
)
def test_required_history_lists_the_offsets_read(kind, config, interval, expected):
    assert required_history(algorithm(kind, config), interval) == expected


class RecordingHistory:
    """Answers 1.0 for every timestamp and remembers which were asked for."""

    def __init__(self) -> None:
        self.asked: set[int] = set()

    def get(self, timestamp: int) -> float | None:
        self.asked.add(timestamp)
        return 1.0


@pytest.mark.parametrize("kind", list(VALID))
@pytest.mark.parametrize("interval", [60, 300])
def test_detectors_never_read_outside_the_required_history(kind, interval):
    # the history store keeps only these offsets; "any day" algorithms may stop early
    algo = algorithm(kind, VALID[kind])
    history = RecordingHistory()
    compile_algorithm(algo)(5.0, T, interval, history)
    assert history.asked <= {T - offset for offset in required_history(algo, interval)}
    assert bool(history.asked) is (kind != "Threshold")


def test_required_history_rejects_an_invalid_algorithm():
    with pytest.raises(AlgorithmConfigError):
        required_history(algorithm("SimpleRingRatio", {"floor": 0, "ceil": 0}), 60)


def test_compiled_and_one_off_detection_agree():
    algo = algorithm("SimpleRingRatio", VALID["SimpleRingRatio"])
    detector = compile_algorithm(algo)
    for value in (0, 80, 90, 100, 110, 120):
        history = MappingHistory({T - INTERVAL: 100})
        assert detector(value, T, INTERVAL, history) is is_anomaly(algo, value, T, INTERVAL, history)


def test_is_anomaly_sees_a_changed_algorithm_dict():
    algo = algorithm("Threshold", [[{"method": "gte", "threshold": 90}]])
    assert is_anomaly(algo, 50, T, INTERVAL, MappingHistory()) is False
    algo["config"][0][0]["threshold"] = 10
    assert is_anomaly(algo, 50, T, INTERVAL, MappingHistory()) is True


def test_a_plain_dict_serves_as_history():
    algo = algorithm("SimpleRingRatio", VALID["SimpleRingRatio"])
    assert is_anomaly(algo, 50, T, INTERVAL, {T - INTERVAL: 100.0}) is True


def test_the_detect_package_imports_no_django_redis_or_database():
    root = Path(__file__).resolve().parents[2]
    code = (
        "import sys\n"
        "import alarm_backends.service.detect.level, alarm_backends.service.detect.registry\n"
        "import alarm_backends.service.detect.units, alarm_backends.service.detect.history\n"
        "heavy = {'django', 'redis', 'valkey', 'psycopg', 'psycopg2', 'confluent_kafka', 'kafka'}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
