"""Strategy in through the API, metrics in through Kafka, anomaly events out on the internal topic."""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest

from alarm_backends.demo.replay import DATA as DEMO_DATA
from alarm_backends.demo.replay import read_series
from tests.access.conftest import World, wait_until
from tests.access.strategies import threshold_strategy

T0 = 1_700_000_040 - 1_700_000_040 % 60


def api_config(world: World, **kwargs: Any) -> dict[str, Any]:
    config = threshold_strategy(table=world.table, **kwargs)
    config.pop("id")
    for item in config["items"]:
        item.pop("id")
    return config


def metric(t: int, value: float, ip: str) -> tuple[str, dict[str, Any]]:
    return ip, {"time": t, "dimensions": {"bk_target_ip": ip, "bk_target_cloud_id": "0"}, "metrics": {"usage": value}}


def test_metrics_through_kafka_become_events_with_the_exact_times(world: World) -> None:
    strategy = world.create_strategy(api_config(world, count=2, check_window=3))
    values = {"10.0.0.1": [10, 95, 96, 10, 10, 10], "10.0.0.2": [99, 10, 98, 97, 10, 10]}
    world.produce([metric(T0 + i * 60, v, ip) for i in range(6) for ip, series in values.items()
                   for v in [series[i]]])
    runner = world.runner()
    try:
        assert wait_until(lambda: runner.events >= 4, 30, step=runner.step)  # 3 anomalies, 1 recovering
        runner.checkpoint()
    finally:
        runner.close()
    events = [e for e in world.read_events(3) if e["event_type"] == "anomaly"]
    got = sorted((e["dimensions"]["bk_target_ip"], e["time"] - T0, e["severity"]) for e in events)
    assert got == [("10.0.0.1", 120, 1), ("10.0.0.2", 120, 1), ("10.0.0.2", 180, 1)]
    assert {e["strategy_id"] for e in events} == {strategy["id"]}
    assert {e["item_id"] for e in events} == {strategy["items"][0]["id"]}
    assert all(e["target"] == f"{e['dimensions']['bk_target_ip']}|0" for e in events)


def test_invalid_metric_messages_are_dead_lettered_and_the_partition_keeps_flowing(world: World) -> None:
    world.create_strategy(api_config(world, count=1, check_window=1))
    world.produce([("10.0.0.1", {"time": "yesterday", "metrics": {"usage": 1}})])
    world.produce([metric(T0, 95, "10.0.0.1"), metric(T0 + 60, 1, "10.0.0.1")])
    runner = world.runner()
    try:
        assert wait_until(lambda: runner.events >= 1, 30, step=runner.step)
        assert runner.invalid == 1
    finally:
        runner.close()
    assert [e["time"] for e in world.read_events(1) if e["event_type"] == "anomaly"] == [T0]


def _nab(name: str) -> tuple[list[tuple[int, float]], list[tuple[int, int]]]:
    """A NAB series and its labelled anomaly windows, as shipped with the demo (MIT, see its LICENSE.txt)."""
    def epoch(text: str) -> int:
        return int(dt.datetime.fromisoformat(text.split(".")[0]).replace(tzinfo=dt.UTC).timestamp())

    windows = json.loads((DEMO_DATA / "windows.json").read_text())[name]
    return read_series(name), [(epoch(a), epoch(b)) for a, b in windows]


@pytest.mark.parametrize("world", [1], indirect=True)
def test_the_machine_temperature_failure_series_raises_events_inside_the_labelled_failure_windows(
        world: World) -> None:
    rows, windows = _nab("machine_temperature_system_failure.csv")
    world.create_strategy(api_config(world, count=3, check_window=5, interval=300, method="lte", threshold=30,
                                     dimensions=["bk_target_ip"]))
    world.produce([metric(t, v, "machine-1") for t, v in rows])
    runner = world.runner(batch_size=20000)
    try:
        assert wait_until(lambda: runner.messages >= len(rows), 60, step=runner.step)
        runner.checkpoint()
    finally:
        runner.close()
    events = [e for e in world.read_events(runner.events) if e["event_type"] == "anomaly"]
    assert len(events) > 0
    assert all(any(a <= e["time"] <= b for a, b in windows) for e in events)
    hit = {i for e in events for i, (a, b) in enumerate(windows) if a <= e["time"] <= b}
    assert len(hit) >= 2  # the failures it can see by temperature alone


def test_a_new_strategy_takes_effect_within_seconds_and_other_series_keep_their_state(
        world: World, kafka_cluster: Any) -> None:
    from alarm_backends.core.kafka.topics import TopicManager
    from metadata.models import ClusterInfo, KafkaStorage, ResultTable

    world.create_strategy(api_config(world, count=2, check_window=3))
    world.produce([metric(T0, 95, "10.0.0.1"), metric(T0 + 60, 10, "10.0.0.1")])  # one anomaly so far
    runner = world.runner()
    try:
        assert wait_until(lambda: runner.messages >= 2, 30, step=runner.step)
        # a second table and strategy arrive while the consumer runs
        other_table, other_topic = f"{world.table}2", f"{world.topic}-mem"
        TopicManager(kafka_cluster, timeout=5).create_topic(other_topic, partitions=1)
        ResultTable.objects.create(table_id=other_table)
        KafkaStorage.objects.create(table_id=other_table, topic=other_topic, partition=1,
                                    storage_cluster=ClusterInfo.objects.get(cluster_name__startswith="embedded-"))
        created = time.monotonic()
        world.create_strategy({**api_config(world, sid=9, count=1, check_window=1, metric="mem"),
                               "items": [{**api_config(world, count=1, check_window=1, metric="mem")["items"][0],
                                          "query_configs": [{**api_config(world)["items"][0]["query_configs"][0],
                                                             "result_table_id": other_table,
                                                             "metric_field": "mem"}]}]})
        assert wait_until(lambda: other_topic in runner.index.topics, 10, step=runner.step)
        assert time.monotonic() - created < 5

        producer_topic = world.topic
        world.topic = other_topic
        world.produce([("10.0.0.5", {"time": T0, "dimensions": {"bk_target_ip": "10.0.0.5"},
                                     "metrics": {"mem": 99}}),
                       ("10.0.0.5", {"time": T0 + 60, "dimensions": {"bk_target_ip": "10.0.0.5"},
                                     "metrics": {"mem": 1}})])
        world.topic = producer_topic
        # the first strategy's second anomaly completes its 2-of-3: its state survived the reload
        world.produce([metric(T0 + 120, 96, "10.0.0.1"), metric(T0 + 180, 10, "10.0.0.1")])
        assert wait_until(lambda: runner.events >= 2, 30, step=runner.step)
    finally:
        runner.close()
    events = [e for e in world.read_events(2) if e["event_type"] == "anomaly"]
    assert sorted((e["dimensions"]["bk_target_ip"], e["time"] - T0) for e in events) == [
        ("10.0.0.1", 120), ("10.0.0.5", 0)]
