"""Small helpers for the Kafka contract tests (no fakes: everything talks to the broker)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Message

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.consumer import KafkaConsumer
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.kafka.topics import TopicManager

FAST_JOIN = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def make_topic(cluster: KafkaClusterConfig, name: str, partitions: int = 1) -> str:
    TopicManager(cluster, timeout=5).create_topic(name, partitions)
    return name


def produce_one_per_batch(cluster: KafkaClusterConfig, topic: str, values: list[bytes],
                          partition: int | None = None, timestamps: list[int] | None = None) -> None:
    """One record per produce request, so broker offsets and watermarks are exact."""
    producer = KafkaProducer(cluster, config={"linger.ms": 0})
    for i, value in enumerate(values):
        producer._producer.produce(topic, value, partition=partition if partition is not None else -1,
                                   timestamp=timestamps[i] if timestamps else 0)
        producer.flush(5)


def consumer(cluster: KafkaClusterConfig, group: str, topics: list[str] | None = None, **kwargs: Any) -> KafkaConsumer:
    config = {**FAST_JOIN, **kwargs.pop("config", {})}
    return KafkaConsumer(group, topics, cluster=cluster, config=config, **kwargs)


def drain(c: KafkaConsumer, expected: int, timeout: float = 20.0, mark: bool = True,
          stop: Callable[[list[Message]], bool] | None = None) -> list[Message]:
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        batch = c.get_messages(500, 0.2)
        got.extend(batch)
        if mark:
            c.mark_processed(batch)
        if stop and stop(got):
            break
    return got


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0, poll: Callable[[], object] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if poll:
            poll()
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
