"""Model validation: every message names the field and the rule."""
from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from metadata import crypto
from metadata.models import ClusterInfo, KafkaStorage, KafkaTopicInfo, ResultTable
from metadata.models.storage import human_duration_ms

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster() -> ClusterInfo:
    return ClusterInfo.objects.create(cluster_name="k1", domain_name="kafka.local", port=9092)


def errors_of(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        instance.full_clean()
    return info.value.message_dict


def test_a_storage_gets_its_default_topic_from_the_prefix_and_table_id(cluster, settings):
    settings.KAFKA_TOPIC_PREFIX = "bkm"
    storage = KafkaStorage(table_id="system.cpu_summary", storage_cluster=cluster)
    storage.full_clean()
    storage.save()
    assert storage.topic == "bkm_system.cpu_summary"
    assert storage.retention == 1_800_000 and storage.partition == 1


@pytest.mark.parametrize("topic, rule", [
    ("bad topic", "illegal character"),
    ("x" * 250, "longer than 249"),
    ("..", "'.' and '..' are not allowed"),
    ("ünïcode", "illegal character"),
])
def test_creating_a_storage_with_a_bad_topic_name_is_rejected_naming_the_rule(cluster, topic, rule):
    errors = errors_of(KafkaStorage(table_id="a.b", topic=topic, storage_cluster=cluster))
    assert "topic" in errors
    assert rule in errors["topic"][0] and "legal Kafka topic name" in errors["topic"][0]


def test_a_topic_that_differs_only_in_dot_or_underscore_from_an_existing_one_is_rejected(cluster):
    KafkaStorage.objects.create(table_id="a.b", topic="bkm.metrics.cpu", storage_cluster=cluster)
    errors = errors_of(KafkaStorage(table_id="a.c", topic="bkm_metrics_cpu", storage_cluster=cluster))
    assert "collides with topic 'bkm.metrics.cpu'" in errors["topic"][0]
    assert "'.' and '_'" in errors["topic"][0]


def test_the_same_topic_twice_on_one_cluster_is_rejected_naming_the_owner(cluster):
    KafkaStorage.objects.create(table_id="a.b", topic="shared", storage_cluster=cluster)
    errors = errors_of(KafkaStorage(table_id="a.c", topic="shared", storage_cluster=cluster))
    assert errors["topic"] == ["topic 'shared' is already used on this cluster by kafka storage a.b"]


def test_zero_partitions_and_zero_retention_are_rejected_with_the_rule(cluster):
    errors = errors_of(KafkaStorage(table_id="a.b", storage_cluster=cluster, partition=0, retention=0))
    assert "greater than or equal to 1" in errors["partition"][0]
    assert "use -1 (keep forever) or a positive number of milliseconds" in errors["retention"][0]


def test_retention_minus_one_means_forever(cluster):
    storage = KafkaStorage(table_id="a.b", storage_cluster=cluster, retention=-1)
    storage.full_clean()
    assert storage.retention_display == "forever"
    assert storage.topic_configs()["retention.ms"] == "-1"


def test_a_malformed_table_id_is_rejected_with_the_expected_form(cluster):
    errors = errors_of(KafkaStorage(table_id="no_dot_here", storage_cluster=cluster))
    assert "must have the form 'db.table'" in errors["table_id"][0]


def test_a_replication_factor_above_the_known_broker_count_is_rejected(cluster):
    cluster.record_status(broker_count=1)
    errors = errors_of(KafkaStorage(table_id="a.b", storage_cluster=cluster, replication_factor=3))
    assert errors["replication_factor"] == ["replication_factor 3 exceeds the 1 broker(s) of cluster 'k1'"]


def test_a_replication_factor_is_not_limited_while_the_broker_count_is_unknown(cluster):
    KafkaStorage(table_id="a.b", storage_cluster=cluster, replication_factor=3).full_clean()


def test_a_storage_on_a_redis_cluster_is_rejected(db):
    redis = ClusterInfo.objects.create(cluster_name="r1", cluster_type="redis", domain_name="redis.local", port=6379)
    errors = errors_of(KafkaStorage(table_id="a.b", storage_cluster=redis))
    assert "storage_cluster must be a kafka cluster, 'r1' is redis" in errors["storage_cluster"][0]


def test_one_table_id_has_one_kafka_storage_per_tenant(cluster):
    KafkaStorage.objects.create(table_id="a.b", storage_cluster=cluster)
    errors = errors_of(KafkaStorage(table_id="a.b", topic="other", storage_cluster=cluster))
    assert "table_id 'a.b' already has a kafka storage in tenant 'system'" in str(errors)
    KafkaStorage(table_id="a.b", topic="other", bk_tenant_id="t2", storage_cluster=cluster).full_clean()


def test_min_insync_replicas_cannot_exceed_the_replication_factor(cluster):
    errors = errors_of(KafkaStorage(table_id="a.b", storage_cluster=cluster, min_insync_replicas=2))
    assert errors["min_insync_replicas"] == ["min_insync_replicas 2 exceeds replication_factor 1"]


def test_only_one_default_cluster_per_type(cluster):
    cluster.is_default_cluster = True
    cluster.save()
    second = ClusterInfo(cluster_name="k2", domain_name="k2.local", is_default_cluster=True)
    assert "only one default cluster per cluster_type" in str(errors_of(second))
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()
    ClusterInfo(cluster_name="r", cluster_type="redis", domain_name="r.local", is_default_cluster=True).full_clean()


def test_a_duplicate_cluster_name_is_rejected_naming_it(cluster):
    errors = errors_of(ClusterInfo(cluster_name="k1", domain_name="other.local"))
    assert errors["cluster_name"] == ["cluster_name 'k1' is already used by another cluster"]


def test_sasl_needs_a_mechanism_a_username_and_a_password(db):
    errors = errors_of(ClusterInfo(cluster_name="s", domain_name="k.local", security_protocol="SASL_PLAINTEXT"))
    assert set(errors) >= {"sasl_mechanism", "username", "password"}
    assert "required with security_protocol SASL_PLAINTEXT" in errors["password"][0]


def test_bad_hosts_are_rejected(db):
    errors = errors_of(ClusterInfo(cluster_name="h", domain_name="http://x", extra_hosts=["ok:9092", "bad host"]))
    assert "is not a host name or IP address" in errors["domain_name"][0]
    assert "'bad host'" in errors["extra_hosts"][0]


def test_passwords_are_stored_encrypted_and_only_decrypted_into_the_client_config(db):
    row = ClusterInfo(cluster_name="sasl", domain_name="k.local", security_protocol="SASL_PLAINTEXT",
                      sasl_mechanism="SCRAM-SHA-512", username="bob")
    row.set_password("s3cret-pass")
    row.full_clean()
    row.save()
    stored = ClusterInfo.objects.values_list("password_encrypted", flat=True).get(pk=row.pk)
    assert "s3cret-pass" not in stored and crypto.decrypt(stored) == "s3cret-pass"
    config = ClusterInfo.objects.get(pk=row.pk).kafka_config()
    assert config.client_config()["sasl.password"] == "s3cret-pass"
    assert "s3cret-pass" not in repr(config) and "s3cret-pass" not in repr(row)


def test_a_secret_saved_under_another_key_fails_loudly(db, settings):
    row = ClusterInfo(cluster_name="sasl", domain_name="k.local")
    row.set_password("x")
    settings.METADATA_SECRET_KEY = crypto.Fernet.generate_key().decode()
    with pytest.raises(crypto.SecretDecryptionError, match="METADATA_SECRET_KEY changed"):
        row.kafka_config()


def test_a_data_source_gets_the_next_data_id_and_its_topic_a_default_name(cluster):
    from metadata.models import DataSource

    first = DataSource.objects.create(data_name="a", mq_cluster=cluster)
    second = DataSource.objects.create(data_name="b", mq_cluster=cluster)
    assert first.bk_data_id == 1_500_001 and second.bk_data_id == 1_500_002
    info = KafkaTopicInfo(data_source=second)
    info.full_clean()
    assert info.topic == "bkm_data_1500002"


def test_a_result_table_is_unique_per_tenant_and_its_labels_are_checked(db):
    ResultTable.objects.create(table_id="system.cpu")
    errors = errors_of(ResultTable(table_id="system.cpu", labels=["ok", ""]))
    assert "table_id 'system.cpu' already exists in tenant 'system'" in str(errors)
    assert "labels must be a list of strings" in errors["labels"][0]


@pytest.mark.parametrize("ms, text", [(None, "broker default"), (-1, "forever"), (1_800_000, "30 min"),
                                      (604_800_000, "7 d"), (5_400_000, "90 min"), (1500, "1.5 s"), (10, "10 ms")])
def test_retention_is_shown_in_human_units(ms, text):
    assert human_duration_ms(ms) == text
