"""Real `run_access` processes: kill -9 at random points, and a rebalance between two
of them. Every event an uninterrupted run emits must come out, with the same id."""
from __future__ import annotations

import random
import subprocess
import time
from collections import defaultdict
from typing import Any

import orjson
import pytest

from alarm_backends.core.kafka.offsets import OffsetManager
from alarm_backends.core.kafka.partitioner import partition_for_key
from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.processor import AccessProcessor
from alarm_backends.service.access.data.sources import load_strategies
from alarm_backends.service.access.data.state import PartitionState
from tests.access.conftest import World
from tests.processes import output_of, stop_process
from tests.access.test_access_e2e import api_config, metric

T0 = 1_700_000_040 - 1_700_000_040 % 60


def workload(seed: int, hosts: int, minutes: int, first_minute: int = 0) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    return [metric(T0 + m * 60 + rng.randrange(60), rng.choice([10, 20, 95, 99]), f"10.1.{h // 250}.{h % 250}")
            for m in range(first_minute, first_minute + minutes) for h in range(hosts)]


def expected_events(world: World, messages: list[tuple[str, dict[str, Any]]]) -> dict[str, dict]:
    """What an uninterrupted run emits: each partition's messages, in order, through the processor."""
    strategies, topics = load_strategies()
    processor = AccessProcessor(StrategyIndex(strategies, topics))
    by_partition: dict[int, list[bytes]] = defaultdict(list)
    for key, message in messages:
        by_partition[partition_for_key(key.encode(), world.partitions)].append(orjson.dumps(message))
    events: dict[str, dict] = {}
    for raws in by_partition.values():
        state = PartitionState(0)
        for raw in raws:
            processor.ingest(state, world.topic, raw)
            for event in processor.close_windows(state):
                events[event["event_id"]] = event
    return events


def emitted_count(world: World) -> int:
    return sum(OffsetManager("probe", world.event_topic, world.cluster).get_tail().values())


def wait_for_progress(world: World, proc: subprocess.Popen[str], above: int, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while emitted_count(world) <= above:
        assert proc.poll() is None, output_of(proc)
        assert time.monotonic() < deadline, "run_access made no progress"
        time.sleep(0.05)


def wait_until_consumed(world: World, messages: list[tuple[str, dict[str, Any]]], timeout: float = 90) -> None:
    """Until the access group has committed every partition's last offset (the topic is fresh)."""
    ends: dict[int, int] = defaultdict(int)
    for key, _ in messages:
        ends[partition_for_key(key.encode(), world.partitions)] += 1
    offsets = OffsetManager(world.group, world.topic, world.cluster)
    deadline = time.monotonic() + timeout
    while offsets.get_offset() != dict(ends):
        assert time.monotonic() < deadline, f"committed {offsets.get_offset()}, wanted {dict(ends)}"
        time.sleep(0.2)


def check(world: World, expected: dict[str, dict], timeout: float = 60) -> None:
    got = world.read_events(len(expected), timeout=timeout)
    by_id: dict[str, dict] = {}
    for event in got:
        assert by_id.setdefault(event["event_id"], event) == event  # a duplicate is the same event
    assert set(by_id) == set(expected)


@pytest.mark.parametrize("world", [2], indirect=True)
def test_kill_9_of_the_access_process_loses_no_event(world: World) -> None:
    world.create_strategy(api_config(world, count=2, check_window=3))
    rng = random.Random(7)
    waves = [workload(seed, hosts=400, minutes=15, first_minute=15 * seed) for seed in range(3)]
    world.produce(waves[0])
    for wave in waves[1:]:
        proc = world.start_access()
        wait_for_progress(world, proc, emitted_count(world))
        time.sleep(rng.uniform(0.0, 0.4))
        proc.kill()  # kill -9: no drain, no checkpoint
        proc.wait()
        world.produce(wave)
    proc = world.start_access()
    everything = [m for wave in waves for m in wave]
    wait_until_consumed(world, everything)
    out = stop_process(proc)
    assert "access: stopped after" in out
    check(world, expected_events(world, everything))


@pytest.mark.parametrize("world", [4], indirect=True)
def test_two_access_processes_share_the_partitions_and_lose_nothing_on_the_rebalance(world: World) -> None:
    world.create_strategy(api_config(world, count=2, check_window=3))
    first, second = workload(1, hosts=300, minutes=20), workload(2, hosts=300, minutes=20, first_minute=20)
    world.produce(first)
    a = world.start_access()
    wait_for_progress(world, a, 0)
    b = world.start_access()  # joins: half of a's partitions move, with their state
    time.sleep(8)
    world.produce(second)
    wait_until_consumed(world, first + second)
    out_b, out_a = stop_process(b), stop_process(a)
    processed = [int(o.split("stopped after ")[1].split()[0]) for o in (out_a, out_b)]
    assert all(n > 0 for n in processed), (out_a, out_b)  # both really worked
    check(world, expected_events(world, first + second))
