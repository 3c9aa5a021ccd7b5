"""Reading a topic without joining a group: the last N messages per partition,
and the exact offset of the first message at or after a timestamp."""
from __future__ import annotations

import functools
import time
import uuid
from dataclasses import dataclass
from typing import cast

from confluent_kafka import Consumer, TopicPartition

from alarm_backends.core.kafka import admin
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.defaults import default_cluster
from alarm_backends.core.kafka.errors import TopicNotFound
from alarm_backends.core.kafka.messages import offset_of, tp_of
from alarm_backends.core.kafka.topics import validate_topic_name

MAX_TAIL = 500


@dataclass(frozen=True)
class TailRecord:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes | None]]


def _reader(cluster: KafkaClusterConfig) -> Consumer:
    return Consumer({**cluster.client_config(), "group.id": f"bkm-reader-{uuid.uuid4().hex}",
                     "enable.auto.commit": False, "enable.partition.eof": True})


def first_offset_at_or_after(topic: str, partition: int, start: int, timestamp_ms: int,
                             cluster: KafkaClusterConfig, timeout: float = 10.0,
                             max_scan: int = 1_000_000) -> int | None:
    """Scan forward from `start` (a broker's answer to ListOffsets, which some brokers give
    per batch or by append time) to the first message whose timestamp is >= timestamp_ms.
    None when the partition ends first."""
    consumer = _reader(cluster)
    try:
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline, scanned = time.monotonic() + timeout, 0
        while time.monotonic() < deadline and scanned < max_scan:
            for m in consumer.consume(1000, 0.2):
                if m.error() is not None:
                    return None
                if m.timestamp()[1] >= timestamp_ms:
                    return offset_of(m)
                scanned += 1
        raise TimeoutError(f"{topic}[{partition}]: no message at or after {timestamp_ms} "
                           f"within {scanned} messages / {timeout:g}s")
    finally:
        consumer.close()


def tail_messages(topic: str, count: int, cluster: KafkaClusterConfig | None = None,
                  timeout: float = 5.0) -> dict[int, list[TailRecord]]:
    if not 1 <= count <= MAX_TAIL:
        raise ValueError(f"count must be between 1 and {MAX_TAIL}, got {count}")
    validate_topic_name(topic)
    cluster = cluster or default_cluster()
    consumer = _reader(cluster)
    try:
        md = admin.call(cluster, timeout, f"metadata of {topic!r}",
                        lambda: consumer.list_topics(topic, timeout=timeout))
        info = md.topics.get(topic)
        if info is None or not info.partitions:
            raise TopicNotFound(topic)
        starts, ends = {}, {}
        for p in info.partitions:
            low, high = admin.call(
                cluster, timeout, f"watermarks of {topic}[{p}]",
                functools.partial(consumer.get_watermark_offsets, TopicPartition(topic, p), timeout=timeout))
            # Read until end-of-partition rather than up to `high`: some brokers (the embedded
            # one) report a high watermark that lags the last batch's records.
            starts[p], ends[p] = max(low, high - count), high
        wanted = [p for p in starts if ends[p] > starts[p]]
        records: dict[int, list[TailRecord]] = {p: [] for p in info.partitions}
        if not wanted:
            return records
        consumer.assign([TopicPartition(topic, p, starts[p]) for p in wanted])
        open_partitions = set(wanted)
        deadline = time.monotonic() + timeout
        while open_partitions and time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.2):
                if m.error() is not None:  # end of partition (or an error): that partition is done
                    open_partitions.discard(m.partition())
                    continue
                headers = cast("list[tuple[str, bytes | None]]", m.headers() or [])  # consumed: a list
                records[tp_of(m)[1]].append(TailRecord(offset_of(m), m.timestamp()[1], m.key(), m.value(),
                                                       list(headers)))
        return {p: recs[-count:] for p, recs in records.items()}
    finally:
        consumer.close()
