"""Abstract bases: change tracking and the recorded state of a managed topic."""
from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.utils import timezone

from metadata.choices import SyncStatus

if TYPE_CHECKING:
    from alarm_backends.core.kafka.cluster import KafkaClusterConfig
    from metadata.models.cluster import ClusterInfo
    from metadata.reconcile import ReconcileResult, TopicSpec


class ChangeLoggedModel(models.Model):
    creator = models.CharField(max_length=64, blank=True, default="")
    create_time = models.DateTimeField(auto_now_add=True)
    last_modify_user = models.CharField(max_length=64, blank=True, default="")
    last_modify_time = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ManagedTopic(models.Model):
    """A model that describes one Kafka topic the system keeps in shape."""

    sync_status = models.CharField(max_length=32, choices=SyncStatus.choices, default=SyncStatus.UNKNOWN,
                                   editable=False)
    sync_drift = models.JSONField(default=list, blank=True, editable=False)
    sync_error = models.TextField(blank=True, default="", editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    # subclasses provide these
    def topic_spec(self) -> TopicSpec:
        raise NotImplementedError

    def topic_cluster(self) -> ClusterInfo | None:
        raise NotImplementedError

    @property
    def managed(self) -> bool:
        raise NotImplementedError

    def kafka_cluster_config(self) -> KafkaClusterConfig:
        cluster = self.topic_cluster()
        if cluster is None:
            raise ValueError("storage_cluster: no Kafka cluster is set")
        return cluster.kafka_config()

    def ensure_topic(self, apply: bool = True, timeout: float | None = None) -> ReconcileResult:
        """Create the topic if missing, else compare and (when apply) fix drift; records the status."""
        from metadata.reconcile import reconcile

        result = reconcile(self, apply=apply, timeout=timeout)
        self.record_sync(result)
        return result

    def record_sync(self, result: ReconcileResult) -> None:
        fields = {
            "sync_status": result.status,
            "sync_drift": [d.as_dict() for d in result.drift],
            "sync_error": result.error,
            "last_checked_at": timezone.now(),
        }
        # A queryset update so a check never overwrites an operator's concurrent edit.
        type(self).objects.filter(pk=self.pk).update(**fields)
        for name, value in fields.items():
            setattr(self, name, value)
