"""The pipeline check against the real broker (real lag), Redis and database: one "pipeline degraded"
alert per episode, strategy-wide no-data only on a healthy pipeline, idempotent and race-safe."""
from __future__ import annotations

import dataclasses
import threading
from typing import Any

import pytest
from django.db import connection, connections

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.offsets import OffsetManager
from alarm_backends.core.kafka.topics import TopicManager
from alarm_backends.service.alert.manager.checks import check_pipeline, run_pipeline_check
from bkmonitor.models import Alert, AlertLog, Event
from tests.alert_manager.conftest import Setup
from metadata.models import KafkaStorage, ResultTable
from tests.event_access.strategies import event_strategy
from tests.kafka.helpers import produce_one_per_batch

pytestmark = pytest.mark.broker

NOW = 1_700_000_000.0
LAST = 1_699_990_020  # the item's last closed window (a minute boundary)
NEED = 5 * 60  # continuous (5) * agg_interval (60)


@pytest.fixture
def world(setup: Setup, kafka_cluster: KafkaClusterConfig) -> dict[str, Any]:
    TopicManager(kafka_cluster, timeout=5).create_topic(setup.topic, partitions=2)
    strategy = setup.create_strategy()
    return {"setup": setup, "cluster": kafka_cluster, "strategy": strategy,
            "uid": f"{strategy['id']}.{strategy['items'][0]['id']}"}


def counts() -> tuple[int, int, int]:
    return Alert.objects.count(), Event.objects.count(), AlertLog.objects.count()


def produce(world: dict[str, Any], n: int, partition: int = 0) -> None:
    # one record per request: the embedded broker's offsets and tails are exact then
    produce_one_per_batch(world["cluster"], world["setup"].topic, [b"{}"] * n, partition=partition)


def catch_up(world: dict[str, Any]) -> None:
    """The access group commits up to the tail: no lag any more."""
    offsets = OffsetManager(world["setup"].cfg.group, world["setup"].topic)
    offsets.set_offset(offsets.get_tail())


def progress(world: dict[str, Any], *, last: int, clock: int, updated: float) -> None:
    for partition in (0, 1):
        world["setup"].write_progress(partition, updated=updated, max_time=clock - 60 * partition,
                                      items={world["uid"]: last - 60 * partition})


def check(world: dict[str, Any], now: float, **limits: Any) -> dict[str, Any]:
    setup: Setup = world["setup"]
    cfg = dataclasses.replace(setup.cfg, limits=dataclasses.replace(setup.cfg.limits, **limits))
    return check_pipeline(now, cfg, setup.redis)


def test_a_silent_item_on_a_healthy_pipeline_opens_one_strategy_wide_no_data_alert_and_a_rerun_changes_nothing(world):
    progress(world, last=LAST, clock=LAST + NEED + 60, updated=NOW - 5)
    result = check(world, NOW)
    assert not result["degraded"] and result["nodata"]["no_data_events"] == 1
    alert = Alert.objects.get()
    assert (alert.status, alert.dimensions, alert.begin_time, alert.severity, alert.alert_name) == \
        ("ABNORMAL", {}, LAST + NEED, 2, "CPU usage high (no data)")
    before = counts()
    check(world, NOW + 60)
    assert counts() == before


def test_an_item_that_is_not_yet_silent_for_continuous_windows_raises_nothing(world):
    progress(world, last=LAST, clock=LAST + NEED, updated=NOW - 5)
    assert check(world, NOW)["nodata"]["no_data_events"] == 0 and Alert.objects.count() == 0


def test_the_strategy_wide_no_data_alert_recovers_when_a_window_of_the_item_closes_again(world):
    progress(world, last=LAST, clock=LAST + NEED + 60, updated=NOW - 5)
    check(world, NOW)
    progress(world, last=LAST + NEED + 120, clock=LAST + NEED + 180, updated=NOW + 55)
    result = check(world, NOW + 60)
    assert result["nodata"]["recovered_events"] == 1
    alert = Alert.objects.get()
    assert (alert.status, alert.end_time) == ("RECOVERED", LAST + NEED + 120)
    before = counts()
    check(world, NOW + 120)
    assert counts() == before


def test_a_topic_that_receives_nothing_is_silent_after_continuous_intervals_of_wall_clock(world):
    # not silent in event time: the topic's clock stopped right after the item's last window
    progress(world, last=LAST, clock=LAST + 60, updated=NOW)
    check(world, NOW + 10)
    assert check(world, NOW + NEED - 1)["nodata"]["no_data_events"] == 0
    assert check(world, NOW + NEED)["nodata"]["no_data_events"] == 1
    assert Alert.objects.get().begin_time == LAST + NEED


def test_an_item_whose_topic_never_received_anything_is_silent_from_when_the_manager_first_saw_it(world):
    check(world, NOW)
    assert check(world, NOW + NEED - 1)["nodata"]["no_data_events"] == 0
    check(world, NOW + NEED)
    assert Alert.objects.get().begin_time == int(NOW) + NEED


