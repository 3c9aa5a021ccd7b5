"""The metadata REST API: authentication, permissions, CRUD, bad input, and the Kafka actions."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from confluent_kafka import Producer
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from alarm_backends.core.kafka.offsets import OffsetManager
from alarm_backends.core.kafka.topics import TopicManager
from metadata import crypto
from metadata.models import ClusterInfo, DataSource, KafkaStorage, ResultTable

pytestmark = pytest.mark.django_db
BASE = "/api/v1/metadata"


def make_user(name: str, *codenames: str) -> User:
    user = User.objects.create_user(name, password="pw")
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="metadata", codename__in=codenames)
                              if codenames else [])
    return user


ALL = [f"{verb}_{model}" for verb in ("view", "add", "change", "delete")
       for model in ("clusterinfo", "datasource", "kafkatopicinfo", "resulttable", "kafkastorage")]
VIEW = [c for c in ALL if c.startswith("view_")]


@pytest.fixture
def writer() -> APIClient:
    client = APIClient()
    client.force_login(make_user("writer", *ALL))
    return client


@pytest.fixture
def reader() -> APIClient:
    client = APIClient()
    client.force_login(make_user("reader", *VIEW))
    return client


@pytest.fixture
def cluster() -> ClusterInfo:
    return ClusterInfo.objects.create(cluster_name="offline", domain_name="127.0.0.1", port=1)


@pytest.fixture
def storage(cluster) -> KafkaStorage:
    return KafkaStorage.objects.create(table_id="system.cpu", storage_cluster=cluster)


# authentication and permissions

ENDPOINTS = ["clusters/", "data-sources/", "kafka-topic-infos/", "result-tables/", "kafka-storages/",
             "get_result_table_storage/?result_table_list=a.b", "clusters/1/status/", "kafka-storages/1/status/",
             "kafka-storages/1/tail/", "kafka-storages/1/consumer-groups/"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_refuses_an_anonymous_client(path):
    response = APIClient().get(f"{BASE}/{path}")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_the_sync_action_refuses_an_anonymous_client(storage):
    assert APIClient().post(f"{BASE}/kafka-storages/{storage.pk}/sync/", {}, format="json").status_code == 401


def test_a_token_authenticates_and_a_wrong_token_does_not():
    token = Token.objects.create(user=make_user("tok", *VIEW))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(f"{BASE}/clusters/").status_code == 200
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert client.get(f"{BASE}/clusters/").json() == {"detail": "Invalid token."}


def test_a_user_without_view_permission_cannot_list():
    client = APIClient()
    client.force_login(make_user("nobody"))
    assert client.get(f"{BASE}/kafka-storages/").status_code == 403


def test_a_reader_can_list_and_retrieve_but_not_write(reader, storage, cluster):
    assert reader.get(f"{BASE}/kafka-storages/").json()["count"] == 1
    assert reader.get(f"{BASE}/kafka-storages/{storage.pk}/").json()["topic"] == "bkm_system.cpu"
    payload = {"table_id": "a.b", "storage_cluster": cluster.pk}
    assert reader.post(f"{BASE}/kafka-storages/", payload, format="json").status_code == 403
    assert reader.patch(f"{BASE}/kafka-storages/{storage.pk}/", {"partition": 2}, format="json").status_code == 403
    assert reader.delete(f"{BASE}/kafka-storages/{storage.pk}/").status_code == 403
    assert reader.post(f"{BASE}/kafka-storages/{storage.pk}/sync/", {}, format="json").status_code == 403


def test_a_user_who_may_add_but_not_change_cannot_sync(storage):
    client = APIClient()
    client.force_login(make_user("adder", "view_kafkastorage", "add_kafkastorage"))
    assert client.post(f"{BASE}/kafka-storages/{storage.pk}/sync/", {}, format="json").status_code == 403


def test_the_openapi_schema_and_the_docs_page_are_served_to_a_logged_in_user(reader):
    schema = reader.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/api/v1/metadata/kafka-storages/{id}/tail/" in paths
    assert reader.get("/api/docs/").status_code == 200


# clusters

def test_creating_a_cluster_stores_the_password_encrypted_and_never_returns_it(writer):
    body = {"cluster_name": "prod", "domain_name": "kafka.prod", "port": 9093, "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512", "username": "svc", "password": "hunter2-secret"}
    response = writer.post(f"{BASE}/clusters/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert "password" not in data and "password_encrypted" not in data and data["has_password"] is True
    assert "hunter2-secret" not in response.content.decode()
    row = ClusterInfo.objects.get(cluster_name="prod")
    assert crypto.decrypt(row.password_encrypted) == "hunter2-secret" and row.creator == "writer"
    listed = writer.get(f"{BASE}/clusters/").content.decode()
    assert "hunter2-secret" not in listed and row.password_encrypted not in listed


def test_a_patch_without_a_password_keeps_it_and_an_empty_one_is_refused_while_sasl_is_on(writer):
    writer.post(f"{BASE}/clusters/", {"cluster_name": "p", "domain_name": "k", "security_protocol": "SASL_PLAINTEXT",
                                      "sasl_mechanism": "PLAIN", "username": "u", "password": "x"}, format="json")
    pk = ClusterInfo.objects.get(cluster_name="p").pk
    assert writer.patch(f"{BASE}/clusters/{pk}/", {"port": 9094}, format="json").json()["has_password"] is True
    response = writer.patch(f"{BASE}/clusters/{pk}/", {"password": ""}, format="json")
    assert response.status_code == 400
    assert response.json() == {"password": ["password is required with security_protocol SASL_PLAINTEXT"]}


def test_a_duplicate_cluster_name_is_a_400_naming_the_field(writer, cluster):
    response = writer.post(f"{BASE}/clusters/", {"cluster_name": "offline", "domain_name": "x"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"cluster_name": ["cluster_name 'offline' is already used by another cluster"]}


def test_a_second_default_cluster_of_a_type_is_a_400(writer):
    ClusterInfo.objects.create(cluster_name="d1", domain_name="x", is_default_cluster=True)
    response = writer.post(f"{BASE}/clusters/", {"cluster_name": "d2", "domain_name": "y",
                                                 "is_default_cluster": True}, format="json")
    assert response.status_code == 400
    assert "only one default cluster per cluster_type" in response.json()["non_field_errors"][0]


def test_deleting_a_cluster_still_in_use_is_a_409_naming_the_users(writer, storage, cluster):
    response = writer.delete(f"{BASE}/clusters/{cluster.pk}/")
    assert response.status_code == 409
    assert response.json() == {"detail": "cannot delete: still used by kafka storage system.cpu -> bkm_system.cpu"}
    assert ClusterInfo.objects.filter(pk=cluster.pk).exists()


def test_clusters_can_be_filtered_searched_ordered_and_paginated(reader):
    for i in range(3):
        ClusterInfo.objects.create(cluster_name=f"k{i}", domain_name=f"host{i}.example")
    ClusterInfo.objects.create(cluster_name="r0", cluster_type="redis", domain_name="redis.example")
    assert reader.get(f"{BASE}/clusters/?cluster_type=redis").json()["count"] == 1
    assert [c["cluster_name"] for c in reader.get(f"{BASE}/clusters/?search=host1").json()["results"]] == ["k1"]
    ordered = reader.get(f"{BASE}/clusters/?ordering=-cluster_name").json()["results"]
    assert [c["cluster_name"] for c in ordered] == ["r0", "k2", "k1", "k0"]
    page = reader.get(f"{BASE}/clusters/?page=1").json()
    assert page["count"] == 4 and page["next"] is None and len(page["results"]) == 4
    assert reader.get(f"{BASE}/clusters/?page=99").status_code == 404


def test_the_status_of_an_unreachable_cluster_reports_the_error_in_bounded_time(reader, cluster, settings):
    settings.KAFKA_CLIENT_TIMEOUT_SECONDS = 2.0
    started = time.monotonic()
    data = reader.get(f"{BASE}/clusters/{cluster.pk}/status/").json()
    assert time.monotonic() - started < 6
    assert data["reachable"] is False and "127.0.0.1:1" in data["error"] and data["brokers"] == []


@pytest.mark.broker
def test_the_status_of_the_embedded_cluster_lists_its_brokers(reader, kafka_row):
    data = reader.get(f"{BASE}/clusters/{kafka_row.pk}/status/").json()
    assert data["reachable"] is True and len(data["brokers"]) >= 1 and data["topic_count"] >= 0
    kafka_row.refresh_from_db()
    assert kafka_row.broker_count == len(data["brokers"])


# bad input, every kind

def test_a_malformed_json_body_is_a_400(writer):
    response = writer.generic("POST", f"{BASE}/clusters/", "{not json", content_type="application/json")
    assert response.status_code == 400 and "JSON parse error" in response.json()["detail"]


def test_a_json_body_that_is_not_an_object_is_a_400(writer):
    response = writer.post(f"{BASE}/kafka-storages/", [1, 2], format="json")
    assert response.status_code == 400
    assert "Expected a dictionary" in response.json()["non_field_errors"][0]


def test_a_deeply_nested_body_is_a_400_not_a_crash(writer):
    response = writer.generic("POST", f"{BASE}/clusters/", "[" * 100_000 + "]" * 100_000,
                              content_type="application/json")
    assert response.status_code in (400, 413)


def test_a_huge_payload_is_a_413(writer, settings):
    body = json.dumps({"cluster_name": "x", "domain_name": "y", "description": "z" * (2 * 1024 * 1024)})
    response = writer.generic("POST", f"{BASE}/clusters/", body, content_type="application/json")
    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


def test_a_form_encoded_body_is_a_415(writer):
    response = writer.post(f"{BASE}/clusters/", {"cluster_name": "x"})
    assert response.status_code == 415


@pytest.mark.parametrize("field, value, message", [
    ("partition", "abc", "A valid integer is required."),
    ("partition", 0, "greater than or equal to 1"),
    ("partition", 10**30, "less than or equal to"),
    ("retention", 0, "use -1 (keep forever) or a positive number of milliseconds"),
    ("retention", 1.5, "A valid biginteger is required."),
    ("topic", "bad topic!", "illegal character"),
    ("topic", "t\x00x", "Null characters are not allowed."),
    ("table_id", "nodot", "must have the form 'db.table'"),
    ("storage_cluster", 999999, "object does not exist"),
    ("storage_cluster", "abc", "Incorrect type"),
    ("cleanup_policy", "shred", "is not a valid choice"),
    ("replication_factor", 1000, "less than or equal to 32"),
])
def test_a_bad_field_value_is_a_400_naming_the_field_and_rule(writer, cluster, field, value, message):
    body = {"table_id": "a.b", "storage_cluster": cluster.pk, field: value}
    response = writer.post(f"{BASE}/kafka-storages/", body, format="json")
    assert response.status_code == 400, response.content
    assert message in " ".join(response.json()[field])


def test_a_nul_character_in_json_labels_is_a_400(writer):
    response = writer.post(f"{BASE}/result-tables/", {"table_id": "a.b", "labels": ["x\x00"]}, format="json")
    assert response.status_code == 400 and "labels" in response.json()


def test_a_duplicate_storage_for_a_table_is_a_400_with_a_clear_message(writer, storage, cluster):
    response = writer.post(f"{BASE}/kafka-storages/", {"table_id": "system.cpu", "topic": "other",
                                                       "storage_cluster": cluster.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["table_id 'system.cpu' already has a kafka storage "
                                                    "in tenant 'system'"]}


@pytest.mark.parametrize("path", ["kafka-storages/999999/", "kafka-storages/abc/", "clusters/0/",
                                  "kafka-storages/999999/status/", "kafka-storages/999999/tail/"])
def test_a_non_existent_id_is_a_404(reader, path):
    assert reader.get(f"{BASE}/{path}").status_code == 404


def test_an_unknown_filter_value_type_is_a_400(reader):
    response = reader.get(f"{BASE}/kafka-storages/?storage_cluster=abc")
    assert response.status_code == 400 and "storage_cluster" in response.json()


# storages, data sources, result tables

def test_a_storage_can_be_created_updated_partially_updated_and_deleted(writer, cluster):
    created = writer.post(f"{BASE}/kafka-storages/", {"table_id": "system.mem", "storage_cluster": cluster.pk},
                          format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert (data["topic"], data["partition"], data["retention"], data["retention_display"], data["sync_status"]) == (
        "bkm_system.mem", 1, 1_800_000, "30 min", "unknown")
    assert "sync_result" not in data
    url = f"{BASE}/kafka-storages/{data['id']}/"
    full = {"table_id": "system.mem", "storage_cluster": cluster.pk, "topic": "bkm_system.mem", "partition": 4,
            "retention": -1}
    assert writer.put(url, full, format="json").json()["retention_display"] == "forever"
    assert writer.patch(url, {"compression_type": "zstd"}, format="json").json()["partition"] == 4
    assert writer.delete(url).status_code == 204
    assert writer.get(url).status_code == 404


def test_storages_can_be_filtered_by_cluster_and_status_and_searched(reader, cluster, storage):
    KafkaStorage.objects.create(table_id="system.disk", storage_cluster=cluster, sync_status="in_sync")
    assert reader.get(f"{BASE}/kafka-storages/?sync_status=in_sync").json()["count"] == 1
    assert reader.get(f"{BASE}/kafka-storages/?storage_cluster={cluster.pk}").json()["count"] == 2
    assert reader.get(f"{BASE}/kafka-storages/?search=disk").json()["results"][0]["table_id"] == "system.disk"
    ordered = reader.get(f"{BASE}/kafka-storages/?ordering=-table_id").json()["results"]
    assert [s["table_id"] for s in ordered] == ["system.disk", "system.cpu"]


def test_a_data_source_gets_an_id_and_a_topic_and_a_result_table_links_to_it(writer, cluster):
    response = writer.post(f"{BASE}/data-sources/", {"data_name": "cpu", "mq_cluster": cluster.pk}, format="json")
    assert response.status_code == 201, response.json()
    source = response.json()
    assert source["bk_data_id"] == 1_500_001 and source["topic"] == "bkm_data_1500001"
    table = writer.post(f"{BASE}/result-tables/", {"table_id": "system.cpu", "bk_biz_id": 2,
                                                   "data_sources": [1_500_001], "labels": ["os"]}, format="json")
    assert table.status_code == 201, table.json()
    assert ResultTable.objects.get(table_id="system.cpu").data_sources.get().data_name == "cpu"
    bad = writer.post(f"{BASE}/result-tables/", {"table_id": "system.mem", "data_sources": [42]}, format="json")
    assert bad.status_code == 400 and "does not exist" in bad.json()["data_sources"][0]
    assert writer.get(f"{BASE}/result-tables/?bk_data_id=1500001").json()["count"] == 1


def test_a_data_source_on_a_redis_cluster_is_a_400(writer):
    redis = ClusterInfo.objects.create(cluster_name="r", cluster_type="redis", domain_name="r")
    response = writer.post(f"{BASE}/data-sources/", {"data_name": "x", "mq_cluster": redis.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"mq_cluster": ["mq_cluster must be a kafka cluster, 'r' is redis"]}


def test_the_reference_result_table_storage_query_returns_storage_and_cluster(reader, storage):
    data = reader.get(f"{BASE}/get_result_table_storage/?result_table_list=system.cpu,missing.x").json()
    assert data == {"system.cpu": {
        "cluster_config": {"domain_name": "127.0.0.1", "port": 1, "cluster_name": "offline",
                           "cluster_id": storage.storage_cluster_id, "security_protocol": "PLAINTEXT"},
        "storage_config": {"topic": "bkm_system.cpu", "partition": 1, "retention": 1_800_000},
        "cluster_type": "kafka"}}
    assert reader.get(f"{BASE}/get_result_table_storage/").status_code == 400


# the Kafka actions, against the embedded broker

@pytest.fixture
def live_storage(kafka_row, make_storage, topic_name) -> KafkaStorage:
    return make_storage(kafka_row, topic_name, partition=2)


@pytest.mark.broker
def test_creating_a_storage_with_is_sync_db_creates_the_topic_at_once(writer, kafka_cluster, kafka_row, topic_name):
    body = {"table_id": "sync.now", "topic": topic_name, "storage_cluster": kafka_row.pk, "partition": 2,
            "is_sync_db": True}
    response = writer.post(f"{BASE}/kafka-storages/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["sync_result"]["status"] == "in_sync"
    assert response.json()["sync_status"] == "in_sync"
    assert TopicManager(kafka_cluster).describe_topic(topic_name).partition_count == 2


@pytest.mark.broker
def test_creating_a_storage_without_is_sync_db_leaves_the_topic_to_the_periodic_run(writer, kafka_cluster,
                                                                                  kafka_row, topic_name):
    body = {"table_id": "sync.later", "topic": topic_name, "storage_cluster": kafka_row.pk}
    assert writer.post(f"{BASE}/kafka-storages/", body, format="json").status_code == 201
    assert not TopicManager(kafka_cluster).topic_exists(topic_name)


@pytest.mark.broker
def test_sync_with_dry_run_reports_and_without_it_creates(writer, kafka_cluster, live_storage):
    url = f"{BASE}/kafka-storages/{live_storage.pk}/sync/"
    dry = writer.post(url, {"dry_run": True}, format="json").json()
    assert dry["status"] == "missing" and dry["dry_run"] is True
    assert not TopicManager(kafka_cluster).topic_exists(live_storage.topic)
    done = writer.post(url, {}, format="json").json()
    assert done["status"] == "in_sync" and done["live"]["partitions"] == 2
    assert writer.post(url, {"dry_run": "maybe"}, format="json").status_code == 400


@pytest.mark.broker
def test_status_shows_the_live_topic_and_its_drift(reader, kafka_cluster, live_storage):
    TopicManager(kafka_cluster).create_topic(live_storage.topic, partitions=2, config={"retention.ms": "60000"})
    data = reader.get(f"{BASE}/kafka-storages/{live_storage.pk}/status/").json()
    assert data["status"] == "drifted"
    assert data["live"]["configs"]["retention.ms"] == "60000" and len(data["live"]["partition_details"]) == 2
    assert data["drift"] == [{"attribute": "retention.ms", "desired": "1800000", "live": "60000",
                              "fixable": True, "reason": ""}]


@pytest.mark.broker
def test_status_of_a_storage_on_an_unreachable_cluster_says_so(reader, storage, settings):
    settings.KAFKA_CLIENT_TIMEOUT_SECONDS = 2.0
    data = reader.get(f"{BASE}/kafka-storages/{storage.pk}/status/").json()
    assert data["status"] == "cluster_unreachable" and "127.0.0.1:1" in data["error"]


def produce(cluster, topic: str, messages: list[tuple[int, bytes | None]]) -> None:
    producer = Producer(cluster.client_config())
    for partition, value in messages:
        producer.produce(topic, value=value, partition=partition, key=b"k", headers=[("h", b"1")])
        # One record per batch: the embedded broker's high watermark counts a batch's last record late.
        assert producer.flush(10) == 0


@pytest.mark.broker
def test_tail_returns_the_last_messages_per_partition_decoded(reader, kafka_cluster, live_storage):
    live_storage.ensure_topic()
    produce(kafka_cluster, live_storage.topic, [(0, b'{"a": 1}'), (0, b"plain text"), (0, b"\xff\xfe"),
                                                (1, b"[1, 2]")])
    data = reader.get(f"{BASE}/kafka-storages/{live_storage.pk}/tail/?count=2").json()
    first = data["partitions"]["0"]
    assert [m["value"] for m in first] == [{"format": "text", "data": "plain text"},
                                           {"format": "base64", "data": "//4="}]
    assert [m["offset"] for m in first] == [1, 2]
    assert first[0]["key"] == {"format": "text", "data": "k"}
    assert data["partitions"]["1"][0]["value"] == {"format": "json", "data": [1, 2]}


@pytest.mark.parametrize("count", ["0", "501", "abc", "-1"])
def test_tail_count_out_of_bounds_is_a_400(reader, storage, count):
    response = reader.get(f"{BASE}/kafka-storages/{storage.pk}/tail/?count={count}")
    assert response.status_code == 400 and "count" in response.json()


@pytest.mark.broker
def test_tail_of_a_topic_that_does_not_exist_is_a_404(reader, live_storage):
    response = reader.get(f"{BASE}/kafka-storages/{live_storage.pk}/tail/?count=1")
    assert response.status_code == 404 and "does not exist" in response.json()["detail"]


def test_tail_on_an_unreachable_cluster_is_a_503_with_the_error(reader, storage, settings):
    settings.KAFKA_CLIENT_TIMEOUT_SECONDS = 2.0
    response = reader.get(f"{BASE}/kafka-storages/{storage.pk}/tail/?count=1")
    assert response.status_code == 503 and "unreachable" in response.json()["detail"]


@pytest.mark.broker
def test_consumer_groups_show_committed_offsets_and_lag_per_partition(reader, kafka_cluster, live_storage):
    live_storage.ensure_topic()
    produce(kafka_cluster, live_storage.topic, [(0, b"1"), (0, b"2"), (0, b"3"), (1, b"4")])
    group = f"g-{uuid.uuid4().hex[:8]}"
    OffsetManager(group, live_storage.topic, cluster=kafka_cluster).set_offset({0: 1, 1: 1})
    data = reader.get(f"{BASE}/kafka-storages/{live_storage.pk}/consumer-groups/").json()
    [found] = [g for g in data["groups"] if g["group_id"] == group]
    assert found["partitions"] == [{"partition": 0, "committed": 1, "high_watermark": 3, "lag": 2},
                                   {"partition": 1, "committed": 1, "high_watermark": 1, "lag": 0}]
    assert found["total_lag"] == 2


@pytest.mark.broker
def test_a_data_source_topic_can_be_synced_through_the_api(writer, kafka_cluster, kafka_row):
    source = writer.post(f"{BASE}/data-sources/", {"data_name": f"d{uuid.uuid4().hex[:6]}",
                                                   "mq_cluster": kafka_row.pk}, format="json").json()
    info_id = DataSource.objects.get(bk_data_id=source["bk_data_id"]).kafka_topic.pk
    topic = f"t-api-ds-{uuid.uuid4().hex[:8]}"
    assert writer.patch(f"{BASE}/kafka-topic-infos/{info_id}/", {"topic": topic, "partition": 3},
                        format="json").status_code == 200
    assert writer.post(f"{BASE}/kafka-topic-infos/{info_id}/sync/", {}, format="json").json()["status"] == "in_sync"
    assert TopicManager(kafka_cluster).describe_topic(topic).partition_count == 3


def test_a_misspelt_field_is_a_400_rather_than_a_silent_default(writer, cluster):
    response = writer.post(f"{BASE}/kafka-storages/", {"table_id": "a.b", "storage_cluster": cluster.pk,
                                                       "partitions": 8}, format="json")
    assert response.status_code == 400
    assert response.json()["partitions"][0].startswith("unknown field; known fields: ")
    assert not KafkaStorage.objects.exists()


def test_read_only_fields_sent_back_from_a_get_are_accepted_and_ignored(writer, storage):
    url = f"{BASE}/kafka-storages/{storage.pk}/"
    body = writer.get(url).json()
    body.update({"partition": 3, "sync_status": "in_sync"})
    response = writer.put(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["partition"] == 3 and response.json()["sync_status"] == "unknown"


def test_an_unknown_cluster_type_is_a_400_listing_the_choices(writer):
    response = writer.post(f"{BASE}/clusters/", {"cluster_name": "c", "domain_name": "h",
                                                 "cluster_type": "cassandra"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"cluster_type": ['"cassandra" is not a valid choice.']}


def test_secrets_never_reach_the_logs(writer, caplog, settings):
    settings.KAFKA_CLIENT_TIMEOUT_SECONDS = 1.0
    caplog.set_level("DEBUG")
    body = {"cluster_name": "s", "domain_name": "127.0.0.1", "port": 1, "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "PLAIN", "username": "u", "password": "log-canary-pw"}
    pk = writer.post(f"{BASE}/clusters/", body, format="json").json()["cluster_id"]
    writer.get(f"{BASE}/clusters/{pk}/status/")
    writer.patch(f"{BASE}/clusters/{pk}/", {"password": ""}, format="json")  # a 400 is logged as a warning
    assert caplog.records and "log-canary-pw" not in caplog.text
