"""State lost with Redis must not orphan alerts: a partition that resumes without its snapshot
after the group consumed it rebuilds its open alerts from the database, so they still recover
(or close) with the very events an uninterrupted run emits (docs/ARCHITECTURE.md, Semantics:
resuming a partition without state)."""
from __future__ import annotations

import logging
from typing import Any

import pytest
from prometheus_client import REGISTRY

from alarm_backends.core.kafka.partitioner import partition_for_key
from alarm_backends.core.storage.redis import get_client
from bkmonitor.alerts.builder import apply_events
from bkmonitor.models import Alert, AlertLog, Algorithm, Detect, QueryConfig, Strategy, StrategyItem
from tests.access.conftest import World, wait_until
from tests.access.test_access_crash_and_rebalance import expected_events
from tests.access.test_access_e2e import api_config

T0 = 1_700_000_040 - 1_700_000_040 % 60
Message = tuple[str, dict[str, Any]]


def point(key: str, minute: int, value: float, ip: str) -> Message:
    """One point of host `ip`, sent with Kafka key `key` (the key decides the partition)."""
    return key, {"time": T0 + minute * 60, "dimensions": {"bk_target_ip": ip, "bk_target_cloud_id": "0"},
                 "metrics": {"usage": value}}


def key_on(world: World, partition: int) -> str:
    return next(f"k{i}" for i in range(1000) if partition_for_key(f"k{i}".encode(), world.partitions) == partition)


def run(world: World, messages: int) -> None:
    """One access process's life: consume `messages` messages, checkpoint, stop."""
    runner = world.runner()
    try:
        assert wait_until(lambda: runner.messages >= messages, 60, step=runner.step), runner.messages
        runner.checkpoint()
    finally:
        runner.close()


def lose_redis_state(world: World) -> None:
    """What Redis restarted empty means to this group: no snapshot, no progress record."""
    client = get_client(world.redis_url)
    doomed = list(client.scan_iter(f"bkm:access:snapshot:{world.group}:*")) + [f"bkm:access:progress:{world.group}"]
    client.delete(*doomed)
    assert not list(client.scan_iter(f"bkm:access:snapshot:{world.group}:*"))


def build(world: World, expected: int) -> list[dict[str, Any]]:
    events = world.read_events(expected)
    apply_events(events)
    return events


def quiet_copies(strategy_id: int, count: int) -> None:
    """`count` more strategies reading the same metric that never fire (threshold out of reach): a
    topic with that many items, written in bulk since only their number matters here."""
    original = Strategy.objects.get(id=strategy_id)
    item = original.items.get()
    query = item.query_configs.get()
    algorithm = item.algorithms.get()
    detects = list(original.detects.all())
    copies = Strategy.objects.bulk_create(
        [Strategy(name=f"quiet {n}", bk_biz_id=original.bk_biz_id) for n in range(count)])
    items = StrategyItem.objects.bulk_create(
        [StrategyItem(strategy=s, name=item.name, no_data_config=item.no_data_config) for s in copies])
    QueryConfig.objects.bulk_create([QueryConfig(
        item=i, data_type_label=query.data_type_label, result_table_id=query.result_table_id,
        metric_field=query.metric_field, agg_method=query.agg_method, agg_interval=query.agg_interval,
        agg_dimension=query.agg_dimension, agg_condition=query.agg_condition, unit=query.unit) for i in items])
    Algorithm.objects.bulk_create([Algorithm(item=i, level=algorithm.level, type="Threshold",
                                             config=[[{"method": "gte", "threshold": 1e12}]]) for i in items])
    Detect.objects.bulk_create([Detect(strategy=s, level=d.level, connector=d.connector,
                                       trigger_config=d.trigger_config, recovery_config=d.recovery_config)
                                for s in copies for d in detects])


def rebuild_count(group: str) -> float:
    return REGISTRY.get_sample_value("bkm_access_state_rebuilds_total", {"group": group}) or 0.0


