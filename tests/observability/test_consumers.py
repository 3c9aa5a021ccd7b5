"""The access and alert stages: their own metrics port, scraped over HTTP, moves by exactly the work done."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests

from alarm_backends.core.embedded.base import free_loopback_port
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.observability.process import consumer_probe
from alarm_backends.core.observability.server import MetricsServer, readiness, serve
from alarm_backends.core.storage.redis import get_client
from alarm_backends.service.access.data.runner import AccessRunner, AccessSettings
from alarm_backends.service.access.data.sources import load_strategies, strategy_version
from alarm_backends.service.alert.runner import AlertRunner, AlertSettings
from tests.access.conftest import ROOT, World, wait_until
from tests.access.test_access_e2e import api_config, metric
from tests.alerts.conftest import make_event
from tests.kafka.helpers import FAST_JOIN
from tests.observability.scrape import scrape, value
from tests.processes import stop_process

T0 = 1_700_000_040 - 1_700_000_040 % 60
STATS_OFTEN = {**FAST_JOIN, "statistics.interval.ms": 200}  # consumer lag reported within a test's patience


@pytest.fixture
def servers() -> Iterator[list[MetricsServer]]:
    started: list[MetricsServer] = []
    yield started
    for server in started:
        server.stop()


def ready(url: str) -> tuple[int, dict[str, Any]]:
    response = requests.get(f"{url}/-/ready", timeout=10)
    return response.status_code, response.json()


def access_runner(world: World) -> AccessRunner:
    settings = AccessSettings(group_id=world.group, event_topic=world.event_topic, lateness=0,
                              snapshot_interval=0.5, consumer_config=STATS_OFTEN)
    return AccessRunner(settings, cluster=world.cluster, redis_client=get_client(world.redis_url),
                        load_strategies=load_strategies, strategy_version=strategy_version)


@pytest.mark.parametrize("world", [1], indirect=True)
def test_the_access_port_counts_messages_points_windows_events_late_points_and_dead_letters(
        world: World, servers: list[MetricsServer]) -> None:
    world.create_strategy(api_config(world, count=2, check_window=3))
    values = {"10.0.0.1": [10, 95, 96, 10, 10, 10], "10.0.0.2": [99, 10, 98, 97, 10, 10]}
    world.produce([metric(T0 + i * 60, series[i], ip) for i in range(6) for ip, series in values.items()])
    world.produce([metric(T0, 50, "10.0.0.3")])  # its window closed long ago: late, not merged
    world.produce([("10.0.0.1", {"time": "yesterday", "metrics": {"usage": 1}})])  # dead-lettered
    runner = access_runner(world)
    server = serve(0, "127.0.0.1", readiness(("database", "redis", "kafka"), [consumer_probe("loop", runner)]))
    servers.append(server)
    group = world.group
    try:
        assert wait_until(lambda: runner.messages >= 14, 30, step=runner.step)
        runner.checkpoint()
        assert wait_until(lambda: value(scrape(server.url), "bkm_kafka_consumer_lag", group=group,
                                        topic=world.topic, partition="0") is not None, 15, step=runner.step)
        status, body = ready(server.url)
        got = scrape(server.url)
    finally:
        runner.close()
    events = world.read_events(runner.events)
    assert status == 200, body
    assert [c["name"] for c in body["checks"]] == ["database", "redis", "kafka", "loop"]
    assert "1 partitions assigned" in body["checks"][3]["detail"]
    assert value(got, "bkm_access_messages_total", group=group) == 14
    assert value(got, "bkm_access_invalid_messages_total", group=group) == 1
    assert value(got, "bkm_kafka_dead_lettered_total", group=group, topic=world.topic) == 1
    assert value(got, "bkm_access_points_filed_total", group=group) == 12
    assert value(got, "bkm_access_late_points_total", group=group) == 1
    assert value(got, "bkm_access_windows_closed_total", group=group) == 5  # the 6th minute is still open
    by_type: dict[str, int] = {}
    for event in events:
        by_type[event["event_type"]] = by_type.get(event["event_type"], 0) + 1
    assert by_type and {t: value(got, "bkm_access_events_total", group=group, event_type=t)
                        for t in by_type} == by_type
    assert value(got, "bkm_access_watermark_timestamp_seconds", group=group, topic=world.topic,
                 partition="0") == T0 + 5 * 60
    assert value(got, "bkm_access_checkpoint_seconds_count", group=group) >= 1  # type: ignore[operator]
    last_checkpoint = value(got, "bkm_access_last_checkpoint_timestamp_seconds", group=group)
    assert last_checkpoint is not None and time.time() - last_checkpoint < 60


@pytest.mark.parametrize("world", [1], indirect=True)
def test_a_consumer_whose_loop_stopped_stepping_is_not_ready_and_says_so(
        world: World, servers: list[MetricsServer]) -> None:
    runner = access_runner(world)
    probe = consumer_probe("loop", runner)
    probe.stall_seconds = 0.5
    server = serve(0, "127.0.0.1", readiness(("redis",), [probe]))
    servers.append(server)
    try:
        runner.step()
        assert ready(server.url)[0] == 200
        time.sleep(0.8)  # nobody steps the loop
        status, body = ready(server.url)
        assert (status, body["failing"]) == (503, ["loop"])
        assert body["checks"][1]["detail"].startswith("Stalled")
        runner.step()
        assert ready(server.url)[0] == 200
        assert requests.get(f"{server.url}/-/healthy", timeout=5).status_code == 200
    finally:
        runner.close()


def alert_events() -> list[bytes]:
    return [orjson.dumps(make_event(T0, key="a", severity=1)), orjson.dumps(make_event(T0, key="b", severity=2)),
            orjson.dumps(make_event(T0 + 60, "recovered", key="a", severity=1)), b"not json"]


def produce_raw(world: World, values: list[bytes]) -> None:
    producer = KafkaProducer(world.cluster, config={"compression.type": "none"})
    for raw in values:
        producer.produce(world.event_topic, raw, key=b"k")  # one partition: the recovery follows its anomaly
    producer.flush(30)


def test_the_alert_builder_port_counts_messages_applied_events_alert_changes_and_transactions(
        world: World, servers: list[MetricsServer]) -> None:
    produce_raw(world, alert_events())
    group = f"{world.group}-alert"
    runner = AlertRunner(AlertSettings(group_id=group, topics=(world.event_topic,), consumer_config=FAST_JOIN),
                         cluster=world.cluster)
    server = serve(0, "127.0.0.1", readiness(("database", "kafka"), [consumer_probe("loop", runner)]))
    servers.append(server)
    try:
        assert wait_until(lambda: runner.messages >= 4, 30, step=runner.step)
        got = scrape(server.url)
        status, body = ready(server.url)
    finally:
        runner.consumer.close()
    assert status == 200, body
    assert value(got, "bkm_alert_messages_total", group=group) == 4
    assert value(got, "bkm_alert_invalid_messages_total", group=group) == 1
    assert value(got, "bkm_kafka_dead_lettered_total", group=group, topic=world.event_topic) == 1
    assert value(got, "bkm_alert_events_applied_total", group=group) == 3
    assert value(got, "bkm_alerts_changed_total", group=group, kind="opened") == 2
    assert value(got, "bkm_alerts_changed_total", group=group, kind="ended") == 1
    transactions = value(got, "bkm_alert_transaction_seconds_count", group=group)
    assert transactions is not None and 1 <= transactions <= 3
    assert value(got, "bkm_alert_transaction_seconds_sum", group=group) > 0  # type: ignore[operator]


def test_run_alert_serves_its_metrics_port_and_says_where(world: World) -> None:
    produce_raw(world, alert_events())
    port = free_loopback_port()
    env = {**world.process_env(), "BKM_ALERT_METRICS_PORT": str(port), "BKM_ALERT_GROUP": f"{world.group}-cmd"}
    proc = subprocess.Popen([sys.executable, "manage.py", "run_alert"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    world.started(proc, f"alert: metrics on http://127.0.0.1:{port}/metrics")
    url = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: value(scrape(url), "bkm_alert_messages_total", group=f"{world.group}-cmd") == 4, 40)
    got = scrape(url)
    assert value(got, "bkm_alerts_changed_total", group=f"{world.group}-cmd", kind="opened") == 2
    assert ready(url)[0] == 200
    stop_process(proc)


def test_run_access_serves_its_metrics_port_and_says_where(world: World) -> None:
    world.create_strategy(api_config(world, count=2, check_window=3))
    world.produce([metric(T0 + i * 60, 10, "10.0.0.1") for i in range(5)])
    port = free_loopback_port()
    proc = subprocess.Popen([sys.executable, "manage.py", "run_access", "--type", "data"], cwd=ROOT,
                            env={**world.process_env(), "BKM_ACCESS_METRICS_PORT": str(port)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    world.started(proc, f"access: metrics on http://127.0.0.1:{port}/metrics")
    url = f"http://127.0.0.1:{port}"
    assert wait_until(lambda: value(scrape(url), "bkm_access_messages_total", group=world.group) == 5, 40)
    assert value(scrape(url), "bkm_access_windows_closed_total", group=world.group) == 4
    assert ready(url)[0] == 200
    stop_process(proc)
