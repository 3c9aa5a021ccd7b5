"""APM applications provision their topics through reconciliation and never drop data silently."""
from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from alarm_backends.core.kafka.errors import BrokerUnavailable
from alarm_backends.core.kafka.topics import TopicManager
from apm import provision
from apm.models import ApmApplication, ApmDataSource
from metadata.choices import SyncStatus
from metadata.models import ClusterInfo, DataSource, KafkaTopicInfo, ResultTable
from metadata.reconcile import managed_targets

pytestmark = pytest.mark.django_db


def new_app(**fields) -> ApmApplication:
    return ApmApplication(app_name=fields.pop("app_name", f"app-{uuid.uuid4().hex[:8]}"),
                          bk_biz_id=fields.pop("bk_biz_id", 2), **fields)


@pytest.mark.broker
def test_creating_an_application_creates_its_trace_and_metric_topics(kafka_cluster, kafka_row):
    app = new_app()
    results = provision.provision_application(app, cluster=kafka_row, partitions=2)
    assert [r.status for r in results] == [SyncStatus.IN_SYNC, SyncStatus.IN_SYNC]
    manager = TopicManager(kafka_cluster)
    for kind in ("trace", "metric"):
        source = ApmDataSource.objects.get(application=app, kind=kind)
        assert source.topic == f"bkm_apm_2_{app.app_name}_{kind}"
        assert manager.describe_topic(source.topic).partition_count == 2
        assert source.consumer_config()["tasks"] == 2
        assert source.consumer_group == f"{source.topic}-apm-consumer"
        assert ResultTable.objects.get(table_id=f"2_bkapm_{kind}_{app.app_name}.__default__").data_sources.get() \
            == source.data_source
    for kind in ("trace", "metric"):
        manager.delete_topic(f"bkm_apm_2_{app.app_name}_{kind}")