def test_an_alert_open_when_redis_lost_the_state_recovers_exactly_as_in_an_uninterrupted_run(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    world.create_strategy(api_config(world, count=2, check_window=3))  # 2 of 3 windows; recovery after 5 clean
    key = key_on(world, 0)
    # host A anomalous in windows 0-5; host C shares A's key (partition) and only moves the clock
    before = [point(key, m, 95, "10.0.0.1") for m in range(6)] + [point(key, 6, 10, "10.0.0.9")]
    after = [point(key, m, 10, "10.0.0.1") for m in range(6, 14)]
    uninterrupted = expected_events(world, before + after)
    world.produce(before)
    run(world, len(before))
    build(world, 5)
    alert = Alert.objects.get(dimensions__bk_target_ip="10.0.0.1")
    assert alert.status == "ABNORMAL"

    lose_redis_state(world)
    world.produce(after)
    with caplog.at_level(logging.WARNING, logger="alarm_backends.service.access.data.runner"):
        run(world, len(after))
    emitted = build(world, len(uninterrupted))

    assert f"resuming {world.topic}[0] without state: rebuilding open alerts from the database" in caplog.text
    assert rebuild_count(world.group) >= 1
    got = {e["event_id"]: (e["event_type"], e["time"]) for e in emitted}
    assert got == {i: (e["event_type"], e["time"]) for i, e in uninterrupted.items()}
    alert.refresh_from_db()
    assert (alert.status, alert.end_time, alert.recovery_value) == ("RECOVERED", T0 + 11 * 60, 10.0)


def test_an_alert_whose_series_is_gone_is_closed_once_by_the_no_data_rule_though_every_partition_was_rebuilt(
        world: World) -> None:
    world.create_strategy(api_config(world, count=2, check_window=3))
    key0, key1 = key_on(world, 0), key_on(world, 1)
    clock = [point(k, m, 10, ip) for m in range(7) for k, ip in ((key0, "10.0.1.0"), (key1, "10.0.1.1"))]
    before = [point(key0, m, 95, "10.0.0.1") for m in range(6)] + clock
    after = [point(k, m, 10, ip) for m in range(7, 70) for k, ip in ((key0, "10.0.1.0"), (key1, "10.0.1.1"))]
    uninterrupted = expected_events(world, before + after)
    closes = [e for e in uninterrupted.values() if e["event_type"] == "closed"]
    assert [c["time"] for c in closes] == [T0 + 5 * 60 + 30 * 60]  # 30 min after its last window
    world.produce(before)
    run(world, len(before))
    build(world, 5)
    alert = Alert.objects.get(dimensions__bk_target_ip="10.0.0.1")

    lose_redis_state(world)  # both partitions resume without state: both are seeded with the alert
    runner = world.runner()
    try:
        # the seeds' grace starts at each partition's first silence scan after the rebuild
        first, rest = after[:6], after[6:]
        world.produce(first)
        assert wait_until(lambda: runner.messages >= len(first), 60, step=runner.step), runner.messages
        world.produce(rest)
        assert wait_until(lambda: runner.messages >= len(after), 60, step=runner.step), runner.messages
        runner.checkpoint()
    finally:
        runner.close()
    emitted = build(world, len(uninterrupted) + 1)

    closed = [e for e in emitted if e["event_type"] == "closed"]
    assert len(closed) == 2  # one from each partition holding the seed ...
    assert {e["event_id"] for e in closed} == {closes[0]["event_id"]}  # ... the same event, as uninterrupted
    alert.refresh_from_db()
    assert (alert.status, alert.end_time) == ("CLOSED", T0 + 35 * 60)
    assert AlertLog.objects.filter(alert=alert, op="CLOSE").count() == 1
    assert {e["event_id"] for e in emitted} == set(uninterrupted)


def test_a_topic_read_by_more_than_a_thousand_items_still_rebuilds_its_open_alerts(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    # one condition per (strategy, item) pair would nest past SQLite's expression depth (1000)
    strategy = world.create_strategy(api_config(world, count=2, check_window=3))
    quiet_copies(strategy["id"], 1200)
    key = key_on(world, 0)
    before = [point(key, m, 95, "10.0.0.1") for m in range(6)] + [point(key, 6, 10, "10.0.0.9")]
    after = [point(key, m, 10, "10.0.0.1") for m in range(6, 14)]
    uninterrupted = expected_events(world, before + after)
    world.produce(before)
    run(world, len(before))
    build(world, 5)

    lose_redis_state(world)
    world.produce(after)
    with caplog.at_level(logging.INFO, logger="alarm_backends.service.access.data.runner"):
        run(world, len(after))
    emitted = build(world, len(uninterrupted))

    assert "could not read the open alerts" not in caplog.text
    assert f"{world.topic}[0] rebuilt with 1 open alerts" in caplog.text
    assert {e["event_id"] for e in emitted} == set(uninterrupted)
    alert = Alert.objects.get(dimensions__bk_target_ip="10.0.0.1")
    assert (alert.status, alert.end_time) == ("RECOVERED", T0 + 11 * 60)
