"""Property tests (hypothesis): random bytes, random JSON and random field values into both parsers
and both consumers' per-message paths. Nothing escapes; every input is processed or refused with a
reason; and what the access stage accepts, the alert stage accepts (issue 12, sections 1 and 3)."""
from __future__ import annotations

import builtins
import itertools
import math
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.parse import Point, parse_metric_message
from alarm_backends.service.access.data.processor import AccessProcessor
from alarm_backends.service.access.data.state import PartitionState
from alarm_backends.service.access.event.parse import parse_event_message
from alarm_backends.service.alert.runner import parse_message
from alarm_backends.service.trigger.event import target_of
from bkmonitor.alerts.builder import apply_parsed
from bkmonitor.alerts.validation import DIMENSION_INT_MAX, DIMENSION_INT_MIN, TARGET_MAX_LENGTH, InvalidEvent
from tests.access.strategies import threshold_strategy
from tests.alerts.conftest import make_event
from tests.faults.inputs import T0, WEIRD_VALUES, any_message, event_field_values, metric_field_values, to_json

# bounded and reproducible: the same examples on every run and in CI
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TOPIC = "bkm_system.cpu_summary"
SKEW = 300


def not_after() -> int:
    return int(time.time()) + SKEW


def assert_within_contract(points: list[Point], latest: int) -> None:
    assert points
    for point in points:
        assert type(point.time) is int and 0 < point.time <= latest
        assert point.metrics and all(type(v) in (int, float) and math.isfinite(v) for v in point.metrics.values())
        for key, value in point.dimensions.items():
            assert type(key) is str and "\x00" not in key
            assert type(value) in (str, int, float, bool, type(None))
            assert type(value) is not int or DIMENSION_INT_MIN <= value <= DIMENSION_INT_MAX
            assert type(value) is not str or "\x00" not in value
        assert all(len(target) <= TARGET_MAX_LENGTH for target in targets_a_strategy_can_make(point.dimensions))


TARGET_SOURCES = ("bk_target_ip", "ip", "bk_target_cloud_id", "bk_target_service_instance_id")


def targets_a_strategy_can_make(dimensions: Mapping[str, Any]) -> Iterator[str]:
    """The target of the series of every strategy grouping by some of the dimensions a target is made
    of (a series has the strategy's dimensions, a missing one as None: processor.py, SeriesEvents)."""
    for size in range(len(TARGET_SOURCES) + 1):
        for grouped in itertools.combinations(TARGET_SOURCES, size):
            yield target_of({name: dimensions.get(name) for name in grouped})[1]


# the names a reason starts with when ingest_many wrapped an exception the parser did not mean to raise
# (faults.py:describe): every refusal of a parser must be its own InvalidMessage, naming the problem
def _exception_names(kind: type[BaseException] = BaseException) -> set[str]:
    return {kind.__name__}.union(*(_exception_names(sub) for sub in kind.__subclasses__()))


EXCEPTION_NAMES = _exception_names() | {name for name, value in vars(builtins).items()
                                        if isinstance(value, type) and issubclass(value, BaseException)}


def is_wrapped_crash(reason: str) -> bool:
    return reason.split(":", 1)[0].strip() in EXCEPTION_NAMES


@PROPERTY
@given(raw=any_message(metric_field_values()))
def test_the_metric_parser_returns_points_within_the_contract_or_refuses_the_message_with_a_reason(raw: bytes) -> None:
    latest = not_after()
    try:
        points = parse_metric_message(raw, latest)
    except InvalidMessage as exc:
        assert str(exc)
    else:
        assert_within_contract(points, latest)


@PROPERTY
@given(raw=any_message(event_field_values()))
def test_the_custom_event_parser_returns_points_within_the_contract_or_refuses_the_message_with_a_reason(
        raw: bytes) -> None:
    latest = not_after()
    try:
        points = parse_event_message(raw, latest)
    except InvalidMessage as exc:
        assert str(exc)
    else:
        assert_within_contract(points, latest)


