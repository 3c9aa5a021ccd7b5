import pytest

from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.service.access.data.conditions import compile_conditions
from alarm_backends.service.access.data.parse import _parse_checked, parse_metric_message


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
])
def test_the_fast_decoder_gives_the_points_the_checked_parser_gives(raw: bytes) -> None:
    assert parse_metric_message(raw) == _parse_checked(raw)


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