def test_a_degraded_pipeline_raises_one_alert_runs_no_no_data_check_and_recovers_when_healthy(world):
    produce(world, 5)
    progress(world, last=LAST, clock=LAST + NEED + 60, updated=NOW - 5)  # the item is silent
    result = check(world, NOW, max_lag=3)
    assert result["degraded"], result
    assert result["reasons"] == ["total lag 5 > 3"], result
    assert result["nodata"] == "skipped: pipeline degraded"
    pipeline = Alert.objects.get()
    assert (pipeline.alert_name, pipeline.strategy_id, pipeline.item_id, pipeline.severity, pipeline.dimensions,
            pipeline.begin_time) == ("pipeline degraded", 0, 0, 1,
                                     {"component": "access", "group": world["setup"].cfg.group}, int(NOW))
    before = counts()
    assert check(world, NOW + 60, max_lag=3)["degraded"]
    assert counts() == before  # the same episode: the same event id

    catch_up(world)
    result = check(world, NOW + 120, max_lag=3)
    assert not result["degraded"] and result["pipeline_events"] == 1
    pipeline.refresh_from_db()
    assert (pipeline.status, pipeline.end_time) == ("RECOVERED", int(NOW) + 120)
    # healthy again: now the silent item is reported, once
    assert Alert.objects.filter(status="ABNORMAL", dimensions={}).count() == 1


def test_a_partition_whose_lag_lasts_while_it_does_not_checkpoint_is_a_stall(world):
    produce(world, 2, partition=1)
    progress(world, last=LAST, clock=LAST + 60, updated=NOW - 600)
    result = check(world, NOW)
    assert not result["degraded"]  # the lag has just appeared
    # and a topic with lag is not idle, however old its last checkpoint: no no-data yet
    assert result["nodata"]["no_data_events"] == 0
    result = check(world, NOW + 121)
    assert result["degraded"] and result["reasons"] == [f"{world['setup'].topic}:1: lag 2 and no checkpoint for 721s"]
    assert Alert.objects.get().begin_time == int(NOW) + 121


def test_a_new_episode_after_a_recovery_opens_a_new_pipeline_alert(world):
    produce(world, 5)
    check(world, NOW, max_lag=3)
    catch_up(world)
    check(world, NOW + 60, max_lag=3)
    produce(world, 5)
    check(world, NOW + 120, max_lag=3)
    assert list(Alert.objects.filter(alert_name="pipeline degraded").order_by("id")
                .values_list("status", "begin_time")) == [("RECOVERED", int(NOW)), ("ABNORMAL", int(NOW) + 120)]


def test_a_stalled_custom_event_access_group_raises_its_own_pipeline_alert_and_leaves_the_metric_path_alone(
        world):
    setup: Setup = world["setup"]
    table, topic = f"{setup.table}_events", f"{setup.topic}_events"
    ResultTable.objects.create(table_id=table)
    KafkaStorage.objects.create(table_id=table, topic=topic, partition=1,
                                storage_cluster=KafkaStorage.objects.get(topic=setup.topic).storage_cluster)
    TopicManager(world["cluster"], timeout=5).create_topic(topic, partitions=1)
    event_config = {k: v for k, v in event_strategy(table=table).items() if k != "id"}
    event_config["items"][0].pop("id")
    assert setup.api.post("/api/v1/strategies/", event_config, format="json").status_code == 201
    produce_one_per_batch(world["cluster"], topic, [b"{}"] * 3)  # the event group never reads them
    catch_up(world)
    progress(world, last=LAST, clock=LAST + 60, updated=NOW - 5)

    assert not check(world, NOW)["event_access"]["degraded"]  # lag has just appeared
    result = check(world, NOW + 121)
    assert not result["degraded"]  # the metric path is healthy; its no-data check ran
    assert isinstance(result["nodata"], dict)
    assert result["event_access"]["degraded"]
    assert result["event_access"]["reasons"] == [f"{topic}:0: lag 3 and no progress recorded"]
    alert = Alert.objects.get(alert_name="pipeline degraded")
    assert alert.dimensions == {"component": "access", "group": setup.cfg.event_group}
    before = counts()
    check(world, NOW + 180)
    assert counts() == before

    OffsetManager(setup.cfg.event_group, topic).set_offset({0: 3})
    assert check(world, NOW + 240)["event_access"]["pipeline_events"] == 1
    alert.refresh_from_db()
    assert alert.status == "RECOVERED"


@pytest.mark.parametrize("locked", [True, False], ids=["with-the-lock", "without-the-lock"])
def test_two_workers_checking_a_degraded_pipeline_at_once_raise_one_alert(world, locked: bool):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs row locks")
    produce(world, 5)
    setup: Setup = world["setup"]
    cfg = dataclasses.replace(setup.cfg, limits=dataclasses.replace(setup.cfg.limits, max_lag=3))
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            if locked:
                check_pipeline(NOW, cfg, setup.redis)
            else:
                run_pipeline_check(NOW, cfg, setup.redis)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    assert Alert.objects.filter(alert_name="pipeline degraded").count() == 1
    assert AlertLog.objects.filter(op="CREATE").count() == 1
