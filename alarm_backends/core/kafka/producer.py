"""KafkaProducer: one long-lived librdkafka producer per process and cluster.

Delivery is acks=all with idempotence; only failed delivery reports reach
Python (`delivery.report.only.error`), so the success path costs nothing per
message. `flush()` is bounded and raises a typed error for every message the
broker refused or that is still undelivered when the time is up.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import orjson
from confluent_kafka import KafkaError, KafkaException, Message, Producer

from alarm_backends.core.kafka import admin
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.defaults import client_timeout, default_cluster, producer_settings
from alarm_backends.core.kafka.errors import (
    DeliveryFailed,
    DeliveryFailure,
    FlushTimeout,
    ProduceError,
    ProducerQueueFull,
)
from alarm_backends.core.kafka.messages import tp_of
from alarm_backends.core.kafka.metrics import PRODUCE_ERRORS, PRODUCED_MESSAGES
from alarm_backends.core.kafka.partitioner import CustomPartitioner, RoundRobin, validate_partitioner
from alarm_backends.core.kafka.stats import StatsCollector

logger = logging.getLogger(__name__)

Value = bytes | str | dict[str, Any] | list[Any]
Headers = Mapping[str, str | bytes | None] | Sequence[tuple[str, str | bytes | None]] | None
Key = bytes | str | None

PUT_BATCH_SIZE = 1000
_PARTITION_CACHE_SECONDS = 60.0


def encode(value: Value) -> bytes:
    """bytes pass through, str is UTF-8, dict/list are JSON (orjson)."""
    kind = type(value)
    if kind is bytes:
        return value  # type: ignore[return-value]
    if kind is str:
        return value.encode()  # type: ignore[union-attr]
    if isinstance(value, (dict, list, tuple)):
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"cannot send a {kind.__name__} as a Kafka value: use bytes, str, dict or list")


def _key_bytes(key: Key) -> bytes | None:
    return key.encode() if isinstance(key, str) else key


class KafkaProducer:
    def __init__(self, cluster: KafkaClusterConfig | None = None, *, partitioner: Any = "murmur2",
                 config: Mapping[str, Any] | None = None, default_topic: str | None = None,
                 queue_full_timeout: float | None = 30.0) -> None:
        validate_partitioner(partitioner)
        self.cluster = cluster or default_cluster()
        self.default_topic = default_topic
        self.partitioner = partitioner
        self.queue_full_timeout = queue_full_timeout  # None: wait for room for as long as it takes ...
        self.stop: threading.Event | None = None  # ... or until this is set (a loop's stop event)
        self._round_robin = RoundRobin()
        self._partition_counts: dict[str, tuple[int, float]] = {}
        self._failures: list[DeliveryFailure] = []
        self._lock = threading.Lock()
        conf: dict[str, Any] = {
            **self.cluster.client_config(),
            **producer_settings(),
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",  # Java-compatible key hashing
            "delivery.report.only.error": True,
            "on_delivery": self._on_delivery,
            "error_cb": self._on_error,
            "statistics.interval.ms": 5000,
            "stats_cb": StatsCollector(self.cluster.bootstrap_servers),
            "logger": logging.getLogger("librdkafka"),
        }
        conf.update(config or {})
        self.config = {k: v for k, v in conf.items() if "password" not in k}
        self._producer = Producer(conf)

    # sending
    def produce(self, topic: str, value: Value | None, key: Key = None, headers: Headers = None,
                partition: int | None = None) -> None:
        """Queue one message; delivery is confirmed by flush()."""
        payload = None if value is None else encode(value)
        key_bytes = _key_bytes(key)
        if partition is None and self.partitioner != "murmur2":
            partition = self._choose_partition(topic, key_bytes, payload)
        kwargs: dict[str, Any] = {"key": key_bytes}
        if partition is not None:
            kwargs["partition"] = partition
        if headers:
            kwargs["headers"] = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        self._produce(topic, payload, kwargs)

    def send_messages(self, topic: str, *values: Value, key: Key = None, headers: Headers = None,
                      partition: int | None = None, wait: bool = True, timeout: float | None = None) -> int:
        """Send each value as one message; with wait (default), return once all are acknowledged."""
        for value in values:
            self.produce(topic, value, key=key, headers=headers, partition=partition)
        self._count(topic, len(values))
        if wait:
            self.flush(timeout)
        else:
            self._producer.poll(0)
        return len(values)

    def put(self, value: Value | list[Value], topic: str | None = None, key: Key = None,
            headers: Headers = None, timeout: float | None = None) -> int:
        """Send a value, or a list of values, in batches; return once all are acknowledged."""
        topic = topic or self.default_topic
        if not topic:
            raise ProduceError(None, "no topic given and the producer has no default_topic")
        values = value if isinstance(value, list) else [value]
        self.produce_batch(topic, ((key, item) for item in values), headers)
        self._count(topic, len(values))
        self.flush(timeout)
        return len(values)

    def produce_batch(self, topic: str, messages: Iterable[tuple[Key, Value]], headers: Headers = None) -> int:
        """Queue (key, value) pairs as produce() queues one, with the call shape worked out once
        (a hot-path helper); delivery is confirmed by flush(). Returns how many were queued."""
        if self.partitioner != "murmur2":
            count = 0
            for key, value in messages:
                self.produce(topic, value, key=key, headers=headers)
                count += 1
            return count
        extra: dict[str, Any] = {}
        if headers:
            extra["headers"] = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        # Callable[..., None]: with **extra unpacked, the stubs can't tell which parameters are left positional
        send: Callable[..., None] = functools.partial(self._producer.produce, topic, **extra)
        poll = self._producer.poll
        count = 0
        for key, value in messages:
            payload = value if type(value) is bytes else encode(value)
            try:
                send(payload, key)  # librdkafka takes str keys as UTF-8, as _key_bytes would
            except BufferError:
                self._produce(topic, payload, {"key": _key_bytes(key), **extra})  # waits for room (backpressure)
            except KafkaException as exc:
                raise ProduceError(topic, str(exc.args[0] if exc.args else exc)) from exc
            count += 1
            if count % PUT_BATCH_SIZE == 0:
                poll(0)
        poll(0)
        return count

    def flush(self, timeout: float | None = None) -> int:
        """Wait (bounded) for every queued message; raise DeliveryFailed naming each refused
        topic and reason, or FlushTimeout with the count still undelivered."""
        timeout = timeout if timeout is not None else client_timeout()
        remaining = self._producer.flush(timeout)
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise DeliveryFailed(failures)
        if remaining:
            raise FlushTimeout(remaining, timeout)
        return 0

    def poll(self, timeout: float = 0) -> int:
        return self._producer.poll(timeout)

    def __len__(self) -> int:
        return len(self._producer)

    def close(self, timeout: float | None = None) -> None:
        try:
            self.flush(timeout)
        finally:
            _registry.forget(self)

    # internals
    def _produce(self, topic: str, payload: bytes | None, kwargs: dict[str, Any]) -> None:
        deadline = None
        while True:
            try:
                self._producer.produce(topic, payload, **kwargs)
                return
            except BufferError:
                # Local queue full: the broker is slower than us, or away. Wait for room (backpressure);
                # a producer that holds its messages through an outage waits as long as the outage lasts,
                # since giving up here would cut its caller's work in half.
                now = time.monotonic()
                if self.stop is not None and self.stop.is_set():
                    raise ProducerQueueFull(topic, "local queue full when asked to stop") from None
                if self.queue_full_timeout is not None:
                    deadline = deadline or now + self.queue_full_timeout
                    if now > deadline:
                        raise ProducerQueueFull(
                            topic, f"local queue still full after {self.queue_full_timeout:g}s") from None
                self._producer.poll(0.05)
            except KafkaException as exc:
                raise ProduceError(topic, str(exc.args[0] if exc.args else exc)) from exc

    def _count(self, topic: str, n: int) -> None:
        PRODUCED_MESSAGES.labels(topic).inc(n)

    def _choose_partition(self, topic: str, key: bytes | None, payload: bytes | None) -> int:
        count = self.partition_count(topic)
        if self.partitioner == "round_robin":
            return self._round_robin(topic, count)
        strategy: CustomPartitioner = self.partitioner
        chosen = strategy(key, payload or b"", count)
        if not isinstance(chosen, int) or not 0 <= chosen < count:
            raise ProduceError(topic, f"custom partitioner returned {chosen!r}, not a partition in 0..{count - 1}")
        return chosen

    def partition_count(self, topic: str) -> int:
        cached = self._partition_counts.get(topic)
        if cached and time.monotonic() - cached[1] < _PARTITION_CACHE_SECONDS:
            return cached[0]
        timeout = client_timeout()
        try:
            md = self._producer.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            raise admin.translate(exc, self.cluster, timeout, f"metadata of {topic!r}") from exc
        info = md.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            reason = info.error.str() if info is not None and info.error is not None else "no partitions"
            raise ProduceError(topic, f"cannot choose a partition: {reason}")
        self._partition_counts[topic] = (len(info.partitions), time.monotonic())
        return len(info.partitions)

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is None:
            return
        topic, partition = tp_of(msg)
        failure = DeliveryFailure(topic, partition, err.str(), err.retriable())
        PRODUCE_ERRORS.labels(topic).inc()
        with self._lock:
            self._failures.append(failure)

    def _on_error(self, err: KafkaError) -> None:
        logger.warning("kafka producer (%s): %s", self.cluster.bootstrap_servers, err.str())

    # one per process and cluster
    @classmethod
    def get_instance(cls, cluster: KafkaClusterConfig | None = None, **options: Any) -> KafkaProducer:
        return _registry.get(cls, cluster or default_cluster(), options)


class _ProducerRegistry:
    """Long-lived producers keyed by (pid, cluster, options); a forked child gets its own."""

    def __init__(self) -> None:
        self._producers: dict[tuple[Any, ...], KafkaProducer] = {}
        self._lock = threading.Lock()

    def get(self, cls: type[KafkaProducer], cluster: KafkaClusterConfig, options: dict[str, Any]) -> KafkaProducer:
        key = (os.getpid(), cluster.key, _freeze(options))
        with self._lock:
            producer = self._producers.get(key)
            if producer is None:
                producer = self._producers[key] = cls(cluster, **options)
            return producer

    def forget(self, producer: KafkaProducer) -> None:
        with self._lock:
            for key, value in list(self._producers.items()):
                if value is producer:
                    del self._producers[key]

    def close_all(self, timeout: float = 5.0) -> None:
        with self._lock:
            producers, self._producers = list(self._producers.values()), {}
        for producer in producers:
            try:
                producer.flush(timeout)
            except ProduceError as exc:
                logger.error("closing producer: %s", exc)


def _freeze(options: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, _freeze(v) if isinstance(v, Mapping) else v) for k, v in options.items()))


_registry = _ProducerRegistry()
close_all_producers = _registry.close_all
