"""Metadata fixtures: ClusterInfo rows for the session's embedded broker and for a dead address."""
from __future__ import annotations

import uuid

import pytest

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from metadata.models import ClusterInfo, DataSource, KafkaStorage

UNREACHABLE_TIMEOUT = 2.0


def cluster_row_for(config: KafkaClusterConfig, name: str) -> ClusterInfo:
    first, *rest = config.hosts
    host, _, port = first.rpartition(":") if ":" in first else (first, "", str(config.port))
    row = ClusterInfo(cluster_name=name, cluster_type="kafka", domain_name=host, port=int(port),
                      extra_hosts=list(rest), security_protocol=config.security_protocol,
                      sasl_mechanism=config.sasl_mechanism or "", username=config.sasl_username or "")
    row.set_password(config.sasl_password)
    row.full_clean()
    row.save()
    return row


@pytest.fixture
def kafka_row(db, kafka_cluster: KafkaClusterConfig) -> ClusterInfo:
    return cluster_row_for(kafka_cluster, f"embedded-{uuid.uuid4().hex[:6]}")


@pytest.fixture
def unreachable_row(db) -> ClusterInfo:
    row = ClusterInfo(cluster_name=f"dead-{uuid.uuid4().hex[:6]}", domain_name="127.0.0.1", port=1)
    row.save()
    return row


@pytest.fixture
def make_storage(db):
    def make(cluster: ClusterInfo, topic: str = "", **fields) -> KafkaStorage:
        table_id = fields.pop("table_id", f"test.t_{uuid.uuid4().hex[:10]}")
        storage = KafkaStorage(table_id=table_id, topic=topic, storage_cluster=cluster, **fields)
        storage.full_clean()
        storage.save()
        return storage

    return make


@pytest.fixture
def make_data_source(db):
    def make(cluster: ClusterInfo, **fields) -> DataSource:
        source = DataSource(data_name=fields.pop("data_name", f"ds_{uuid.uuid4().hex[:8]}"),
                            mq_cluster=cluster, **fields)
        source.full_clean(exclude=["bk_data_id"])
        source.save()
        return source

    return make
