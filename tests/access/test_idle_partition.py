"""A partition that receives nothing still raises no-data for its series: once it has been idle
and caught up for BKM_ACCESS_IDLE_SECONDS, its event-time clock follows its topic's other
partitions. A partition that is merely behind (a backlog) is not idle and raises nothing
(docs/ARCHITECTURE.md, Semantics: idle partitions)."""
from __future__ import annotations

import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from alarm_backends.core.kafka.partitioner import partition_for_key
from alarm_backends.service.access.data.runner import IDLE_CHECK_EVERY
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


def idle_advances(world: World) -> float:
    return REGISTRY.get_sample_value("bkm_access_idle_advances_total", {"group": world.group}) or 0.0


@pytest.mark.parametrize("world", [3], indirect=True)
def test_a_partition_that_is_merely_behind_raises_no_false_no_data_while_a_silent_one_beside_it_does(
        world: World) -> None:
    watched(world)
    hosts = ((0, "10.0.0.1"), (1, "10.0.0.2"), (2, "10.0.0.3"))
    world.produce([point(world, p, m, ip) for m in range(5) for p, ip in hosts])
    runner = world.runner(idle_seconds=1.0)
    try:
        assert wait_until(lambda: runner.messages >= 15, 60, step=runner.step)
        before = idle_advances(world)
        runner.consumer.pause([(world.topic, 0)])  # a backlog builds up on partition 0; partition 2 falls silent
        world.produce([point(world, p, m, ip) for m in range(5, 15) for p, ip in hosts[:2]])
        assert wait_until(lambda: idle_advances(world) > before, 30, step=runner.step)
        # Partitions 0 and 2 stopped moving before the pause, at most one idle check apart; two more
        # checks from here therefore saw partition 0 quiet past the idle timeout, and left it: it has lag.
        deadline = time.monotonic() + 2 * IDLE_CHECK_EVERY + 0.5
        while time.monotonic() < deadline:
            runner.step()
        assert idle_advances(world) - before == 1  # partition 2 once, partition 0 never
        assert runner.messages == 25  # partition 1's ten, none of partition 0's backlog
        runner.consumer.resume([(world.topic, 0)])
        assert wait_until(lambda: runner.messages >= 35, 30, step=runner.step)
        runner.checkpoint()
    finally:
        runner.close()
    # 10.0.0.3 (silent partition 2) gets its no-data at minute 9; 10.0.0.1 (behind) none
    assert no_data_of(world, 1) == [("10.0.0.3", 9)]
