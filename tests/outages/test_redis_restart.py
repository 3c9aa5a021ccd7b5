"""Redis (Valkey) killed during a replay and started again, empty: `run_access` stays up, holds its
work, says it is not ready, and once Redis is back writes every snapshot again and emits exactly
what an uninterrupted run emits."""
from __future__ import annotations

import time

from alarm_backends.core.embedded import EmbeddedValkey
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.storage.redis import get_client
from tests.access.test_access_crash_and_rebalance import (
    check,
    emitted_count,
    expected_events,
    wait_for_progress,
    wait_until_consumed,
    workload,
)
from tests.access.test_access_e2e import api_config
from tests.outages.conftest import children_killed, kill, make_world
from tests.processes import stop_process
from tests.outages.helpers import count_lines, start_access


def test_run_access_rides_out_redis_killed_and_restarted_empty_and_emits_what_an_uninterrupted_run_emits(
        transactional_db: None, kafka_cluster: KafkaClusterConfig, own_valkey: EmbeddedValkey) -> None:
    world = make_world(kafka_cluster, own_valkey.url, partitions=2)
    with children_killed(world):
        world.create_strategy(api_config(world, count=2, check_window=3))
        first, second = workload(1, hosts=40, minutes=15), workload(2, hosts=40, minutes=15, first_minute=15)
        world.produce(first)
        access = start_access(world)
        wait_for_progress(world, access.proc, 0)

        port = kill(own_valkey)
        world.produce(second)  # arrives while Redis is down: held or not consumed, never lost
        body = access.wait_not_ready_for("outage", timeout=30)
        assert "redis" in body["failing"]
        assert access.gauge("bkm_dependency_up", group=world.group, dependency="redis") == 0
        assert access.gauge("bkm_process_degraded", group=world.group) == 1
        held_at = emitted_count(world)
        time.sleep(5)
        access.assert_alive()
        assert emitted_count(world) == held_at  # it stopped consuming instead of running ahead

        restarted = EmbeddedValkey(port=port)  # empty: every snapshot and progress record is gone
        restarted.start()
        try:
            wait_until_consumed(world, first + second)
            access.assert_alive()
            snapshots = sorted(get_client(world.redis_url).scan_iter(f"bkm:access:snapshot:{world.group}:*"))
            assert len(snapshots) == world.partitions  # rewritten into the empty Redis, idle partitions too
            assert access.ready()[0] == 200
            assert access.gauge("bkm_dependency_up", group=world.group, dependency="redis") == 1
            assert access.gauge("bkm_process_degraded", group=world.group) == 0
            out = stop_process(access.proc)
        finally:
            restarted.stop()
    assert count_lines(out, "redis unavailable") == 1, out  # logged once per change of state, not per retry
    assert count_lines(out, "redis is back after") == 1, out
    check(world, expected_events(world, first + second))

