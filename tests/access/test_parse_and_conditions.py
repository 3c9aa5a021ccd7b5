from typing import Any

import orjson
import pytest

from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.service.access.data.conditions import compile_conditions
from alarm_backends.service.access.data.parse import _parse_checked, parse_metric_message
from tests.faults.test_properties import targets_a_strategy_can_make

NOW = 1_700_000_040
LATEST = NOW + 300  # the latest time accepted, as the processor passes it: the wall clock plus the skew


def point(t: Any = NOW, **dimensions: Any) -> dict[str, Any]:
    return {"time": t, "dimensions": dimensions, "metrics": {"a": 1.5}}


def test_a_single_object_and_an_array_both_parse_into_points() -> None:
    one = parse_metric_message(b'{"time": 1573701305, "dimensions": {"ip": "1"}, "metrics": {"load1": 2.77}}')
    assert [(p.time, p.dimensions, p.metrics) for p in one] == [(1573701305, {"ip": "1"}, {"load1": 2.77})]
    many = parse_metric_message(b'[{"time": 1, "metrics": {"a": 1}}, {"time": 2, "metrics": {"a": 2}}]')
    assert [p.time for p in many] == [1, 2] and many[0].dimensions == {}


def test_millisecond_times_become_seconds_and_trailing_nul_or_newline_is_stripped() -> None:
    [p] = parse_metric_message(b'{"time": 1573701305123, "metrics": {"a": 1}}\x00\n')
    assert p.time == 1573701305


@pytest.mark.parametrize("raw", [
    b'{"time": 1573701305, "dimensions": {"ip": "1", "n": 3, "up": true, "x": null}, "metrics": {"a": 2.5, "b": 7}}',
    b'{"time": 1573701305, "metrics": {"a": 1}, "extra": {"ignored": [1, 2]}}',
    b'{"time": 1573701305.9, "metrics": {"a": 1}}',
    b'{"time": 1573701305123, "metrics": {"a": 1}}',
    b'[{"time": 1, "metrics": {"a": 1}}, {"time": 2, "metrics": {"a": 2}, "dimensions": {"k": "v"}}]',
    b'{"time": 1573701305, "metrics": {"a": 1e308, "b": -0.0}}\x00',
    b'[{"time": 1573701305123, "metrics": {"a": 1}}, {"time": 1573701306, "metrics": {"a": 2}}]',
    b'[{"time": 1573701305123, "metrics": {"a": 1}}, {"time": 1573701306999, "metrics": {"a": 2}}]\n',
    b'{"time": 1000000000000, "metrics": {"a": 1}}',  # the largest time read as seconds
    b'{"time": 1000000000001, "metrics": {"a": 1}}',  # the smallest read as milliseconds
    orjson.dumps(point(bk_target_ip="1" * 200, bk_target_cloud_id="0", path="/" * 1000)),
])
def test_the_fast_decoder_gives_the_points_the_checked_parser_gives(raw: bytes) -> None:
    assert parse_metric_message(raw) == _parse_checked(raw)
    assert outcome(parse_metric_message, raw, LATEST) == outcome(_parse_checked, raw, LATEST)


def outcome(parser: Any, raw: bytes, latest: int) -> Any:
    """The points, or the reason of the refusal."""
    try:
        return parser(raw, latest)
    except InvalidMessage as exc:
        return f"refused: {exc}"


@pytest.mark.parametrize("message, reason", [
    (point(LATEST + 1), "point 0: 'time' 1700000341 is 1 s past the latest time accepted"),
    (point((LATEST + 1) * 1000), "point 0: 'time' 1700000341000 is 1 s past the latest time accepted"),
    ([point(NOW), point((LATEST + 60) * 1000 + 999)], "point 1: 'time' 1700000400999 is 60 s past"),
    ([point(NOW * 1000), point(LATEST + 5)], "point 1: 'time' 1700000345 is 5 s past"),
])
def test_a_time_ahead_of_the_latest_accepted_is_refused_alike_in_seconds_and_milliseconds(
        message: Any, reason: str) -> None:
    raw = orjson.dumps(message)
    with pytest.raises(InvalidMessage, match=reason) as fast:
        parse_metric_message(raw, LATEST)
    with pytest.raises(InvalidMessage) as checked:
        _parse_checked(raw, LATEST)
    assert str(fast.value) == str(checked.value)


def test_the_last_millisecond_of_the_latest_second_accepted_is_that_second() -> None:
    raw = orjson.dumps([point(LATEST * 1000 + 999), point(LATEST)])
    assert [p.time for p in parse_metric_message(raw, LATEST)] == [LATEST, LATEST]


@pytest.mark.parametrize("dimensions, source, length", [
    # a strategy grouping by ip but not by bk_target_ip takes its target from ip
    ({"bk_target_ip": "10.0.0.1", "ip": "1" * 300}, "ip", 305),  # "<ip>|None"
    ({"bk_target_ip": "1" * 100, "bk_target_cloud_id": "2" * 200}, "bk_target_ip", 301),
    # "<ip>|None" for a strategy grouping by a cloud id the message lacks
    ({"bk_target_ip": "1" * 251}, "bk_target_ip", 256),
    ({"bk_target_ip": "1" * 254, "bk_target_cloud_id": "0"}, "bk_target_ip", 256),
    ({"bk_target_service_instance_id": "s" * 256}, "bk_target_service_instance_id", 256),
])
def test_a_dimension_that_would_make_a_target_longer_than_the_alert_stage_accepts_is_refused_by_name(
        dimensions: dict[str, Any], source: str, length: int) -> None:
    with pytest.raises(InvalidMessage, match=f"point 0: dimension '{source}' makes a target of {length} characters "
                                             r".*must be at most 255 characters"):
        parse_metric_message(orjson.dumps(point(**dimensions)), LATEST)


