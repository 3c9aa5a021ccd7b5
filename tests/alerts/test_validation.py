"""The event contract: a bad event is named (id and field) before anything is written."""
from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from bkmonitor.alerts.builder import InvalidEvent, apply_events, parse_event, validate_event
from bkmonitor.models import Alert, AlertLog, Event
from tests.alerts.conftest import make_event


def changed(**fields: Any) -> dict[str, Any]:
    return {**make_event(100), **fields}


def without(name: str) -> dict[str, Any]:
    event = make_event(100)
    del event[name]
    return event


def test_a_valid_event_of_every_type_passes():
    for kind in ("anomaly", "recovering", "recovered", "closed", "no_data"):
        validate_event(make_event(100, kind))


def test_an_event_without_event_type_is_an_anomaly_as_older_access_stages_sent_it():
    validate_event(without("event_type"))


def test_optional_fields_may_be_left_out():
    event = make_event(100)
    for name in ("dedupe_keys", "dimensions", "target_type", "target", "origin_data", "anomaly_ids", "value",
                 "anomaly_time"):
        del event[name]
    validate_event(event)


@pytest.mark.parametrize(("event", "reason"), [
    (changed(event_type="flap"), "event_type: must be one of"),
    (without("dedupe_md5"), "dedupe_md5: this field is required"),
    (changed(dedupe_md5=""), "dedupe_md5: must not be empty"),
    (changed(event_id=""), "event_id: must not be empty"),
    (changed(severity=4), "severity: must be one of 1, 2, 3"),
    (changed(severity=True), "severity: must be one of"),
    (changed(time="100"), "time: must be an integer"),
    (changed(time=1_700_000_000_000), "time: must be between"),
    (changed(time=-1), "time: must be between"),
    (changed(strategy_id=2**63), "strategy_id: must be between"),
    (changed(bk_biz_id=2**31), "bk_biz_id: must be between"),
    (changed(value="high"), "value: must be a number or null"),
    (changed(value=math.inf), "value: numbers must be finite"),
    (changed(dimensions=["a"]), "dimensions: must be a JSON object"),
    (changed(anomaly_ids={}), "anomaly_ids: must be a JSON array"),
    (changed(alert_name="x" * 129), "alert_name: at most 128 characters"),
    (changed(target="10.0.0.1\x00"), "target: contains a NUL character"),
    (changed(origin_data={"values": {"load": math.nan}}), "origin_data.values.load: numbers must be finite"),
    (changed(event_type="closed", reason=7), "reason: must be a string"),
])
def test_an_invalid_event_is_refused_with_its_id_and_the_field(event: dict[str, Any], reason: str):
    with pytest.raises(InvalidEvent) as caught:
        validate_event(event)
    assert caught.value.reason.startswith(reason)
    assert caught.value.event_id == (event["event_id"] or None if isinstance(event.get("event_id"), str) else None)


@pytest.mark.parametrize("event", [None, [], "text", 3])
def test_something_that_is_not_an_object_is_refused_without_an_id(event: Any):
    with pytest.raises(InvalidEvent) as caught:
        validate_event(event)
    assert caught.value.event_id is None and "JSON object" in caught.value.reason


@pytest.mark.django_db
def test_one_invalid_event_stops_the_batch_before_anything_is_written():
    bad = changed(event_id="bad-one", severity=9)
    with pytest.raises(InvalidEvent) as caught:
        apply_events([make_event(100), bad, make_event(160)])
    assert caught.value.event_id == "bad-one"
    assert not Alert.objects.exists() and not Event.objects.exists() and not AlertLog.objects.exists()


def test_the_events_the_access_stage_builds_pass_validation():
    from alarm_backends.service.trigger.event import build_event, build_status_event

    common = {"strategy_id": 1, "item_id": 2, "strategy_name": "CPU", "bk_biz_id": 2, "level": 1, "t": 1_700_000_000,
              "dimensions": {"bk_target_ip": "10.0.0.1", "bk_target_cloud_id": 0}}
    validate_event(build_event(**common, value=95.0, anomaly_times=[1_700_000_000], uid="u", interval=60,
                               metric="usage", table_id="system.cpu_summary", points=1))
    for kind in ("recovering", "recovered", "closed", "no_data"):
        validate_event(build_status_event(kind, **common, value=1.0, reason="no data" if kind == "closed" else ""))


def nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(("event", "reason"), [
    (changed(target="10.0.0.1\x00"), "target: contains a NUL character"),
    (changed(origin_data=nested(40)), "origin_data.a.a"),
])
def test_an_event_read_from_json_text_is_checked_as_strictly_as_a_decoded_one(event: dict[str, Any], reason: str):
    raw = orjson.dumps(event)
    with pytest.raises(InvalidEvent) as caught:
        parse_event(orjson.loads(raw), raw)
    assert caught.value.reason.startswith(reason)


def test_an_event_read_from_json_text_with_an_escaped_backslash_before_u0000_is_not_a_nul():
    event = changed(target="C:\\u0000dir")  # a backslash, then the text u0000: no NUL character
    raw = orjson.dumps(event)
    assert b"\\\\u0000" in raw
    assert parse_event(orjson.loads(raw), raw)[1]["target"] == "C:\\u0000dir"
