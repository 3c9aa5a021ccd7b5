"""The strategy sweep against the real database and Redis: alerts of changed strategies are closed with
a reason through the builder, once, however often and on however many workers it runs."""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from alarm_backends.service.alert.manager.checks import check_strategy_alerts, close_strategy_alerts
from alarm_backends.service.alert.manager.events import pipeline_event
from bkmonitor.alerts.builder import apply_events
from bkmonitor.models import Alert, AlertLog, Event
from tests.alert_manager.conftest import Setup, anomaly, no_data

DAY0 = 1_700_006_400  # 00:00 UTC
NOON, EVENING = DAY0 + 12 * 3600, DAY0 + 19 * 3600


def counts() -> tuple[int, int, int]:
    return Alert.objects.count(), Event.objects.count(), AlertLog.objects.count()


def sweep(setup: Setup, now: float = NOON) -> dict[str, Any]:
    return check_strategy_alerts(now, setup.cfg, setup.redis)


def test_an_alert_of_a_disabled_strategy_is_closed_at_its_latest_time_and_a_second_run_changes_nothing(setup):
    strategy = setup.create_strategy()
    apply_events([anomaly(strategy, NOON - 600), anomaly(strategy, NOON - 540)])
    assert setup.api.post(f"/api/v1/strategies/{strategy['id']}/disable/").status_code == 200

    assert sweep(setup)["closed"] == 1
    alert = Alert.objects.get()
    assert (alert.status, alert.close_reason, alert.end_time) == ("CLOSED", "strategy disabled", NOON - 540)
    assert alert.logs.get(op="CLOSE").description == "closed: strategy disabled"
    before = counts()
    assert sweep(setup)["closed"] == 0
    assert counts() == before


def test_an_alert_of_a_deleted_strategy_is_closed_as_strategy_deleted(setup):
    strategy = setup.create_strategy()
    apply_events([anomaly(strategy, NOON - 600)])
    assert setup.api.delete(f"/api/v1/strategies/{strategy['id']}/").status_code == 204
    sweep(setup)
    assert Alert.objects.get().close_reason == "strategy deleted"


def _drop_level_1(s: dict[str, Any]) -> dict[str, Any]:
    item = {**s["items"][0], "algorithms": [a for a in s["items"][0]["algorithms"] if a["level"] == 2]}
    return {"items": [item], "detects": [d for d in s["detects"] if d["level"] == 2]}


def _new_item(s: dict[str, Any]) -> dict[str, Any]:
    return {"items": [{k: v for k, v in s["items"][0].items() if k != "id"}]}


def _add_dimension(s: dict[str, Any]) -> dict[str, Any]:
    query = {**s["items"][0]["query_configs"][0], "agg_dimension": ["bk_target_ip", "device"]}
    return {"items": [{**s["items"][0], "query_configs": [query]}]}


@pytest.mark.parametrize(("change", "reason"), [
    (_drop_level_1, "level removed"), (_new_item, "item removed"), (_add_dimension, "dimension changed")])
def test_an_alert_whose_strategy_no_longer_produces_it_is_closed_with_the_reason(
        setup, change: Callable[[dict[str, Any]], dict[str, Any]], reason: str):
    strategy = setup.create_strategy()
    apply_events([anomaly(strategy, NOON - 600, level=1)])
    setup.update_strategy(strategy, **change(strategy))
    sweep(setup)
    alert = Alert.objects.get()
    assert (alert.status, alert.close_reason) == ("CLOSED", reason)


def test_alerts_the_strategy_still_produces_are_left_open(setup):
    strategy = setup.create_strategy()
    apply_events([anomaly(strategy, NOON - 600, level=2), no_data(strategy, NOON - 300)])
    result = sweep(setup)
    assert result == {"checked": 2, "closed": 0, "new_events": 0, "reasons": {}}
    assert Alert.objects.filter(status="ABNORMAL").count() == 2


def test_a_no_data_alert_is_closed_when_its_items_no_data_check_is_turned_off(setup):
    strategy = setup.create_strategy()
    apply_events([no_data(strategy, NOON - 300)])
    item = {**strategy["items"][0], "no_data_config": {"is_enabled": False, "continuous": 5, "level": 2}}
    setup.update_strategy(strategy, items=[item])
    sweep(setup)
    assert Alert.objects.get().close_reason == "no-data check disabled"


def test_an_alert_is_closed_outside_the_uptime_ranges_of_its_level_by_the_wall_clock(setup):
    strategy = setup.create_strategy()
    apply_events([anomaly(strategy, NOON - 600, level=1),
                  anomaly(strategy, NOON - 600, level=2, dimensions={"bk_target_ip": "10.0.0.2"})])
    assert sweep(setup, NOON)["closed"] == 0
    assert sweep(setup, EVENING) == {"checked": 2, "closed": 1, "new_events": 1,
                                     "reasons": {"outside the uptime ranges": 1}}
    closed = Alert.objects.get(status="CLOSED")
    assert (closed.severity, closed.close_reason) == (1, "outside the uptime ranges")


def test_the_pipeline_alert_is_not_a_strategys_alert_and_is_never_swept(setup):
    apply_events([pipeline_event("anomaly", group=setup.cfg.group, started=NOON, t=NOON)])
    assert sweep(setup)["checked"] == 0 and Alert.objects.get().status == "ABNORMAL"


def test_a_sweep_that_finds_the_lock_taken_does_nothing(setup):
    strategy = setup.create_strategy()
    apply_events([anomaly(strategy, NOON - 600)])
    setup.update_strategy(strategy, is_enabled=False)
    setup.redis.set(f"bkm:alert:manager:lock:{setup.cfg.group}:strategies", "someone else")
    assert sweep(setup) == {"skipped": True}
    assert Alert.objects.get().status == "ABNORMAL"


def _race(target: Callable[[], Any], threads: int = 2) -> list[Any]:
    start = threading.Barrier(threads)
    results: list[Any] = []

    def run() -> None:
        try:
            start.wait()
            results.append(target())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return results


@pytest.mark.parametrize("locked", [True, False], ids=["with-the-lock", "without-the-lock"])
def test_two_workers_sweeping_at_once_close_each_alert_once(setup, locked: bool):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs row locks")
    strategy = setup.create_strategy()
    apply_events([anomaly(strategy, NOON - 600, dimensions={"bk_target_ip": f"10.0.0.{i}"}) for i in range(20)])
    setup.update_strategy(strategy, is_enabled=False)
    # unlocked, the deterministic event ids alone keep it to one close
    results = _race(lambda: sweep(setup)) if locked else _race(lambda: close_strategy_alerts(NOON, setup.cfg.tz))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert Alert.objects.filter(status="CLOSED", close_reason="strategy disabled").count() == 20
    assert AlertLog.objects.filter(op="CLOSE").count() == 20
    assert Event.objects.filter(event_type="closed").count() == 20
