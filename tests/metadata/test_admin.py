"""The admin through Django's test client: secrets masked, actions report per object."""
from __future__ import annotations

import html

import pytest
from django.contrib.auth.models import User
from django.test import Client

from alarm_backends.core.kafka.topics import TopicManager
from metadata import crypto
from metadata.models import ClusterInfo, KafkaStorage

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    return client


def test_adding_a_sasl_cluster_in_the_admin_encrypts_the_password_and_never_shows_it(admin_client_):
    response = admin_client_.post("/admin/metadata/clusterinfo/add/", {
        "cluster_name": "sasl", "cluster_type": "kafka", "domain_name": "kafka.example", "port": "9093",
        "extra_hosts": "[]", "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
        "username": "svc", "password": "plain-text-pw", "ssl_check_hostname": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    row = ClusterInfo.objects.get(cluster_name="sasl")
    assert crypto.decrypt(row.password_encrypted) == "plain-text-pw" and row.creator == "root"
    for page in ("/admin/metadata/clusterinfo/", f"/admin/metadata/clusterinfo/{row.pk}/change/"):
        body = admin_client_.get(page).content.decode()
        assert "plain-text-pw" not in body and row.password_encrypted not in body and "******" in body


def test_a_sasl_cluster_without_a_password_is_refused_by_the_admin_form(admin_client_):
    response = admin_client_.post("/admin/metadata/clusterinfo/add/", {
        "cluster_name": "sasl", "cluster_type": "kafka", "domain_name": "kafka.example", "port": "9093",
        "extra_hosts": "[]", "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "username": "svc"})
    assert response.status_code == 200
    assert "password is required with security_protocol SASL_PLAINTEXT" in response.content.decode()
    assert not ClusterInfo.objects.exists()


def test_the_check_status_action_reports_an_unreachable_cluster_per_object(admin_client_, settings):
    settings.KAFKA_CLIENT_TIMEOUT_SECONDS = 2.0
    dead = ClusterInfo.objects.create(cluster_name="dead", domain_name="127.0.0.1", port=1)
    storage = KafkaStorage.objects.create(table_id="a.b", storage_cluster=dead)
    response = admin_client_.post("/admin/metadata/kafkastorage/", {
        "action": "check_status", "_selected_action": [storage.pk]}, follow=True)
    body = html.unescape(response.content.decode())
    assert "Kafka storage a.b: bkm_a.b: cluster_unreachable" in body and "127.0.0.1:1" in body
    assert KafkaStorage.objects.get(pk=storage.pk).sync_status == "cluster_unreachable"


@pytest.mark.broker
def test_adding_a_storage_with_sync_on_save_creates_the_topic(admin_client_, kafka_cluster, kafka_row, topic_name):
    response = admin_client_.post("/admin/metadata/kafkastorage/add/", {
        "table_id": "adm.add", "bk_tenant_id": "system", "storage_cluster": kafka_row.pk, "topic": topic_name,
        "partition": "3", "retention": "-1", "replication_factor": "1", "is_enabled": "on", "is_sync_db": "on"},
        follow=True)
    assert f"Kafka storage adm.add: {topic_name}: in_sync - created topic with 3 partition(s)" in html.unescape(
        response.content.decode())
    described = TopicManager(kafka_cluster).describe_topic(topic_name)
    assert described.partition_count == 3 and described.configs["retention.ms"] == "-1"


def test_the_storage_list_shows_retention_in_human_units_and_the_status(admin_client_):
    cluster = ClusterInfo.objects.create(cluster_name="c", domain_name="127.0.0.1", port=1)
    KafkaStorage.objects.create(table_id="a.b", storage_cluster=cluster, retention=604_800_000,
                                sync_status="drifted")
    body = admin_client_.get("/admin/metadata/kafkastorage/?sync_status__exact=drifted").content.decode()
    assert "7 d" in body and 'data-status="drifted"' in body and "bkm_a.b" in body
