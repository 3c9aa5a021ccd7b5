"""The one place the Kafka layer reads Django settings."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from alarm_backends.core.kafka.cluster import KafkaClusterConfig


def default_cluster() -> KafkaClusterConfig:
    cluster: KafkaClusterConfig | None = getattr(settings, "KAFKA_CLUSTER", None)
    if cluster is None:
        raise ImproperlyConfigured(
            "No Kafka cluster configured: set BK_MONITOR_KAFKA_HOST, or start the process under "
            "`python manage.py run_embedded -- ...` to use the embedded broker"
        )
    return cluster


def producer_settings() -> dict[str, Any]:
    return dict(settings.KAFKA_PRODUCER)


def consumer_settings() -> dict[str, Any]:
    return dict(settings.KAFKA_CONSUMER)


def commit_interval() -> tuple[float, int]:
    return settings.KAFKA_COMMIT_INTERVAL_SECONDS, settings.KAFKA_COMMIT_EVERY_MESSAGES


def client_timeout() -> float:
    return float(settings.KAFKA_CLIENT_TIMEOUT_SECONDS)
