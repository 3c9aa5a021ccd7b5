"""A batch that fails half-way is never checkpointed as if it were complete.

The failure is real: a producer whose `message.max.bytes` is below the size of an anomaly event
refuses it (librdkafka, synchronously) while the batch's windows are already closed in the state.
Saving that state would skip those windows' events for ever after a restart."""
from __future__ import annotations

import threading

import pytest

from alarm_backends.core.kafka.errors import ProduceError
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.storage.redis import get_client
from tests.access.conftest import World, wait_until
from tests.access.test_access_crash_and_rebalance import check, expected_events
from tests.access.test_access_e2e import api_config, metric

T0 = 1_700_000_040 - 1_700_000_040 % 60


def quiet_then_anomalous(hosts: int = 10) -> tuple[list, list]:
    quiet = [metric(T0 + m * 60 + h, 10, f"10.3.0.{h}") for m in range(6) for h in range(hosts)]
    busy = [metric(T0 + m * 60 + h, 10 if m < 9 else 97, f"10.3.0.{h}") for m in range(6, 16) for h in range(hosts)]
    return quiet, busy


@pytest.mark.parametrize("world", [2], indirect=True)
def test_a_batch_that_fails_half_way_is_replayed_from_the_last_good_snapshot_and_no_event_is_lost(
        world: World) -> None:
    world.create_strategy(api_config(world, count=2, check_window=3))
    quiet, busy = quiet_then_anomalous()
    world.produce(quiet)
    first = world.runner()
    assert wait_until(lambda: first.messages >= len(quiet), 30, step=first.step)
    first.close()  # a good snapshot of every partition at the end of the quiet minutes
    redis = get_client(world.redis_url)
    keys = sorted(redis.scan_iter(f"bkm:access:snapshot:{world.group}:*"))
    good = [redis.get(key) for key in keys]
    assert len(keys) == world.partitions

    world.produce(busy)
    # small batches and no checkpoint of its own: several whole batches are in its state, not yet
    # saved, when the batch holding the first anomaly fails
    failing = world.runner(batch_size=20, snapshot_interval=3600)
    failing.producer = KafkaProducer(world.cluster, config={"message.max.bytes": 1000})
    with pytest.raises(ProduceError, match="too large"):
        failing.run(threading.Event())
    assert failing.messages > 0  # it did get through whole batches before the failing one
    assert [redis.get(key) for key in keys] == good  # nothing of its work was saved as complete

    last = world.runner()
    try:
        assert wait_until(lambda: last.messages >= len(busy), 30, step=last.step)
        last.checkpoint()
    finally:
        last.close()
    check(world, expected_events(world, quiet + busy))
