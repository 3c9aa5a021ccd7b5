"""Data sources (a bk_data_id and the Kafka topic its data arrives on)."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Max

from metadata.choices import ClusterType
from metadata.models.base import ChangeLoggedModel, ManagedTopic
from metadata.models.cluster import ClusterInfo
from metadata.models.topic_rules import topic_conflict
from metadata.validators import validate_json_object, validate_kafka_topic, validate_retention

FIRST_DATA_ID = 1_500_001
MAX_DATA_ID = 2_147_483_647
MAX_PARTITIONS = 10_000


class DataSource(ChangeLoggedModel):
    bk_data_id = models.PositiveIntegerField(
        unique=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_DATA_ID)],
        help_text="allocated from 1500001 when left empty",
    )
    bk_tenant_id = models.CharField(max_length=64, default="system")
    data_name = models.CharField(max_length=128, unique=True)
    data_description = models.TextField(blank=True, default="", max_length=2000)
    etl_config = models.CharField(max_length=64, default="bk_standard_v2_time_series",
                                  help_text="e.g. bk_standard_v2_time_series, bk_standard_v2_event, bk_flat_batch")
    source_label = models.CharField(max_length=64, blank=True, default="bk_monitor")
    type_label = models.CharField(max_length=64, blank=True, default="time_series")
    is_enabled = models.BooleanField(default=True)
    mq_cluster = models.ForeignKey(ClusterInfo, on_delete=models.PROTECT, related_name="data_sources")

    class Meta:
        ordering = ["bk_data_id"]
        verbose_name = "data source"

    def __str__(self) -> str:
        return f"{self.bk_data_id} {self.data_name}"

    @classmethod
    def next_data_id(cls) -> int:
        current = cls.objects.aggregate(m=Max("bk_data_id"))["m"]
        return max(FIRST_DATA_ID, (current or 0) + 1)

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if self.bk_data_id is None:
            self.bk_data_id = self.next_data_id()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if self.mq_cluster_id is not None and self.mq_cluster.cluster_type != ClusterType.KAFKA:
            raise ValidationError({"mq_cluster": f"mq_cluster must be a kafka cluster, "
                                                 f"{self.mq_cluster.cluster_name!r} is {self.mq_cluster.cluster_type}"})

    def unique_error_message(self, model_class, unique_check):  # type: ignore[no-untyped-def]
        field = unique_check[0] if len(unique_check) == 1 else None
        if field in ("bk_data_id", "data_name"):
            return ValidationError(f"{field} {getattr(self, field)!r} is already used by another data source",
                                   code="unique")
        return super().unique_error_message(model_class, unique_check)


def default_data_topic(bk_data_id: int) -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}_data_{bk_data_id}"


class KafkaTopicInfo(ManagedTopic):
    """The topic a data source's raw data arrives on, and how it is consumed."""

    data_source = models.OneToOneField(DataSource, on_delete=models.CASCADE, related_name="kafka_topic")
    topic = models.CharField(max_length=249, blank=True, validators=[validate_kafka_topic],
                             help_text="defaults to <prefix>_data_<bk_data_id>")
    partition = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1),
                                                                   MaxValueValidator(MAX_PARTITIONS)])
    replication_factor = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1),
                                                                                  MaxValueValidator(32)])
    retention = models.BigIntegerField(null=True, blank=True, validators=[validate_retention],
                                       help_text="retention.ms; empty = broker default, -1 = keep forever")
    batch_size = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(1_000_000)])
    flush_interval = models.CharField(max_length=16, blank=True, default="")
    consume_rate = models.PositiveIntegerField(null=True, blank=True, validators=[MaxValueValidator(10**9)])
    extra_config = models.JSONField(default=dict, blank=True, validators=[validate_json_object])

    class Meta:
        ordering = ["data_source__bk_data_id"]
        verbose_name = "kafka topic info"

    def __str__(self) -> str:
        return self.topic

    @property
    def bk_data_id(self) -> int:
        return self.data_source.bk_data_id

    @property
    def managed(self) -> bool:
        return self.data_source.is_enabled

    def topic_cluster(self) -> ClusterInfo | None:
        return self.data_source.mq_cluster if self.data_source_id else None

    def topic_spec(self):  # type: ignore[no-untyped-def]
        from metadata.reconcile import TopicSpec

        configs = {"retention.ms": str(self.retention)} if self.retention is not None else {}
        return TopicSpec(self.topic, self.partition, self.replication_factor, configs)

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not self.topic and self.data_source_id:
            self.topic = default_data_topic(self.data_source.bk_data_id)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        if not self.data_source_id:
            return
        if not self.topic:
            self.topic = default_data_topic(self.data_source.bk_data_id)
            validate_kafka_topic(self.topic)
        errors = {}
        cluster = self.data_source.mq_cluster
        conflict = topic_conflict(cluster.pk, self.topic, self)
        if conflict:
            errors["topic"] = conflict
        if cluster.broker_count and self.replication_factor > cluster.broker_count:
            errors["replication_factor"] = (f"replication_factor {self.replication_factor} exceeds the "
                                            f"{cluster.broker_count} broker(s) of cluster {cluster.cluster_name!r}")
        if errors:
            raise ValidationError(errors)
