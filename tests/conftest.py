"""Shared fixtures: real services only.

Kafka is the embedded Tansu broker unless BK_MONITOR_KAFKA_HOST points at a
cluster; Redis is an embedded Valkey unless REDIS_URL is set. Both are started
once per test session and stopped at the end.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from django.conf import settings

from alarm_backends.core.embedded import EmbeddedKafkaBroker, EmbeddedValkey
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from config.tools.kafka import get_kafka_cluster_config

# librdkafka joins take ~23 s against Tansu with the default session timeout.
FAST_GROUP_JOIN = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500}

#: the shared broker, and the outage tests' own one (tests that start one in a subprocess carry the marker themselves)
BROKER_FIXTURES = frozenset({"kafka_cluster", "own_broker"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that reaches the broker, directly or through another fixture, so that
    `-m "not broker"` is a real broker-free run without each module having to remember the marker."""
    for item in items:
        if BROKER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.broker)


@pytest.fixture(scope="session")
def kafka_cluster() -> Iterator[KafkaClusterConfig]:
    configured = get_kafka_cluster_config()
    if configured is not None:
        yield configured
        return
    broker = EmbeddedKafkaBroker()
    broker.start()
    cluster = KafkaClusterConfig(hosts=(broker.bootstrap_servers,))
    previous = settings.KAFKA_CLUSTER
    settings.KAFKA_CLUSTER = cluster
    settings.KAFKA_CONSUMER = {**settings.KAFKA_CONSUMER, **FAST_GROUP_JOIN}
    try:
        yield cluster
    finally:
        settings.KAFKA_CLUSTER = previous
        broker.stop()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    with EmbeddedValkey() as valkey:
        assert isinstance(valkey, EmbeddedValkey)
        previous = settings.REDIS_URL
        settings.REDIS_URL = valkey.url
        try:
            yield valkey.url
        finally:
            settings.REDIS_URL = previous


@pytest.fixture
def topic_name(request: pytest.FixtureRequest) -> str:
    """A topic name no other test uses (the broker lives for the whole session)."""
    base = request.node.name.replace("[", "-").replace("]", "")[:60]
    return f"t-{base}-{uuid.uuid4().hex[:8]}"
