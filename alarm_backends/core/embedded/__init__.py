"""Embedded services for a fresh machine: a Kafka-compatible broker and Valkey."""
from alarm_backends.core.embedded.base import EmbeddedServiceError
from alarm_backends.core.embedded.services import EmbeddedKafkaBroker, EmbeddedValkey

__all__ = ["EmbeddedKafkaBroker", "EmbeddedServiceError", "EmbeddedValkey"]
