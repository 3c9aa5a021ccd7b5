"""Custom event messages (docs/ARCHITECTURE.md, Data contracts: custom event message) parse into the
metric path's points, or are refused whole."""
from __future__ import annotations

import time

import pytest

from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.service.access.event.parse import parse_event_message
from tests.event_access.strategies import custom_event, message

T_MS = 1_619_426_493_000


def test_an_event_becomes_a_point_counting_one_of_its_name_with_the_target_as_bk_target_ip() -> None:
    [point] = parse_event_message(message(custom_event(T_MS, module="db")))
    assert point.time == T_MS // 1000
    assert point.metrics == {"disk_full": 1.0}
    assert point.dimensions == {"module": "db", "bk_target_ip": "10.0.0.1"}


def test_the_content_stays_out_of_the_dimensions_but_tells_two_events_apart() -> None:
    first, second, again = parse_event_message(message(
        custom_event(T_MS, content="/data is full"), custom_event(T_MS, content="/logs is full"),
        custom_event(T_MS, content="/data is full")))
    assert first.dimensions == second.dimensions == {"bk_target_ip": "10.0.0.1"}
    assert first.identity != second.identity and first.identity == again.identity


def test_timestamps_in_seconds_and_milliseconds_give_the_same_time() -> None:
    points = parse_event_message(message(custom_event(T_MS), custom_event(T_MS // 1000)))
    assert [p.time for p in points] == [T_MS // 1000] * 2


def test_target_event_body_and_dimension_are_optional_and_the_target_wins_over_a_dimension() -> None:
    [bare] = parse_event_message(b'{"data_id": 1, "data": [{"event_name": "boot", "timestamp": 1619426493}]}\n')
    assert (bare.time, bare.dimensions, bare.metrics) == (1619426493, {}, {"boot": 1.0})
    [point] = parse_event_message(message(custom_event(T_MS, target="10.0.0.9", bk_target_ip="10.0.0.1")))
    assert point.dimensions == {"bk_target_ip": "10.0.0.9"}


def test_the_target_is_held_to_the_alert_stage_limit_as_the_bk_target_ip_it_becomes() -> None:
    # "<target>|None" for a strategy grouping by bk_target_cloud_id, which custom events lack: 255
    [point] = parse_event_message(message(custom_event(T_MS, target="1" * 250)))
    assert point.dimensions == {"bk_target_ip": "1" * 250}
    with pytest.raises(InvalidMessage, match="event 0: dimension 'bk_target_ip' makes a target of 256 characters"):
        parse_event_message(message(custom_event(T_MS, target="1" * 251)))


def test_a_long_dimension_is_accepted_unless_a_strategy_grouping_by_it_would_make_a_target_too_long() -> None:
    [point] = parse_event_message(message(custom_event(T_MS, path="/" * 1000)))
    assert point.dimensions == {"path": "/" * 1000, "bk_target_ip": "10.0.0.1"}
    # the target fills bk_target_ip, but a strategy grouping by ip alone takes its target from ip
    with pytest.raises(InvalidMessage, match="event 0: dimension 'ip' makes a target of 305 characters"):
        parse_event_message(message(custom_event(T_MS, ip="1" * 300)))


@pytest.mark.parametrize("raw, reason", [
    (b"", "empty message"),
    (b"{not json", "not JSON"),
    (b'[{"data_id": 1, "data": []}]', "expected a JSON object"),
    (b'{"data": [{"event_name": "a", "timestamp": 1}]}', "'data_id' must be a positive integer"),
    (b'{"data_id": "1500001", "data": [{"event_name": "a", "timestamp": 1}]}', "'data_id' must be a positive"),
    (b'{"data_id": true, "data": [{"event_name": "a", "timestamp": 1}]}', "'data_id' must be a positive"),
    (b'{"data_id": 1}', "'data' must be a non-empty array"),
    (b'{"data_id": 1, "data": []}', "'data' must be a non-empty array"),
    (b'{"data_id": 1, "data": {"event_name": "a"}}', "'data' must be a non-empty array"),
    (b'{"data_id": 1, "data": ["disk_full"]}', "event 0: expected an object"),
    (b'{"data_id": 1, "data": [{"timestamp": 1}]}', "event 0: 'event_name' must be a non-empty string"),
    (b'{"data_id": 1, "data": [{"event_name": "", "timestamp": 1}]}', "'event_name' must be a non-empty string"),
    (b'{"data_id": 1, "data": [{"event_name": 5, "timestamp": 1}]}', "'event_name' must be a non-empty string"),
    (b'{"data_id": 1, "data": [{"event_name": "a"}]}', "'timestamp' must be a positive epoch number"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": "now"}]}', "'timestamp' must be a positive"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": -5}]}', "'timestamp' must be a positive"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 1, "event": "full"}]}', "'event' must be an object"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 1, "event": {"content": 5}}]}',
     "'event.content' must be a string"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 1, "target": 10}]}', "'target' must be a string"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 1, "dimension": [1]}]}',
     "'dimension' must be an object"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 1, "dimension": {"d": {"x": 1}}}]}',
     "dimension 'd' must be a scalar"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 1}, {"event_name": "b"}]}',
     "event 1: 'timestamp'"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 1, "target": "10.0.0.1\\u0000"}]}',
     "event 0: 'target' contains a NUL character"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 1, "dimension": {"m": "db\\u0000"}}]}',
     "event 0: dimension 'm' contains a NUL character"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 1, "dimension": {"n": 18446744073709551615}}]}',
     "event 0: dimension 'n' must be an integer between"),
    (b'{"data_id": 1, "data": [{"event_name": "a", "timestamp": 4102444800000}]}',
     "event 0: 'timestamp' 4102444800000 is .* s past the latest time accepted"),
])
def test_invalid_event_messages_are_rejected_whole_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidMessage, match=reason):
        parse_event_message(raw, time.time() + 300)
