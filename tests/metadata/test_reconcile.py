"""Reconciliation against the embedded broker (real protocol, real topics)."""
from __future__ import annotations

import time

import pytest

from alarm_backends.core.kafka.topics import TopicManager
from metadata.choices import SyncStatus
from metadata.models import KafkaStorage
from metadata.reconcile import reconcile_all
from tests.metadata.conftest import UNREACHABLE_TIMEOUT

pytestmark = [pytest.mark.broker, pytest.mark.django_db]


def live(kafka_cluster, topic):
    return TopicManager(kafka_cluster).describe_topic(topic)


def test_a_missing_topic_is_reported_missing_by_a_dry_run_and_not_created(kafka_cluster, kafka_row, make_storage,
                                                                         topic_name):
    storage = make_storage(kafka_row, topic_name, partition=2)
    result = storage.ensure_topic(apply=False)
    assert result.status == SyncStatus.MISSING
    assert "would create topic with 2 partition(s)" in result.actions[0]
    assert not TopicManager(kafka_cluster).topic_exists(topic_name)
    storage.refresh_from_db()
    assert storage.sync_status == SyncStatus.MISSING and storage.last_checked_at is not None


def test_a_missing_topic_is_created_with_its_partitions_and_retention(kafka_cluster, kafka_row, make_storage,
                                                                      topic_name):
    storage = make_storage(kafka_row, topic_name, partition=3, retention=600_000, cleanup_policy="delete")
    result = storage.ensure_topic()
    assert result.status == SyncStatus.IN_SYNC, result.summary()
    assert result.actions[0].startswith("created topic with 3 partition(s)")
    described = live(kafka_cluster, topic_name)
    assert described.partition_count == 3
    assert described.configs["retention.ms"] == "600000"
    storage.refresh_from_db()
    assert storage.sync_status == SyncStatus.IN_SYNC and storage.sync_drift == []


def test_drifted_retention_is_reported_then_fixed_by_apply(kafka_cluster, kafka_row, make_storage, topic_name):
    TopicManager(kafka_cluster).create_topic(topic_name, partitions=1, config={"retention.ms": "604800000"})
    storage = make_storage(kafka_row, topic_name, retention=1_800_000)

    checked = storage.ensure_topic(apply=False)
    assert checked.status == SyncStatus.DRIFTED
    assert [(d.attribute, d.desired, d.live) for d in checked.drift] == [("retention.ms", "1800000", "604800000")]
    storage.refresh_from_db()
    assert storage.sync_drift[0]["attribute"] == "retention.ms"
    assert live(kafka_cluster, topic_name).configs["retention.ms"] == "604800000"

    fixed = storage.ensure_topic(apply=True)
    assert fixed.status == SyncStatus.IN_SYNC, fixed.summary()
    assert fixed.actions == ["altered configs retention.ms=1800000"]
    assert live(kafka_cluster, topic_name).configs["retention.ms"] == "1800000"


def test_a_second_apply_finds_nothing_to_do(kafka_row, make_storage, topic_name):
    storage = make_storage(kafka_row, topic_name, retention=-1, compression_type="zstd")
    assert storage.ensure_topic().actions
    again = storage.ensure_topic()
    assert again.status == SyncStatus.IN_SYNC and again.actions == [] and again.refused == []


def test_a_partition_decrease_is_refused_with_a_clear_message(kafka_cluster, kafka_row, make_storage, topic_name):
    TopicManager(kafka_cluster).create_topic(topic_name, partitions=3, config={"retention.ms": "1800000"})
    storage = make_storage(kafka_row, topic_name, partition=1)
    result = storage.ensure_topic()
    assert result.status == SyncStatus.DRIFTED
    assert result.refused == ["partitions: cannot decrease partitions from 3 to 1: Kafka only adds partitions; "
                              "create a new topic to shrink"]
    assert live(kafka_cluster, topic_name).partition_count == 3


def test_a_partition_increase_on_this_broker_reports_that_it_is_not_supported(kafka_cluster, kafka_row,
                                                                             make_storage, topic_name):
    # The embedded broker has no CreatePartitions; a real Kafka would grow the topic here.
    TopicManager(kafka_cluster).create_topic(topic_name, partitions=1, config={"retention.ms": "1800000"})
    storage = make_storage(kafka_row, topic_name, partition=2)
    result = storage.ensure_topic()
    assert result.status == SyncStatus.DRIFTED
    assert len(result.refused) == 1
    assert result.refused[0].startswith("partitions: cannot increase from 1 to 2: ")
    assert "not supported by this broker" in result.refused[0]


