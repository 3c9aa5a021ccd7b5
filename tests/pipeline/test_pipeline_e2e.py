"""Strategy in, metrics in, alerts out: access -> event topic -> alert builder -> database."""
from __future__ import annotations

from typing import Any

from alarm_backends.service.alert.runner import AlertRunner, AlertSettings
from bkmonitor.models import Alert, AlertLog
from tests.access.conftest import World, wait_until
from tests.access.test_access_e2e import api_config, metric
from tests.kafka.helpers import FAST_JOIN

T0 = 1_700_000_040 - 1_700_000_040 % 60


def alert_runner(world: World) -> AlertRunner:
    return AlertRunner(AlertSettings(group_id=f"{world.group}-alert", topics=(world.event_topic,),
                                     consumer_config=FAST_JOIN), cluster=world.cluster)


def pump(world: World, access: Any, alerts: AlertRunner) -> None:
    access.step()
    access.checkpoint()
    alerts.step()


def test_an_alert_opens_recovers_after_clean_windows_and_a_second_one_closes_on_no_data(world: World) -> None:
    config = api_config(world, count=2, check_window=3)
    config["detects"][0]["recovery_config"] = {"check_window": 3, "status_setter": "recovery"}
    world.create_strategy(config)
    # 10.0.0.1: abnormal at minutes 1-2, clean from 3 on (recovering at 4, recovered at 6),
    # abnormal again at 8-9, then silent: after 30 minutes without data the second alert is closed.
    series = [10, 95, 96, 10, 10, 10, 10, 10, 97, 98]
    other = [10] * 45  # another host keeps event time moving while 10.0.0.1 is silent
    world.produce([metric(T0 + i * 60, v, "10.0.0.1") for i, v in enumerate(series)]
                  + [metric(T0 + i * 60, v, "10.0.0.2") for i, v in enumerate(other)])
    access, alerts = world.runner(), alert_runner(world)
    try:
        assert wait_until(lambda: Alert.objects.filter(status="CLOSED").exists(), 40,
                          step=lambda: pump(world, access, alerts))
    finally:
        access.close()
        alerts.consumer.close()
    first, second = Alert.objects.order_by("begin_time")
    assert (first.status, first.begin_time - T0, first.end_time - T0, first.recovery_value) == \
        ("RECOVERED", 120, 360, 10.0)
    assert first.severity == 1 and first.dimensions == {"bk_target_ip": "10.0.0.1"}
    assert (second.status, second.begin_time - T0) == ("CLOSED", 540)
    assert second.close_reason.startswith("no data for 30 windows (30 min")
    assert second.end_time - T0 == 540 + 30 * 60  # last data at 540, closed 30 windows later
    ops = list(AlertLog.objects.filter(alert=first).order_by("id").values_list("op", flat=True))
    assert ops[0] == "CREATE" and "RECOVERING" in ops and ops[-1] == "RECOVER"
    assert not Alert.objects.filter(dimensions__bk_target_ip="10.0.0.2").exists()
