import time

import pytest

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.errors import (
    BrokerUnavailable,
    GroupHasActiveMembers,
    InvalidTopicName,
    TopicAlreadyExists,
    TopicError,
    TopicNotFound,
    UnsupportedByBroker,
)
from alarm_backends.core.kafka.offsets import OffsetManager, groups_for_topic
from alarm_backends.core.kafka.topics import TopicManager, validate_topic_name
from tests.kafka.helpers import consumer, drain, make_topic, produce_one_per_batch

DOWN = KafkaClusterConfig(hosts=("127.0.0.1:1",))


@pytest.mark.parametrize("name, rule", [
    ("", "empty"), (".", "not allowed"), ("..", "not allowed"), ("a" * 250, "longer than 249"),
    ("cpu load", "illegal character"), ("指标", "illegal character"), ("a/b", "illegal character"),
])
def test_topic_names_are_checked_like_kafka_checks_them(name: str, rule: str) -> None:
    with pytest.raises(InvalidTopicName, match=rule):
        validate_topic_name(name)


def test_legal_topic_names_pass() -> None:
    for name in ("0bkmonitor_15000010", "a.b-c_D", "x" * 249):
        assert validate_topic_name(name) == name


def test_a_topic_is_created_described_altered_and_deleted(kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    topics = TopicManager(kafka_cluster, timeout=5)
    topics.create_topic(topic_name, partitions=3, config={"retention.ms": "1800000", "cleanup.policy": "delete"})
    described = topics.describe_topic(topic_name)
    assert described.partition_count == 3 and described.replication_factor == 1
    assert described.configs["retention.ms"] == "1800000"
    assert topic_name in topics.list_topics()

    topics.alter_topic(topic_name, config={"retention.ms": "-1"})
    assert topics.describe_configs(topic_name)["retention.ms"] == "-1"

    with pytest.raises(TopicError, match="cannot decrease partitions from 3 to 2"):
        topics.alter_topic(topic_name, partitions=2)
    with pytest.raises(TopicAlreadyExists, match="already exists"):
        topics.create_topic(topic_name)

    topics.delete_topic(topic_name)
    assert not topics.topic_exists(topic_name)
    with pytest.raises(TopicNotFound, match=f"{topic_name!r}: does not exist"):
        topics.describe_topic(topic_name)


def test_growing_partitions_on_this_broker_says_it_is_not_supported(kafka_cluster: KafkaClusterConfig,
                                                                      topic_name: str) -> None:
    # The embedded broker has no CreatePartitions; a real Kafka cluster grows the topic.
    topics = TopicManager(kafka_cluster, timeout=5)
    topics.create_topic(topic_name, partitions=1)
    with pytest.raises(UnsupportedByBroker, match="not supported by this broker"):
        topics.alter_topic(topic_name, partitions=2)


def test_topics_that_differ_only_by_dot_and_underscore_collide(kafka_cluster: KafkaClusterConfig,
                                                                topic_name: str) -> None:
    topics = TopicManager(kafka_cluster, timeout=5)
    topics.create_topic(f"{topic_name}.metrics")
    with pytest.raises(InvalidTopicName, match="collides with existing topic"):
        topics.create_topic(f"{topic_name}_metrics")


def test_an_unreachable_cluster_fails_fast_with_the_address() -> None:
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="127.0.0.1:1 unreachable within 2s"):
        TopicManager(DOWN, timeout=2).list_topics()
    with pytest.raises(BrokerUnavailable):
        OffsetManager("g", "t", DOWN, timeout=2).get_offset()
    assert time.monotonic() - started < 8


def test_offsets_tails_and_lag_are_per_partition(kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name, partitions=2)
    produce_one_per_batch(kafka_cluster, topic_name, [b"x"] * 5, partition=0)
    produce_one_per_batch(kafka_cluster, topic_name, [b"x"] * 3, partition=1)
    group = f"g-{topic_name}"
    offsets = OffsetManager(group, topic_name, kafka_cluster)
    assert offsets.get_offset() == {0: None, 1: None}
    assert offsets.get_tail() == {0: 5, 1: 3}
    assert offsets.lag() == {0: 5, 1: 3}

    assert [c.partition for c in offsets.set_offset({0: 2})] == [0]
    assert offsets.get_offset() == {0: 2, 1: None}
    assert offsets.lag() == {0: 3, 1: 3} and offsets.total_lag() == 6
    assert groups_for_topic(topic_name, kafka_cluster) == [group]


def test_set_offset_never_moves_backwards_unless_forced(kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    produce_one_per_batch(kafka_cluster, topic_name, [b"x"] * 5)
    offsets = OffsetManager(f"g-{topic_name}", topic_name, kafka_cluster)
    offsets.set_offset({0: 4})
    assert offsets.set_offset({0: 1}) == []
    assert offsets.get_offset() == {0: 4}
    offsets.set_offset({0: 1}, force=True)
    assert offsets.get_offset() == {0: 1}


def test_reset_to_earliest_latest_a_timestamp_or_explicit_offsets(kafka_cluster: KafkaClusterConfig,
                                                                  topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    base = 1_700_000_000_000
    produce_one_per_batch(kafka_cluster, topic_name, [b"x"] * 6, timestamps=[base + i * 1000 for i in range(6)])
    offsets = OffsetManager(f"g-{topic_name}", topic_name, kafka_cluster)
    offsets.reset_consumer_offset("latest")
    assert offsets.get_offset() == {0: 6}
    plan = offsets.reset_consumer_offset("earliest", dry_run=True)
    assert [(c.old, c.new) for c in plan] == [(6, 0)] and offsets.get_offset() == {0: 6}
    offsets.reset_consumer_offset("earliest")
    assert offsets.get_offset() == {0: 0}
    offsets.reset_consumer_offset("timestamp", timestamp_ms=base + 3000)
    assert offsets.get_offset() == {0: 3}
    offsets.reset_consumer_offset("offsets", offsets={0: 5})
    assert offsets.get_offset() == {0: 5}
    with pytest.raises(ValueError, match="timestamp_ms is required"):
        offsets.reset_consumer_offset("timestamp")


def test_resetting_a_group_with_live_members_is_refused_unless_forced(kafka_cluster: KafkaClusterConfig,
                                                                      topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    produce_one_per_batch(kafka_cluster, topic_name, [b"x"] * 3)
    group = f"g-{topic_name}"
    live = consumer(kafka_cluster, group, [topic_name])
    try:
        drain(live, 3)
        offsets = OffsetManager(group, topic_name, kafka_cluster)
        with pytest.raises(GroupHasActiveMembers, match="stop its consumers first, or pass force=True"):
            offsets.reset_consumer_offset("earliest")
        with pytest.raises(GroupHasActiveMembers):
            offsets.set_offset({0: 1})
        offsets.reset_consumer_offset("earliest", force=True, dry_run=True)
    finally:
        live.close()
    OffsetManager(group, topic_name, kafka_cluster).reset_consumer_offset("earliest")
