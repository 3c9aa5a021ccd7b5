"""KafkaStorage: a result table's data kept in a Kafka topic."""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from metadata.choices import CleanupPolicy, ClusterType, CompressionType
from metadata.models.base import ChangeLoggedModel, ManagedTopic
from metadata.models.cluster import ClusterInfo
from metadata.models.datasource import MAX_PARTITIONS
from metadata.models.topic_rules import topic_conflict
from metadata.validators import validate_kafka_topic, validate_retention, validate_table_id

DEFAULT_RETENTION_MS = 1_800_000  # the reference's default: 30 minutes
SEGMENT_BYTES_MIN = 1_048_576  # Kafka rejects smaller segment.bytes (14 bytes in theory; 1 MiB in practice)


def default_storage_topic(table_id: str) -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}_{table_id}"


def human_duration_ms(ms: int | None) -> str:
    if ms is None:
        return "broker default"
    if ms == -1:
        return "forever"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size} {unit}"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms >= size:
            return f"{ms / size:.1f} {unit}"
    return f"{ms} ms"


class KafkaStorage(ChangeLoggedModel, ManagedTopic):
    table_id = models.CharField(max_length=128, validators=[validate_table_id])
    bk_tenant_id = models.CharField(max_length=64, default="system")
    topic = models.CharField(max_length=249, blank=True, validators=[validate_kafka_topic],
                             help_text="defaults to <KAFKA_TOPIC_PREFIX>_<table_id>")
    partition = models.PositiveIntegerField(default=1, validators=[MinValueValidator(1),
                                                                   MaxValueValidator(MAX_PARTITIONS)])
    storage_cluster = models.ForeignKey(ClusterInfo, on_delete=models.PROTECT, related_name="kafka_storages")
    retention = models.BigIntegerField(default=DEFAULT_RETENTION_MS,
                                       validators=[validate_retention, MaxValueValidator(2**63 - 1)],
                                       help_text="retention.ms; -1 keeps data forever")
    replication_factor = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1),
                                                                                  MaxValueValidator(32)])
    cleanup_policy = models.CharField(max_length=16, choices=CleanupPolicy.choices, blank=True, default="",
                                      help_text="empty = broker default")
    compression_type = models.CharField(max_length=16, choices=CompressionType.choices, blank=True, default="",
                                        help_text="empty = broker default")
    segment_bytes = models.PositiveIntegerField(null=True, blank=True,
                                                validators=[MinValueValidator(SEGMENT_BYTES_MIN),
                                                            MaxValueValidator(2_147_483_647)])
    min_insync_replicas = models.PositiveSmallIntegerField(null=True, blank=True,
                                                           validators=[MinValueValidator(1), MaxValueValidator(32)])
    is_enabled = models.BooleanField(default=True, help_text="disabled storages are not reconciled")

    class Meta:
        ordering = ["table_id"]
        verbose_name = "kafka storage"
        constraints = [
            models.UniqueConstraint(fields=["table_id", "bk_tenant_id"], name="metadata_kafka_storage_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.table_id} -> {self.topic}"

    @property
    def managed(self) -> bool:
        return self.is_enabled

    @property
    def retention_display(self) -> str:
        return human_duration_ms(self.retention)

    def topic_cluster(self) -> ClusterInfo | None:
        return self.storage_cluster if self.storage_cluster_id else None

    def topic_configs(self) -> dict[str, str]:
        configs = {"retention.ms": str(self.retention)}
        if self.cleanup_policy:
            configs["cleanup.policy"] = self.cleanup_policy
        if self.compression_type:
            configs["compression.type"] = self.compression_type
        if self.segment_bytes is not None:
            configs["segment.bytes"] = str(self.segment_bytes)
        if self.min_insync_replicas is not None:
            configs["min.insync.replicas"] = str(self.min_insync_replicas)
        return configs

    def topic_spec(self):  # type: ignore[no-untyped-def]
        from metadata.reconcile import TopicSpec

        return TopicSpec(self.topic, self.partition, self.replication_factor, self.topic_configs())

    def consume_config(self) -> dict[str, object]:
        """The reference's shape for consumers: where to read this table's data (no secrets)."""
        cluster = self.storage_cluster
        return {
            "cluster_config": {"domain_name": cluster.domain_name, "port": cluster.port,
                               "cluster_name": cluster.cluster_name, "cluster_id": cluster.pk,
                               "security_protocol": cluster.security_protocol},
            "storage_config": {"topic": self.topic, "partition": self.partition, "retention": self.retention},
            "cluster_type": ClusterType.KAFKA,
        }

    def save(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if not self.topic and self.table_id:
            self.topic = default_storage_topic(self.table_id)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        if not self.topic and self.table_id:
            self.topic = default_storage_topic(self.table_id)
            try:
                validate_kafka_topic(self.topic)
            except ValidationError as exc:
                errors["topic"] = f"the default topic for table_id {self.table_id!r} is not legal: {exc.messages[0]}"
        cluster = self.storage_cluster if self.storage_cluster_id else None
        if cluster is not None:
            if cluster.cluster_type != ClusterType.KAFKA:
                errors["storage_cluster"] = (f"storage_cluster must be a kafka cluster, "
                                             f"{cluster.cluster_name!r} is {cluster.cluster_type}")
            elif "topic" not in errors:
                conflict = topic_conflict(cluster.pk, self.topic, self)
                if conflict:
                    errors["topic"] = conflict
            if cluster.broker_count and self.replication_factor and self.replication_factor > cluster.broker_count:
                errors["replication_factor"] = (f"replication_factor {self.replication_factor} exceeds the "
                                                f"{cluster.broker_count} broker(s) of cluster {cluster.cluster_name!r}")
        if (self.min_insync_replicas is not None and self.replication_factor
                and self.min_insync_replicas > self.replication_factor):
            errors["min_insync_replicas"] = (f"min_insync_replicas {self.min_insync_replicas} exceeds "
                                             f"replication_factor {self.replication_factor}")
        if errors:
            raise ValidationError(errors)

    def unique_error_message(self, model_class, unique_check):  # type: ignore[no-untyped-def]
        if set(unique_check) == {"table_id", "bk_tenant_id"}:
            return ValidationError(
                f"table_id {self.table_id!r} already has a kafka storage in tenant {self.bk_tenant_id!r}",
                code="unique",
            )
        return super().unique_error_message(model_class, unique_check)
