"""Celery tasks: thin wrappers over metadata.reconcile. Ids in, summaries out; safe to run twice."""
from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from metadata.models import KafkaStorage, KafkaTopicInfo
from metadata.reconcile import ClusterRun, reconcile_all

_RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": True, "retry_backoff_max": 300,
          "max_retries": 5, "acks_late": True}


def summarize(runs: list[ClusterRun]) -> dict[str, object]:
    return {
        run.cluster: {
            "error": run.error,
            "statuses": {result.topic: result.status for _, result in run.results},
            "skipped": [target.topic_spec().name for target in run.skipped],
        }
        for run in runs
    }


@shared_task(**_RETRY)
def reconcile_topics(apply: bool = True) -> dict[str, object]:
    """The periodic run: every enabled storage and data source topic, each cluster time-bounded."""
    return summarize(reconcile_all(apply=apply))


@shared_task(**_RETRY)
def sync_kafka_storages(storage_ids: list[int], apply: bool = True) -> dict[str, object]:
    targets = list(KafkaStorage.objects.filter(pk__in=storage_ids).select_related("storage_cluster"))
    return summarize(reconcile_all(apply=apply, targets=targets))


@shared_task(**_RETRY)
def sync_topic_infos(info_ids: list[int], apply: bool = True) -> dict[str, object]:
    targets = list(KafkaTopicInfo.objects.filter(pk__in=info_ids).select_related("data_source__mq_cluster"))
    return summarize(reconcile_all(apply=apply, targets=targets))
