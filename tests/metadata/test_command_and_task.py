"""The management command and the Celery task drive the same reconciliation."""
from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from alarm_backends.core.kafka.topics import TopicManager
from metadata.choices import SyncStatus
from metadata.models import KafkaStorage
from metadata.tasks import reconcile_topics, sync_kafka_storages

pytestmark = [pytest.mark.broker, pytest.mark.django_db]


def run(*args: str) -> str:
    out = StringIO()
    call_command("reconcile_topics", *args, stdout=out)
    return out.getvalue()


def test_the_command_dry_run_reports_a_missing_topic_without_creating_it(kafka_cluster, kafka_row, make_storage,
                                                                       topic_name):
    storage = make_storage(kafka_row, topic_name)
    output = run("--dry-run", "--table-id", storage.table_id)
    assert f"{topic_name}: missing - would create topic" in output
    assert "dry run: 1 checked, 1 not in sync" in output
    assert not TopicManager(kafka_cluster).topic_exists(topic_name)


def test_the_command_creates_the_topic_and_a_second_run_finds_it_in_sync(kafka_cluster, kafka_row, make_storage,
                                                                       topic_name):
    storage = make_storage(kafka_row, topic_name, partition=2)
    assert "created topic with 2 partition(s)" in run("--table-id", storage.table_id)
    assert "applied: 1 checked, 0 not in sync" in run("--table-id", storage.table_id)
    assert TopicManager(kafka_cluster).describe_topic(topic_name).partition_count == 2


def test_the_periodic_task_reconciles_enabled_storages_and_skips_disabled_ones(kafka_cluster, kafka_row,
                                                                             make_storage, topic_name):
    enabled = make_storage(kafka_row, topic_name + "-on")
    disabled = make_storage(kafka_row, topic_name + "-off", is_enabled=False)
    summary = reconcile_topics.apply().get()
    assert summary[kafka_row.cluster_name]["statuses"][enabled.topic] == SyncStatus.IN_SYNC
    assert disabled.topic not in summary[kafka_row.cluster_name]["statuses"]
    assert not TopicManager(kafka_cluster).topic_exists(disabled.topic)
    assert KafkaStorage.objects.get(pk=enabled.pk).sync_status == SyncStatus.IN_SYNC


def test_the_sync_task_takes_ids_and_is_idempotent(kafka_row, make_storage, topic_name):
    storage = make_storage(kafka_row, topic_name)
    first = sync_kafka_storages.apply(args=[[storage.pk]]).get()
    second = sync_kafka_storages.apply(args=[[storage.pk]]).get()
    assert first == second == {kafka_row.cluster_name: {"error": "", "statuses": {topic_name: "in_sync"},
                                                         "skipped": []}}
