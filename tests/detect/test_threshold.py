from __future__ import annotations

import pytest

from alarm_backends.service.detect.history import MappingHistory
from alarm_backends.service.detect.registry import is_anomaly
from tests.detect.helpers import INTERVAL, T, algorithm, history_before


def one(method: str, threshold: float) -> list[list[dict]]:
    return [[{"method": method, "threshold": threshold}]]


BAND = [[{"method": "gte", "threshold": 90}, {"method": "lt", "threshold": 100}]]
BAND_OR_ZERO = BAND + [[{"method": "eq", "threshold": 0}]]


@pytest.mark.parametrize(
    ("config", "value", "expected"),
    [
        pytest.param(one("gt", 90), 90, False, id="gt is false at the threshold"),
        pytest.param(one("gt", 90), 90.1, True, id="gt is true above the threshold"),
        pytest.param(one("gte", 90), 90, True, id="gte is true at the threshold"),
        pytest.param(one("gte", 90), 89.9, False, id="gte is false below the threshold"),
        pytest.param(one("lt", 10), 9, True, id="lt is true below the threshold"),
        pytest.param(one("lt", 10), 10, False, id="lt is false at the threshold"),
        pytest.param(one("lte", 10), 10, True, id="lte is true at the threshold"),
        pytest.param(one("lte", 10), 10.5, False, id="lte is false above the threshold"),
        pytest.param(one("eq", 0), 0, True, id="eq zero matches a zero value"),
        pytest.param(one("eq", 0), 0.000001, False, id="eq zero misses a value at the sixth decimal"),
        pytest.param(one("eq", 0), 0.0000004, True, id="eq zero matches a value that rounds to zero"),
        pytest.param(one("neq", 0), 0, False, id="neq zero is false for zero"),
        pytest.param(one("neq", 0), 1, True, id="neq zero is true for one"),
        pytest.param(one("gte", 0), 0, True, id="gte zero is true for a zero value"),
        pytest.param(one("lt", -5), -5.5, True, id="negative thresholds compare as numbers"),
        pytest.param(one("gte", 0.3), 0.1 + 0.2, True, id="0.1 plus 0.2 is gte 0.3 after rounding"),
        pytest.param(one("eq", 0.3), 0.1 + 0.2, True, id="0.1 plus 0.2 equals 0.3 after rounding"),
        pytest.param(one("gt", 0.3), 0.1 + 0.2, False, id="0.1 plus 0.2 is not gt 0.3 after rounding"),
        pytest.param(one("eq", 0.1234564), 0.123456, True, id="thresholds are rounded to six places too"),
        pytest.param(BAND, 95, True, id="an and group holds when every condition holds"),
        pytest.param(BAND, 100, False, id="an and group fails when one condition fails"),
        pytest.param(BAND, 89, False, id="an and group fails when the other condition fails"),
        pytest.param(BAND_OR_ZERO, 0, True, id="or groups hold when the second group holds"),
        pytest.param(BAND_OR_ZERO, 95, True, id="or groups hold when the first group holds"),
        pytest.param(BAND_OR_ZERO, 50, False, id="or groups fail when no group holds"),
    ],
)
def test_threshold_compares_the_rounded_value_with_each_and_group(config, value, expected):
    assert is_anomaly(algorithm("Threshold", config), value, T, INTERVAL, MappingHistory()) is expected


def test_threshold_ignores_history():
    history = history_before({INTERVAL: 1000.0, 7 * 86400: 1000.0})
    assert is_anomaly(algorithm("Threshold", one("gte", 90)), 50, T, INTERVAL, history) is False
    assert is_anomaly(algorithm("Threshold", one("gte", 90)), 95, T, INTERVAL, history) is True