@pytest.mark.parametrize("dimensions", [
    {"bk_target_ip": "1" * 250},  # "<ip>|None": 255
    {"bk_target_ip": "1" * 253, "bk_target_cloud_id": "0"},  # "<ip>|0": 255
    {"bk_target_ip": "10.0.0.1", "path": "/" * 1000, "ip": ""},  # long strings outside every target
    {"bk_target_service_instance_id": "s" * 255, "bk_target_cloud_id": "c" * 300},  # no ip: the cloud id is unused
])
def test_long_dimensions_are_accepted_when_every_target_a_strategy_can_make_of_them_fits(
        dimensions: dict[str, Any]) -> None:
    [accepted] = parse_metric_message(orjson.dumps(point(**dimensions)), LATEST)
    assert accepted.dimensions == dimensions
    assert max(map(len, targets_a_strategy_can_make(accepted.dimensions))) <= 255


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty message"),
    (b"{not json", "not JSON"),
    (b'"text"', "expected a JSON object or array"),
    (b"[]", "empty array"),
    (b'{"metrics": {"a": 1}}', "'time' must be a positive epoch number"),
    (b'{"time": "soon", "metrics": {"a": 1}}', "'time' must be a positive epoch number"),
    (b'{"time": 1, "metrics": {}}', "'metrics' must be a non-empty object"),
    (b'{"time": 1, "metrics": {"a": "high"}}', "metric 'a' must be a finite number"),
    (b'{"time": 1, "metrics": {"a": true}}', "metric 'a' must be a finite number"),
    (b'{"time": 1, "metrics": {"a": 1}, "dimensions": [1]}', "'dimensions' must be an object"),
    (b'{"time": 1, "metrics": {"a": 1}, "dimensions": {"d": {"x": 1}}}', "dimension 'd' must be a scalar"),
    (b'[{"time": 1, "metrics": {"a": 1}}, 5]', "point 1: expected an object"),
    (b'{"time": 1, "metrics": {"a": 1}, "dimensions": {"d": "x\\u0000"}}', "dimension 'd' contains a NUL character"),
    (b'{"time": 1, "metrics": {"a": 1}, "dimensions": {"d\\u0000": 1}}', "dimension name 'd.{4}' contains a NUL"),
    (b'{"time": 1, "metrics": {"a": 1}, "dimensions": {"n": 9223372036854775808}}', "'n' must be an integer between"),
    (b'{"time": 1e400, "metrics": {"a": 1}}', "not JSON"),
])
def test_invalid_messages_are_rejected_whole_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        parse_metric_message(raw)


@pytest.mark.parametrize("method, value, dims, expected", [
    ("eq", ["10.0.0.1"], {"ip": "10.0.0.1"}, True),
    ("eq", ["10.0.0.1"], {"ip": "10.0.0.2"}, False),
    ("neq", ["10.0.0.1"], {"ip": "10.0.0.2"}, True),
    ("include", ["prod"], {"ip": "db-prod-1"}, True),
    ("exclude", ["prod"], {"ip": "db-prod-1"}, False),
    ("gt", [5], {"ip": "7"}, True),
    ("gte", [7], {"ip": 7}, True),
    ("lt", [5], {"ip": "7"}, False),
    ("lte", [7], {"ip": "7.0"}, True),
    ("gt", [5], {"ip": "n/a"}, False),
    ("reg", [r"^10\."], {"ip": "10.0.0.1"}, True),
    ("nreg", [r"^10\."], {"ip": "10.0.0.1"}, False),
    ("eq", [2], {"ip": 2}, True),  # numbers and strings compare as text, like the reference
    ("eq", ["x"], {}, False),
])
def test_each_condition_method_matches_as_the_reference_does(method: str, value: list, dims: dict,
                                                              expected: bool) -> None:
    predicate = compile_conditions([{"key": "ip", "method": method, "value": value}])
    assert predicate is not None and predicate(dims) is expected


def test_and_binds_tighter_than_or() -> None:
    # a AND b OR c
    predicate = compile_conditions([
        {"key": "a", "method": "eq", "value": ["1"]},
        {"key": "b", "method": "eq", "value": ["1"], "condition": "and"},
        {"key": "c", "method": "eq", "value": ["1"], "condition": "or"},
    ])
    assert predicate is not None
    assert predicate({"a": "1", "b": "1", "c": "0"})
    assert predicate({"a": "0", "b": "0", "c": "1"})
    assert not predicate({"a": "1", "b": "0", "c": "0"})


def test_no_conditions_compile_to_nothing_to_check() -> None:
    assert compile_conditions([]) is None and compile_conditions(None) is None
