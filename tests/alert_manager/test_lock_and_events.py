"""The Redis lock (real Redis) and the manager's event builders (plain data)."""
from __future__ import annotations

import time

import pytest

from alarm_backends.core.storage.redis import get_client
from alarm_backends.service.alert.manager.events import close_event, is_nodata_alert, pipeline_event
from alarm_backends.service.alert.manager.lock import RedisLock, held
from alarm_backends.service.trigger.event import build_status_event, dedupe_md5, target_of


@pytest.fixture
def client(redis_url: str):
    client = get_client(redis_url)
    yield client
    client.delete("bkm:test:am-lock")


def test_only_one_holder_gets_the_lock_and_only_the_holder_can_release_it(client):
    first, second = RedisLock(client, "bkm:test:am-lock", 10_000), RedisLock(client, "bkm:test:am-lock", 10_000)
    assert first.acquire() and not second.acquire()
    assert not second.release() and client.get("bkm:test:am-lock") == first.token.encode()
    assert first.release() and second.acquire()


def test_a_lock_whose_holder_died_expires_after_its_ttl(client):
    assert RedisLock(client, "bkm:test:am-lock", 100).acquire()
    assert not RedisLock(client, "bkm:test:am-lock", 100).acquire()
    time.sleep(0.2)
    assert RedisLock(client, "bkm:test:am-lock", 100).acquire()


def test_held_releases_the_lock_when_the_body_fails_and_reports_a_taken_lock(client):
    with pytest.raises(RuntimeError), held(client, "bkm:test:am-lock", 10_000) as acquired:
        assert acquired
        raise RuntimeError("boom")
    assert client.get("bkm:test:am-lock") is None
    with held(client, "bkm:test:am-lock", 10_000) as outer, held(client, "bkm:test:am-lock", 10_000) as inner:
        assert outer and not inner
    assert client.get("bkm:test:am-lock") is None


DIMS = {"bk_target_ip": "10.0.0.1"}


def closing(dedupe: str, *, is_nodata: bool = False, reason: str = "strategy disabled", t: int = 600) -> dict:
    return close_event(dedupe=dedupe, strategy_id=7, item_id=70, alert_name="cpu", bk_biz_id=2, severity=1,
                       latest_time=t, dimensions=DIMS, is_nodata=is_nodata, reason=reason)


def test_a_close_event_addresses_the_alert_at_its_latest_time_with_an_id_that_only_depends_on_that():
    target_type, target = target_of(DIMS)
    dedupe = dedupe_md5(7, 2, target_type, target, DIMS)
    event = closing(dedupe)
    assert (event["event_type"], event["dedupe_md5"], event["time"], event["reason"]) == \
        ("closed", dedupe, 600, "strategy disabled")
    assert event == closing(dedupe) and event["event_id"] != closing(dedupe, t=660)["event_id"]


def test_a_close_event_for_a_no_data_alert_uses_the_no_data_dedupe_key():
    nodata = build_status_event("no_data", strategy_id=7, item_id=70, strategy_name="cpu", bk_biz_id=2, level=1,
                                t=300, value=0.0, dimensions=DIMS)
    target_type, target = target_of(DIMS)
    assert is_nodata_alert(7, 2, target_type, target, DIMS, nodata["dedupe_md5"])
    assert not is_nodata_alert(7, 2, target_type, target, DIMS, dedupe_md5(7, 2, target_type, target, DIMS))
    assert closing(nodata["dedupe_md5"], is_nodata=True)["dedupe_md5"] == nodata["dedupe_md5"]


def test_a_close_event_for_an_alert_of_another_source_keeps_that_alerts_dedupe_key():
    event = closing("custom-key")
    assert event["dedupe_md5"] == "custom-key" and event == closing("custom-key")


def test_the_pipeline_alert_of_one_episode_has_one_anomaly_id_and_one_recovery_id_whatever_else_changes():
    first = pipeline_event("anomaly", group="g", started=100, t=100, reasons=["a"], total_lag=5)
    again = pipeline_event("anomaly", group="g", started=100, t=100, reasons=["b"], total_lag=9)
    recovered = pipeline_event("recovered", group="g", started=100, t=400)
    assert first["event_id"] == again["event_id"] != recovered["event_id"]
    assert first["dedupe_md5"] == recovered["dedupe_md5"]
    assert pipeline_event("anomaly", group="g", started=160, t=160)["event_id"] != first["event_id"]
    assert pipeline_event("anomaly", group="h", started=100, t=100)["dedupe_md5"] != first["dedupe_md5"]
    assert (first["strategy_id"], first["item_id"], first["severity"], first["alert_name"], first["dimensions"]) == \
        (0, 0, 1, "pipeline degraded", {"component": "access", "group": "g"})
