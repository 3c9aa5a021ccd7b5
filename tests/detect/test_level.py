from __future__ import annotations

import pytest

from alarm_backends.service.detect.errors import AlgorithmConfigError
from alarm_backends.service.detect.history import MappingHistory
from alarm_backends.service.detect.level import compile_level, detect_level
from tests.detect.helpers import INTERVAL, T, algorithm, history_before


def gte(threshold: float, unit_prefix: str | None = None) -> dict:
    return algorithm("Threshold", [[{"method": "gte", "threshold": threshold}]], unit_prefix)


RING = algorithm("SimpleRingRatio", {"floor": 10, "ceil": 10})


@pytest.mark.parametrize(
    ("algorithms", "connector", "value", "history", "expected"),
    [
        pytest.param([gte(90), gte(95)], "and", 96, {}, True, id="and holds when every algorithm is anomalous"),
        pytest.param([gte(90), gte(95)], "and", 92, {}, False, id="and fails when one algorithm is normal"),
        pytest.param([gte(90), gte(95)], "or", 92, {}, True, id="or holds when one algorithm is anomalous"),
        pytest.param([gte(90), gte(95)], "or", 50, {}, False, id="or fails when every algorithm is normal"),
        pytest.param([gte(90), RING], "and", 95, {INTERVAL: 50}, True, id="and combines a threshold and a ring ratio"),
        pytest.param([gte(90), RING], "and", 95, {}, False, id="and fails when a ring ratio lacks history"),
        pytest.param([gte(90), RING], "or", 95, {}, True,
                     id="or holds on the threshold when a ring ratio lacks history"),
        pytest.param([gte(90)], "and", 95, {}, True, id="a single algorithm decides alone under and"),
        pytest.param([gte(90)], "or", 85, {}, False, id="a single algorithm decides alone under or"),
        pytest.param([], "and", 95, {}, False, id="an empty level is never anomalous under and"),
        pytest.param([], "or", 95, {}, False, id="an empty level is never anomalous under or"),
    ],
)
def test_a_level_combines_its_algorithms_by_the_connector(algorithms, connector, value, history, expected):
    assert detect_level(algorithms, connector, value, T, INTERVAL, history_before(history)) is expected
    assert compile_level(algorithms, connector)(value, T, INTERVAL, history_before(history)) is expected


@pytest.mark.parametrize(
    ("metric_unit", "value", "expected"),
    [
        pytest.param("bytes", 1048576, True, id="the metric unit reaches every algorithm of the level"),
        pytest.param("bytes", 1048575, False, id="the metric unit rescales the prefix before comparing"),
    ],
)
def test_a_level_passes_the_metric_unit_to_its_algorithms(metric_unit, value, expected):
    algorithms = [gte(1, "Mi"), gte(1000, "k")]
    assert detect_level(algorithms, "and", value, T, INTERVAL, MappingHistory(), metric_unit) is expected


@pytest.mark.parametrize("connector", ["AND", "xor", "", None])
def test_an_unknown_connector_names_connector(connector):
    with pytest.raises(AlgorithmConfigError) as raised:
        detect_level([gte(90)], connector, 95, T, INTERVAL, MappingHistory())
    assert raised.value.field == "connector"


def test_an_invalid_algorithm_in_a_level_names_its_field():
    with pytest.raises(AlgorithmConfigError) as raised:
        detect_level([gte(90), algorithm("Threshold", [])], "or", 95, T, INTERVAL, MappingHistory())
    assert raised.value.field == "config"
