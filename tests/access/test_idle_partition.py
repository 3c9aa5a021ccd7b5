"""A partition that receives nothing still raises no-data for its series: once it has been idle
and caught up for BKM_ACCESS_IDLE_SECONDS, its event-time clock follows its topic's other
partitions. A partition that is merely behind (a backlog) is not idle and raises nothing
(docs/ARCHITECTURE.md, Semantics: idle partitions)."""
from __future__ import annotations

import time
from typing import Any

from prometheus_client import REGISTRY

from alarm_backends.core.kafka.partitioner import partition_for_key
from tests.access.conftest import World, wait_until
from tests.access.test_access_e2e import api_config

NOW = int(time.time())
T = NOW - NOW % 60 - 30 * 60  # event times near the wall clock: the idle clock never passes it


def point(world: World, partition: int, minute: int, ip: str) -> tuple[str, dict[str, Any]]:
    key = next(f"k{i}" for i in range(1000) if partition_for_key(f"k{i}".encode(), world.partitions) == partition)
    return key, {"time": T + minute * 60, "dimensions": {"bk_target_ip": ip, "bk_target_cloud_id": "0"},
                 "metrics": {"usage": 10}}


def watched(world: World) -> None:
    config = api_config(world, count=1, check_window=1)
    config["items"][0]["no_data_config"] = {"is_enabled": True, "continuous": 5, "level": 2}
    world.create_strategy(config)


def no_data_of(world: World, events: int) -> list[tuple[str, int]]:
    return sorted((e["dimensions"]["bk_target_ip"], (e["time"] - T) // 60)
                  for e in world.read_events(events, timeout=5) if e["event_type"] == "no_data")


def test_series_of_a_silent_partition_get_no_data_while_the_other_partition_keeps_going(world: World) -> None:
    watched(world)
    world.produce([point(world, p, m, ip) for m in range(5) for p, ip in ((0, "10.0.0.1"), (1, "10.0.0.2"))])
    runner = world.runner(idle_seconds=1.0)
    try:
        assert wait_until(lambda: runner.messages >= 10, 60, step=runner.step)
        world.produce([point(world, 1, m, "10.0.0.2") for m in range(5, 15)])  # partition 0 falls silent
        assert wait_until(lambda: runner.events >= 1, 30, step=runner.step), runner.events
        runner.checkpoint()
        advances = REGISTRY.get_sample_value("bkm_access_idle_advances_total", {"group": world.group})
    finally:
        runner.close()
    # 10.0.0.1's last window is minute 4: no data for 5 windows is decided at minute 9, in event time
    assert no_data_of(world, 1) == [("10.0.0.1", 9)]
    assert advances is not None and advances >= 1


def test_a_partition_that_is_merely_behind_raises_no_false_no_data(world: World) -> None:
    watched(world)
    world.produce([point(world, p, m, ip) for m in range(5) for p, ip in ((0, "10.0.0.1"), (1, "10.0.0.2"))])
    runner = world.runner(idle_seconds=1.0)
    try:
        assert wait_until(lambda: runner.messages >= 10, 60, step=runner.step)
        runner.consumer.pause([(world.topic, 0)])  # a backlog builds up on partition 0
        world.produce([point(world, p, m, ip) for m in range(5, 15) for p, ip in ((0, "10.0.0.1"), (1, "10.0.0.2"))])
        deadline = time.monotonic() + 6  # well past the idle timeout and a few idle checks
        while time.monotonic() < deadline:
            runner.step()
        assert runner.messages == 20  # partition 1's ten, none of partition 0's backlog
        assert runner.events == 0
        runner.consumer.resume([(world.topic, 0)])
        assert wait_until(lambda: runner.messages >= 30, 30, step=runner.step)
        runner.checkpoint()
    finally:
        runner.close()
    assert no_data_of(world, 0) == []
