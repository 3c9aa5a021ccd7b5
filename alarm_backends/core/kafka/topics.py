"""TopicManager: create, describe, alter and delete topics, with names checked
like Kafka checks them before any request leaves the process."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import KafkaError
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewPartitions, NewTopic

from alarm_backends.core.kafka import admin
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.defaults import client_timeout, default_cluster
from alarm_backends.core.kafka.errors import (
    InvalidTopicName,
    KafkaStorageError,
    TopicAlreadyExists,
    TopicError,
    TopicNotFound,
)

MAX_TOPIC_NAME_LENGTH = 249
_LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")


def validate_topic_name(name: str) -> str:
    """Kafka's own rules (org.apache.kafka.common.internals.Topic.validate)."""
    if not isinstance(name, str) or not name:
        raise InvalidTopicName(str(name), "the name is empty")
    if name in (".", ".."):
        raise InvalidTopicName(name, "'.' and '..' are not allowed as names")
    if len(name) > MAX_TOPIC_NAME_LENGTH:
        raise InvalidTopicName(name, f"longer than {MAX_TOPIC_NAME_LENGTH} characters ({len(name)})")
    if not _LEGAL.match(name):
        bad = sorted({c for c in name if not re.match(r"[a-zA-Z0-9._-]", c)})
        raise InvalidTopicName(name, f"illegal character(s) {bad}: use ASCII letters, digits, '.', '_' and '-'")
    return name


def collision_key(name: str) -> str:
    """Kafka forbids two topics that differ only in '.' vs '_' (their metric names collide)."""
    return name.replace(".", "_")


@dataclass(frozen=True)
class PartitionInfo:
    id: int
    leader: int
    replicas: tuple[int, ...]
    isrs: tuple[int, ...]


@dataclass(frozen=True)
class TopicDescription:
    name: str
    partitions: tuple[PartitionInfo, ...]
    replication_factor: int
    configs: dict[str, str] = field(default_factory=dict)

    @property
    def partition_count(self) -> int:
        return len(self.partitions)


@dataclass(frozen=True)
class ClusterDescription:
    brokers: dict[int, str]
    controller_id: int
    topic_count: int
    cluster_id: str | None


class TopicManager:
    def __init__(self, cluster: KafkaClusterConfig | None = None, timeout: float | None = None) -> None:
        self.cluster = cluster or default_cluster()
        self.timeout = timeout if timeout is not None else client_timeout()
        self._client = admin.admin_client(self.cluster, self.timeout)

    # reads
    def describe_cluster(self) -> ClusterDescription:
        md = admin.cluster_metadata(self._client, self.cluster, self.timeout)
        return ClusterDescription(
            brokers={b.id: f"{b.host}:{b.port}" for b in md.brokers.values()},
            controller_id=md.controller_id,
            topic_count=len([t for t in md.topics if not t.startswith("__")]),
            cluster_id=md.cluster_id,
        )

    def list_topics(self, include_internal: bool = False) -> list[str]:
        md = admin.cluster_metadata(self._client, self.cluster, self.timeout)
        return sorted(t for t in md.topics if include_internal or not t.startswith("__"))

    def topic_exists(self, name: str) -> bool:
        return validate_topic_name(name) in self.list_topics(include_internal=True)

    def describe_topic(self, name: str, with_configs: bool = True) -> TopicDescription:
        validate_topic_name(name)
        md = admin.cluster_metadata(self._client, self.cluster, self.timeout)
        topic = md.topics.get(name)
        if topic is None or (topic.error is not None and topic.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART):
            raise TopicNotFound(name)
        partitions = tuple(
            PartitionInfo(p.id, p.leader, tuple(p.replicas), tuple(p.isrs))
            for p in sorted(topic.partitions.values(), key=lambda p: p.id)
        )
        replication = max((len(p.replicas) for p in partitions), default=0)
        configs = self.describe_configs(name) if with_configs else {}
        return TopicDescription(name, partitions, replication, configs)

    def describe_configs(self, name: str) -> dict[str, str]:
        resource = ConfigResource(ConfigResource.Type.TOPIC, name)
        futures = self._client.describe_configs([resource], request_timeout=self.timeout)
        entries = admin.call(self.cluster, self.timeout, f"describe configs of {name!r}",
                             lambda: admin.wait(futures[resource], self.timeout))
        return {key: entry.value for key, entry in entries.items() if entry.value is not None}

    # writes
    def create_topic(self, name: str, partitions: int = 1, replication_factor: int = 1,
                     config: dict[str, str] | None = None) -> None:
        validate_topic_name(name)
        if partitions < 1:
            raise TopicError(name, f"partitions must be >= 1, got {partitions}")
        if replication_factor < 1:
            raise TopicError(name, f"replication_factor must be >= 1, got {replication_factor}")
        clash = [t for t in self.list_topics(include_internal=True)
                 if t != name and collision_key(t) == collision_key(name)]
        if clash:
            raise InvalidTopicName(name, f"collides with existing topic {clash[0]!r} ('.' and '_' are interchangeable)")
        new = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor,
                       config={k: str(v) for k, v in (config or {}).items()})
        futures = self._client.create_topics([new], request_timeout=self.timeout, operation_timeout=self.timeout)
        self._result(name, "create", lambda: admin.wait(futures[name], self.timeout))

    def delete_topic(self, name: str) -> None:
        validate_topic_name(name)
        futures = self._client.delete_topics([name], request_timeout=self.timeout, operation_timeout=self.timeout)
        self._result(name, "delete", lambda: admin.wait(futures[name], self.timeout))

    def alter_topic(self, name: str, config: dict[str, str] | None = None, partitions: int | None = None) -> None:
        """Set topic configs (incrementally) and/or grow the partition count."""
        validate_topic_name(name)
        if partitions is not None:
            current = self.describe_topic(name, with_configs=False).partition_count
            if partitions < current:
                raise TopicError(name, f"cannot decrease partitions from {current} to {partitions}: "
                                       "Kafka only adds partitions; create a new topic instead")
            if partitions > current:
                futures = self._client.create_partitions([NewPartitions(name, partitions)],
                                                         request_timeout=self.timeout)
                self._result(name, "increase partitions of",
                             lambda: admin.wait(futures[name], self.timeout))
        if config:
            entries = [ConfigEntry(k, str(v), incremental_operation=AlterConfigOpType.SET) for k, v in config.items()]
            resource = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
            altered = self._client.incremental_alter_configs([resource], request_timeout=self.timeout)
            self._result(name, "alter configs of", lambda: admin.wait(altered[resource], self.timeout))

    def _result(self, name: str, operation: str, fn: Callable[[], object]) -> None:
        try:
            admin.call(self.cluster, self.timeout, f"{operation} topic {name!r}", fn)
        except KafkaStorageError as exc:
            cause = admin.kafka_error(exc.__cause__) if exc.__cause__ else None
            code = cause.code() if cause is not None else None
            if code == KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicAlreadyExists(name) from exc
            if code == KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise TopicNotFound(name) from exc
            if code in _REJECTED:
                raise TopicError(name, cause.str()) from exc  # type: ignore[union-attr]
            raise


_REJECTED = {KafkaError.INVALID_PARTITIONS, KafkaError.INVALID_REPLICATION_FACTOR, KafkaError.INVALID_CONFIG,
             KafkaError.TOPIC_EXCEPTION, KafkaError.POLICY_VIOLATION, KafkaError.INVALID_REQUEST}
