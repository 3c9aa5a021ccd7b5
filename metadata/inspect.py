"""Read-only looks at live topics: the last messages and the consumer groups reading them."""
from __future__ import annotations

import base64
import json

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.offsets import OffsetManager, groups_for_topic
from alarm_backends.core.kafka.tail import TailRecord, tail_messages


def decode_payload(raw: bytes | None) -> dict[str, object]:
    """JSON where the bytes are valid JSON, text where they are UTF-8, base64 otherwise."""
    if raw is None:
        return {"format": "null", "data": None}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"format": "base64", "data": base64.b64encode(raw).decode()}
    try:
        return {"format": "json", "data": json.loads(text)}
    except (ValueError, RecursionError):
        return {"format": "text", "data": text}


def record_as_dict(partition: int, record: TailRecord) -> dict[str, object]:
    return {
        "partition": partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": decode_payload(record.key),
        "value": decode_payload(record.value),
        "headers": [{"key": k, "value": decode_payload(v)} for k, v in record.headers],
    }


def tail(topic: str, count: int, cluster: KafkaClusterConfig, timeout: float) -> dict[str, object]:
    records = tail_messages(topic, count, cluster=cluster, timeout=timeout)
    return {
        "topic": topic,
        "count": count,
        "partitions": {str(p): [record_as_dict(p, r) for r in recs] for p, recs in sorted(records.items())},
    }


def consumer_groups(topic: str, cluster: KafkaClusterConfig, timeout: float) -> dict[str, object]:
    groups = []
    for group in groups_for_topic(topic, cluster=cluster, timeout=timeout):
        manager = OffsetManager(group, topic, cluster=cluster, timeout=timeout)
        committed, tail_offsets = manager.get_offset(), manager.get_tail()
        lag = manager.lag()
        groups.append({
            "group_id": group,
            "state": manager.group_state(),
            "total_lag": sum(lag.values()),
            "partitions": [
                {"partition": p, "committed": committed.get(p), "high_watermark": tail_offsets[p], "lag": lag[p]}
                for p in sorted(tail_offsets)
            ],
        })
    return {"topic": topic, "groups": groups}