def test_an_unreachable_cluster_gives_a_status_with_the_error_in_bounded_time(unreachable_row, make_storage,
                                                                             topic_name):
    storage = make_storage(unreachable_row, topic_name)
    started = time.monotonic()
    result = storage.ensure_topic(timeout=UNREACHABLE_TIMEOUT)
    assert time.monotonic() - started < UNREACHABLE_TIMEOUT * 3
    assert result.status == SyncStatus.CLUSTER_UNREACHABLE
    assert "127.0.0.1:1" in result.error and "unreachable" in result.error
    storage.refresh_from_db()
    assert storage.sync_status == SyncStatus.CLUSTER_UNREACHABLE and "127.0.0.1:1" in storage.sync_error


def test_a_data_source_topic_is_created_under_its_default_name(kafka_cluster, kafka_row, make_data_source):
    source = make_data_source(kafka_row)
    from metadata.models import KafkaTopicInfo

    info = KafkaTopicInfo(data_source=source, partition=2)
    info.full_clean()
    info.save()
    assert info.topic == f"bkm_data_{source.bk_data_id}"
    result = info.ensure_topic()
    assert result.status == SyncStatus.IN_SYNC, result.summary()
    assert live(kafka_cluster, info.topic).partition_count == 2
    TopicManager(kafka_cluster).delete_topic(info.topic)  # the default name is reused by later runs


def test_reconcile_all_bounds_each_cluster_and_records_every_status(kafka_cluster, kafka_row, unreachable_row,
                                                                    make_storage, topic_name):
    good = make_storage(kafka_row, topic_name + "-a")
    disabled = make_storage(kafka_row, topic_name + "-b", is_enabled=False)
    dead = make_storage(unreachable_row, topic_name + "-c")
    started = time.monotonic()
    runs = reconcile_all(apply=True, targets=[good, dead], cluster_budget=10, timeout=UNREACHABLE_TIMEOUT)
    assert time.monotonic() - started < 10
    by_cluster = {run.cluster: run for run in runs}
    assert by_cluster[kafka_row.cluster_name].results[0][1].status == SyncStatus.IN_SYNC
    assert "unreachable" in by_cluster[unreachable_row.cluster_name].error
    statuses = dict(KafkaStorage.objects.values_list("pk", "sync_status"))
    assert statuses == {good.pk: SyncStatus.IN_SYNC, disabled.pk: SyncStatus.UNKNOWN,
                        dead.pk: SyncStatus.CLUSTER_UNREACHABLE}
    kafka_row.refresh_from_db()
    assert kafka_row.broker_count >= 1


def test_reconcile_all_leaves_what_does_not_fit_in_the_budget_for_the_next_run(kafka_row, make_storage, topic_name):
    storages = [make_storage(kafka_row, f"{topic_name}-{i}") for i in range(3)]
    ticks = iter(range(100))  # each clock reading is one second later: the budget of 2 s fits one topic

    [run] = reconcile_all(apply=False, targets=storages, cluster_budget=2, clock=lambda: float(next(ticks)))
    assert [t.pk for t, _ in run.results] == [storages[0].pk]
    assert [t.pk for t in run.skipped] == [storages[1].pk, storages[2].pk]
    assert KafkaStorage.objects.get(pk=storages[1].pk).sync_status == SyncStatus.UNKNOWN


def test_two_workers_creating_the_same_topic_both_end_in_sync(kafka_cluster, kafka_row, make_storage, topic_name):
    # The second worker's create races the first: it must compare with the live topic, not fail.
    storage = make_storage(kafka_row, topic_name, partition=2)
    from metadata.reconcile import reconcile_with

    first = TopicManager(kafka_cluster)
    first.create_topic(topic_name, partitions=2, config=storage.topic_configs())

    class LateManager(TopicManager):
        calls = 0

        def describe_topic(self, name, with_configs=True):  # the first look happened before the other create
            LateManager.calls += 1
            if LateManager.calls == 1:
                from alarm_backends.core.kafka.errors import TopicNotFound
                raise TopicNotFound(name)
            return super().describe_topic(name, with_configs)

    result = reconcile_with(LateManager(kafka_cluster), storage.topic_spec(), apply=True)
    assert result.status == SyncStatus.IN_SYNC and result.actions == []
