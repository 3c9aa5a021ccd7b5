"""A state snapshot belongs to one cluster and one creation of its topic. Resumed anywhere else
(an in-memory broker restarted under a persistent Redis) it would skip the new data silently:
it is dropped with a warning and the partition starts afresh."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import orjson
import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from alarm_backends.core.embedded import EmbeddedKafkaBroker
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.topics import TopicManager
from alarm_backends.core.storage.redis import get_client
from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.state import Origin, PartitionState, stale_snapshot
from metadata.models import ClusterInfo, KafkaStorage, ResultTable
from tests.access.conftest import World, wait_until
from tests.access.test_access_crash_and_rebalance import expected_events, workload
from tests.access.test_access_e2e import api_config

HERE = Origin("cluster-a", "topic-1")


# the decision, on plain data
def test_a_snapshot_from_the_same_topic_inside_the_watermarks_is_resumed() -> None:
    assert stale_snapshot(500, HERE, HERE, low=0, high=500) is None
    assert stale_snapshot(0, HERE, HERE, low=0, high=0) is None


def test_a_snapshot_of_an_earlier_creation_of_the_topic_is_stale_even_with_its_offset_in_range() -> None:
    reason = stale_snapshot(300, HERE, Origin("cluster-a", "topic-2"), low=0, high=900)
    assert reason is not None and "topic-1" in reason and "topic-2" in reason


def test_a_snapshot_from_another_cluster_is_stale() -> None:
    reason = stale_snapshot(300, HERE, Origin("cluster-b", "topic-1"), low=0, high=900)
    assert reason is not None and "cluster-a" in reason and "cluster-b" in reason


def test_a_snapshot_past_the_end_or_before_the_start_of_the_partition_is_stale() -> None:
    assert stale_snapshot(22_695, HERE, HERE, low=0, high=0) is not None
    assert stale_snapshot(10, HERE, HERE, low=11, high=40) is not None


def test_an_origin_the_broker_cannot_tell_leaves_the_watermarks_to_decide() -> None:
    unknown = Origin(None, None)
    assert stale_snapshot(40, HERE, unknown, low=0, high=40) is None
    assert stale_snapshot(41, HERE, unknown, low=0, high=40) is not None
    assert stale_snapshot(40, None, HERE, low=0, high=40) is None  # a snapshot older than origins
    assert stale_snapshot(41, None, HERE, low=0, high=40) is not None


def test_the_snapshot_keeps_its_origin_and_an_older_snapshot_without_one_still_loads() -> None:
    index = StrategyIndex([], {})
    state = PartitionState(0)
    state.offset, state.origin = 17, HERE
    restored = PartitionState.load(state.dump({}), 0, index)
    assert (restored.offset, restored.origin) == (17, HERE)

    older = orjson.loads(state.dump({}))
    older["format"] = 4
    del older["origin"]
    restored = PartitionState.load(orjson.dumps(older), 0, index)
    assert (restored.offset, restored.origin) == (17, None)


def test_a_snapshot_with_a_malformed_origin_is_rejected_naming_it() -> None:
    data = orjson.loads(PartitionState(0).dump({}))
    data["origin"] = "cluster-a"
    with pytest.raises(ValueError, match="snapshot origin"):
        PartitionState.load(orjson.dumps(data), 0, StrategyIndex([], {}))


# the whole story, on a broker of its own restarted under a live Redis
@pytest.fixture
def broker() -> Iterator[EmbeddedKafkaBroker]:
    broker = EmbeddedKafkaBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def _topics(world: World) -> None:
    topics = TopicManager(world.cluster, timeout=5)
    topics.create_topic(world.topic, partitions=world.partitions)
    topics.create_topic(world.event_topic, partitions=3)


@pytest.fixture
def restartable_world(transactional_db: None, broker: EmbeddedKafkaBroker, redis_url: str) -> World:
    suffix = uuid.uuid4().hex[:8]
    table, topic, event_topic = f"inc{suffix}.cpu", f"bkm_inc_{suffix}", f"bkm_inc_events_{suffix}"
    cluster = KafkaClusterConfig(hosts=(broker.bootstrap_servers,))
    info = ClusterInfo.objects.create(cluster_name=f"restartable-{suffix}", domain_name=broker.host,
                                      port=int(broker.port or 0))
    ResultTable.objects.create(table_id=table)
    KafkaStorage.objects.create(table_id=table, topic=topic, partition=1, storage_cluster=info)
    api = APIClient()
    api.force_authenticate(User.objects.create_superuser(f"admin{suffix}", password="pw"))
    world = World(cluster, redis_url, table, topic, event_topic, f"access-{suffix}", 1, api)
    _topics(world)
    return world


def _run_until_consumed(world: World, count: int) -> None:
    """One access process's life: consume `count` messages, checkpoint, stop."""
    runner = world.runner()
    try:
        assert wait_until(lambda: runner.messages >= count, 60, step=runner.step), runner.messages
        runner.checkpoint()
    finally:
        try:
            runner.close()
        finally:
            # the process-wide producer goes with the process: an idempotent producer's session
            # does not survive the broker it was opened on
            runner.producer.close()


