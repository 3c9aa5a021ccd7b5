"""AdminClient plumbing shared by the topic and offset managers: bounded
waits and translation of librdkafka errors into typed ones."""
from __future__ import annotations

import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ClusterMetadata

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.errors import BrokerUnavailable, KafkaStorageError, UnsupportedByBroker

T = TypeVar("T")

_UNREACHABLE = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT,
                KafkaError._RESOLVE, KafkaError.REQUEST_TIMED_OUT}


def admin_client(cluster: KafkaClusterConfig, timeout: float) -> AdminClient:
    ms = int(timeout * 1000)
    return AdminClient({
        **cluster.client_config(),
        "socket.connection.setup.timeout.ms": max(1000, ms),
        "socket.timeout.ms": max(1000, ms),
        "reconnect.backoff.max.ms": 1000,
        "logger": _quiet_logger(),
    })


def kafka_error(exc: BaseException) -> KafkaError | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def translate(exc: BaseException, cluster: KafkaClusterConfig, timeout: float, operation: str) -> KafkaStorageError:
    if isinstance(exc, concurrent.futures.TimeoutError):
        return BrokerUnavailable(cluster.bootstrap_servers, f"{operation} got no answer", timeout)
    err = kafka_error(exc)
    if err is not None:
        if err.code() in _UNREACHABLE:
            return BrokerUnavailable(cluster.bootstrap_servers, err.str(), timeout)
        if err.code() == KafkaError._UNSUPPORTED_FEATURE:
            return UnsupportedByBroker(operation, err.str())
        return KafkaStorageError(f"{operation} failed: {err.str()}")
    return KafkaStorageError(f"{operation} failed: {exc}")


def wait(future: concurrent.futures.Future[T], timeout: float) -> T:
    return future.result(timeout=timeout)


def cluster_metadata(client: AdminClient, cluster: KafkaClusterConfig, timeout: float,
                     topic: str | None = None) -> ClusterMetadata:
    try:
        return client.list_topics(topic=topic, timeout=timeout)
    except KafkaException as exc:
        raise translate(exc, cluster, timeout, "metadata request") from exc


def call(cluster: KafkaClusterConfig, timeout: float, operation: str, fn: Callable[[], T]) -> T:
    """Run fn, mapping timeouts and client errors to typed errors naming the operation."""
    try:
        return fn()
    except (KafkaException, concurrent.futures.TimeoutError) as exc:
        raise translate(exc, cluster, timeout, operation) from exc


def _quiet_logger() -> Any:
    # librdkafka logs every failed connection attempt to stderr; route it to logging instead.
    import logging

    return logging.getLogger("librdkafka")
