"""Choice sets shared by models, serializers, filters and the admin."""
from __future__ import annotations

from django.db import models

from alarm_backends.core.kafka.cluster import SASL_MECHANISMS, SECURITY_PROTOCOLS


class ClusterType(models.TextChoices):
    KAFKA = "kafka", "Kafka"
    REDIS = "redis", "Redis"
    ELASTICSEARCH = "elasticsearch", "Elasticsearch"
    INFLUXDB = "influxdb", "InfluxDB"
    VICTORIA_METRICS = "victoria_metrics", "VictoriaMetrics"
    DORIS = "doris", "Doris"


class SecurityProtocol(models.TextChoices):
    PLAINTEXT = "PLAINTEXT", "PLAINTEXT"
    SSL = "SSL", "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT", "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL", "SASL_SSL"


class SaslMechanism(models.TextChoices):
    PLAIN = "PLAIN", "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256", "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512", "SCRAM-SHA-512"


# The Kafka layer is the authority on what it can connect with.
assert set(SecurityProtocol.values) == set(SECURITY_PROTOCOLS)
assert set(SaslMechanism.values) == set(SASL_MECHANISMS)


class SchemaType(models.TextChoices):
    FREE = "free", "free"
    DYNAMIC = "dynamic", "dynamic"
    FIXED = "fixed", "fixed"


class StorageType(models.TextChoices):
    KAFKA = "kafka", "Kafka"
    INFLUXDB = "influxdb", "InfluxDB"
    ELASTICSEARCH = "elasticsearch", "Elasticsearch"
    REDIS = "redis", "Redis"
    VICTORIA_METRICS = "victoria_metrics", "VictoriaMetrics"


class CleanupPolicy(models.TextChoices):
    DELETE = "delete", "delete"
    COMPACT = "compact", "compact"
    COMPACT_DELETE = "compact,delete", "compact,delete"


class CompressionType(models.TextChoices):
    PRODUCER = "producer", "producer"
    UNCOMPRESSED = "uncompressed", "uncompressed"
    GZIP = "gzip", "gzip"
    SNAPPY = "snappy", "snappy"
    LZ4 = "lz4", "lz4"
    ZSTD = "zstd", "zstd"


class SyncStatus(models.TextChoices):
    UNKNOWN = "unknown", "not checked yet"
    IN_SYNC = "in_sync", "in sync"
    DRIFTED = "drifted", "drifted"
    MISSING = "missing", "missing"
    CLUSTER_UNREACHABLE = "cluster_unreachable", "cluster unreachable"
    ERROR = "error", "error"