def test_after_the_broker_restarts_empty_under_a_live_redis_the_replayed_points_are_processed_again(
        restartable_world: World, broker: EmbeddedKafkaBroker, caplog: pytest.LogCaptureFixture) -> None:
    world = restartable_world
    world.create_strategy(api_config(world, count=2, check_window=3))
    points = workload(11, hosts=40, minutes=12)
    expected = expected_events(world, points)
    assert expected  # the workload does raise events
    world.produce(points)
    _run_until_consumed(world, len(points))
    snapshot = get_client(world.redis_url).get(f"bkm:access:snapshot:{world.group}:{world.topic}:0")
    assert snapshot is not None and orjson.loads(snapshot)["offset"] == len(points)

    # the in-memory broker restarts on the same port: same name, new topics, no offsets, no data
    port = broker.port
    broker.stop()
    second = EmbeddedKafkaBroker(port=port)  # the cluster config (and ClusterInfo) keep pointing at it
    second.start()
    try:
        _topics(world)
        world.produce(points)  # the same replay: as many messages as the snapshot's offset counts
        with caplog.at_level(logging.WARNING, logger="alarm_backends.service.access.data.runner"):
            _run_until_consumed(world, len(points))
        got = {e["event_id"]: e for e in world.read_events(len(expected))}
    finally:
        second.stop()
    warnings = [r.getMessage() for r in caplog.records if "dropping the snapshot" in r.getMessage()]
    assert len(warnings) == 1, caplog.text
    assert f"{world.topic}[0] at offset {len(points)}" in warnings[0]
    assert "low 0, high " in warnings[0] and "created again" in warnings[0]
    assert world.group in warnings[0]
    assert got == expected  # the new topic got every event a fresh run emits


def test_the_end_of_a_partition_is_its_last_message_even_where_the_broker_reports_the_high_watermark_short(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    from alarm_backends.core.kafka.consumer import KafkaConsumer
    from alarm_backends.core.kafka.producer import KafkaProducer

    TopicManager(kafka_cluster, timeout=5).create_topic(topic_name, partitions=1)
    producer = KafkaProducer(kafka_cluster, config={"linger.ms": 200, "compression.type": "none"})
    for i in range(50):  # one batch
        producer.produce(topic_name, b"%d" % i, partition=0)
    producer.flush(10)
    consumer = KafkaConsumer(f"probe-{uuid.uuid4().hex[:6]}", cluster=kafka_cluster)
    try:
        key = (topic_name, 0)
        low, high = consumer.watermarks([key])[key]
        assert low == 0 and 1 <= high <= 50  # the embedded broker says 1 (the batch's base + 1), Kafka 50
        assert consumer.confirmed_ends({key: high}) == {key: 50}
        assert consumer.identities([topic_name])[1][topic_name]  # this broker does give topic ids
    finally:
        consumer.close()