def _processor() -> AccessProcessor:
    # every series anomalous at once, keyed by the dimensions a producer controls, behind a condition
    # of every kind of comparison, so that accepted points reach events through every content path
    strategy = threshold_strategy(count=1, check_window=1, threshold=-1e300,
                                  dimensions=["bk_target_ip", "bk_target_cloud_id", "k"],
                                  conditions=[{"key": "k", "method": "gt", "value": [0]},
                                              {"condition": "or", "key": "bk_target_ip", "method": "reg",
                                               "value": ["."]},
                                              {"condition": "or", "key": "k", "method": "neq", "value": ["x"]}])
    return AccessProcessor(StrategyIndex([strategy], {"system.cpu_summary": TOPIC}), max_future=SKEW)


@PROPERTY
@given(raws=st.lists(any_message(metric_field_values()), min_size=1, max_size=4))
def test_the_access_per_message_path_processes_or_refuses_each_message_and_the_alert_stage_accepts_its_events(
        raws: list[bytes]) -> None:
    processor, state = _processor(), PartitionState(0)
    filed, invalid = processor.ingest_many(state, TOPIC, raws)
    # ingest_many turns any exception into an InvalidMessage: a crash shows as its type's name instead
    reasons = [str(exc) for _position, exc in invalid]
    assert all(reasons) and not [reason for reason in reasons if is_wrapped_crash(reason)]
    accepted = len(raws) - len(invalid)
    assert filed <= 2 * accepted  # at most two points per generated message, each filed once
    # close every window the accepted points opened (a point later than all of them, within the skew)
    closer = to_json({"time": min(max(state.windows.max_time, T0) + 120, not_after()), "metrics": {"usage": 1},
                      "dimensions": {"bk_target_ip": "closer"}})
    processor.ingest_many(state, TOPIC, [closer])
    for event in processor.close_windows(state):
        parse_message(event.json, not_after())  # raises InvalidEvent where the stages disagree


@st.composite
def event_messages(draw: st.DrawFn) -> bytes:
    """An event in the pipeline's contract whose fields take random values."""
    event: dict[str, Any] = make_event(T0, key=f"prop-{draw(st.integers(0, 3))}")
    for field in draw(st.sets(st.sampled_from(sorted(event)), min_size=1, max_size=3)):
        event[field] = draw(WEIRD_VALUES)
    return to_json(event)


@pytest.mark.django_db(transaction=True)
@PROPERTY
@given(raws=st.lists(any_message(event_messages()), min_size=1, max_size=3))
def test_the_alert_per_message_path_applies_or_refuses_each_event_and_never_raises_anything_else(
        raws: list[bytes]) -> None:
    parsed = []
    for raw in raws:
        try:
            parsed.append(parse_message(raw, not_after()))
        except (InvalidMessage, InvalidEvent) as exc:
            assert str(exc)
    if parsed:
        apply_parsed(parsed)  # what the contract accepted, the database stores



def test_a_strategy_grouping_by_ip_takes_its_target_from_ip_so_access_refuses_an_ip_too_long_for_any_target() -> None:
    # a short bk_target_ip does not save a long ip: this strategy's series never see bk_target_ip
    strategy = threshold_strategy(count=1, check_window=1, threshold=-1e300, dimensions=["ip", "bk_target_cloud_id"])
    processor, state = AccessProcessor(StrategyIndex([strategy], {"system.cpu_summary": TOPIC}), max_future=SKEW), \
        PartitionState(0)
    fits, too_long = "1" * 250, "1" * 251  # "<ip>|None": the strategy groups by a cloud id the messages lack
    raws = [to_json({"time": T0, "metrics": {"usage": 1}, "dimensions": {"bk_target_ip": "10.0.0.1", "ip": ip}})
            for ip in (fits, too_long)]
    _filed, invalid = processor.ingest_many(state, TOPIC, raws)
    assert [position for position, _exc in invalid] == [1]
    assert "dimension 'ip' makes a target of 256 characters" in str(invalid[0][1])
    processor.ingest_many(state, TOPIC, [to_json({"time": T0 + 120, "metrics": {"usage": 1}})])
    targets = {parse_message(event.json, not_after())[0].target for event in processor.close_windows(state)}
    assert f"{fits}|None" in targets and all(len(target) <= TARGET_MAX_LENGTH for target in targets)