def test_sasl_settings_come_from_the_cluster_and_the_password_is_never_stored_in_plain_text(db):
    cluster = ClusterInfo(cluster_name="sasl", domain_name="kafka.example", port=9093,
                          security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256", username="apm")
    cluster.set_password("apm-secret-pw")
    cluster.save()
    app = new_app(app_name="shop")
    assert provision.provision_application(app, cluster=cluster, sync=False) == []
    trace = ApmDataSource.objects.get(application=app, kind="trace")
    config = trace.consumer_config()
    assert config == {"topic": "bkm_apm_2_shop_trace", "tasks": 1, "group_id": "bkm_apm_2_shop_trace-apm-consumer",
                      "bootstrap_servers": "kafka.example:9093", "security_protocol": "SASL_SSL",
                      "sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "apm", "sasl_password_set": True}
    assert "apm-secret-pw" not in repr(config)
    assert trace.client_config()["sasl.password"] == "apm-secret-pw"
    assert trace.client_config()["group.id"] == "bkm_apm_2_shop_trace-apm-consumer"
    from django.db import connection
    with connection.cursor() as cursor:
        for table in ("metadata_clusterinfo", "apm_apmdatasource", "metadata_datasource", "metadata_kafkatopicinfo"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            assert "apm-secret-pw" not in repr(cursor.fetchall())


def test_an_application_needs_a_cluster_when_no_default_is_configured(db):
    with pytest.raises(ValueError, match="no default kafka cluster"):
        provision.provision_application(new_app())
    assert not ApmApplication.objects.exists()


def test_a_bad_or_duplicate_app_name_is_rejected_and_nothing_is_left_behind(db, unreachable_row):
    with pytest.raises(ValidationError, match="must be 1-50 characters"):
        provision.provision_application(new_app(app_name="Bad Name"), cluster=unreachable_row, sync=False)
    provision.provision_application(new_app(app_name="dup"), cluster=unreachable_row, sync=False)
    with pytest.raises(ValidationError, match="app_name 'dup' already exists in bk_biz_id 2"):
        provision.provision_application(new_app(app_name="dup"), cluster=unreachable_row, sync=False)
    assert DataSource.objects.count() == 2


@pytest.mark.broker
def test_disabling_an_application_keeps_its_topics_and_stops_reconciling_them(kafka_cluster, kafka_row):
    app = new_app()
    provision.provision_application(app, cluster=kafka_row)
    topics = [s.topic for s in app.data_sources.all()]
    provision.set_enabled(app, False)
    managed = {t.topic for t in managed_targets() if isinstance(t, KafkaTopicInfo)}
    assert not managed & set(topics)
    assert all(TopicManager(kafka_cluster).topic_exists(t) for t in topics)
    provision.delete_application(app, delete_topics=True)


@pytest.mark.broker
def test_deleting_an_application_keeps_topics_and_data_sources_unless_asked(kafka_cluster, kafka_row):
    app = new_app()
    provision.provision_application(app, cluster=kafka_row)
    topics = sorted(s.topic for s in app.data_sources.all())
    report = provision.delete_application(app)
    assert sorted(report.kept_topics) == topics and report.deleted_topics == []
    assert not ApmApplication.objects.exists()
    orphans = ApmDataSource.objects.filter(application=None)
    assert orphans.count() == 2 and not any(o.data_source.is_enabled for o in orphans)
    assert all(TopicManager(kafka_cluster).topic_exists(t) for t in topics)
    for topic in topics:
        TopicManager(kafka_cluster).delete_topic(topic)


@pytest.mark.broker
def test_deleting_an_application_with_its_topics_removes_them_on_kafka(kafka_cluster, kafka_row):
    app = new_app()
    provision.provision_application(app, cluster=kafka_row)
    topics = sorted(s.topic for s in app.data_sources.all())
    report = provision.delete_application(app, delete_topics=True)
    assert sorted(report.deleted_topics) == topics
    assert not any(TopicManager(kafka_cluster).topic_exists(t) for t in topics)
    assert not DataSource.objects.exists() and not ResultTable.objects.exists()


def test_deleting_with_topics_on_an_unreachable_cluster_deletes_nothing(unreachable_row):
    app = new_app()
    provision.provision_application(app, cluster=unreachable_row, sync=False)
    with pytest.raises(BrokerUnavailable, match="unreachable"):
        provision.delete_application(app, delete_topics=True, timeout=2.0)
    assert ApmApplication.objects.filter(pk=app.pk).exists() and DataSource.objects.count() == 2


@pytest.mark.broker
def test_the_admin_provisions_on_add_and_its_delete_keeps_the_topics(kafka_cluster, kafka_row):
    client = Client()
    client.force_login(User.objects.create_superuser("root", "r@example.com", "pw"))
    name = f"adm-{uuid.uuid4().hex[:6]}"
    response = client.post("/admin/apm/apmapplication/add/", {
        "app_name": name, "bk_biz_id": "3", "description": "", "is_enabled": "on", "cluster": kafka_row.pk,
        "partitions": "1", "sync_now": "on",
        "data_sources-TOTAL_FORMS": "0", "data_sources-INITIAL_FORMS": "0"}, follow=True)
    assert response.status_code == 200
    app = ApmApplication.objects.get(app_name=name)
    topics = sorted(s.topic for s in app.data_sources.all())
    assert len(topics) == 2 and all(TopicManager(kafka_cluster).topic_exists(t) for t in topics)
    page = client.get(f"/admin/apm/apmapplication/{app.pk}/change/").content.decode()
    assert "in sync" in page and topics[0] in page
    response = client.post(f"/admin/apm/apmapplication/{app.pk}/delete/", {"post": "yes"}, follow=True)
    assert "Kept topics" in response.content.decode()
    assert all(TopicManager(kafka_cluster).topic_exists(t) for t in topics)
    for topic in topics:
        TopicManager(kafka_cluster).delete_topic(topic)
