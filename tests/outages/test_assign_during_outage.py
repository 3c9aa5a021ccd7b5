"""Redis unreachable (its process stopped, its data kept) while partitions are assigned: the runner
waits for their snapshots instead of starting them with empty state, then emits exactly what an
uninterrupted run emits."""
from __future__ import annotations

import os
import signal
import threading
import time

from alarm_backends.core.embedded import EmbeddedValkey
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.resilience import RetryPolicy
from tests.access.conftest import wait_until
from tests.access.test_access_crash_and_rebalance import check, expected_events, workload
from tests.access.test_access_e2e import api_config
from tests.outages.conftest import make_world


def test_partitions_assigned_while_redis_is_unreachable_wait_for_their_snapshots_and_lose_no_event(
        transactional_db: None, kafka_cluster: KafkaClusterConfig, own_valkey: EmbeddedValkey) -> None:
    world = make_world(kafka_cluster, own_valkey.url, partitions=2)
    world.create_strategy(api_config(world, count=2, check_window=3))
    first, second = workload(5, hosts=20, minutes=10), workload(6, hosts=20, minutes=10, first_minute=10)
    world.produce(first)
    before = world.runner()
    assert wait_until(lambda: before.messages >= len(first), 30, step=before.step)
    before.close()  # snapshots hold open windows and anomaly counts that the second half needs
    world.produce(second)

    runner = world.runner(retry=RetryPolicy(initial=0.2, maximum=1.0))  # joins the group on its first step
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    assert own_valkey.pid is not None
    os.kill(own_valkey.pid, signal.SIGSTOP)
    try:
        thread.start()
        # the assignment's snapshot read times out (the client's 10 s socket timeout), and is retried
        assert wait_until(lambda: runner.outage.down() == ["redis"], 45), "Redis was never found down"
        time.sleep(2)
        assert runner.messages == 0  # nothing consumed while the snapshots could not be read
        os.kill(own_valkey.pid, signal.SIGCONT)
        assert wait_until(lambda: runner.messages >= len(second), 60)
        assert not runner.outage.holding
    finally:
        os.kill(own_valkey.pid, signal.SIGCONT)
        stop.set()
        if thread.is_alive():
            thread.join(30)
    assert not thread.is_alive()
    check(world, expected_events(world, first + second))
