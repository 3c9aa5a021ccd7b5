"""Demo test helpers: read a topic back from the real broker."""
from __future__ import annotations

import time
import uuid

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.consumer import KafkaConsumer


def count_messages(cluster: KafkaClusterConfig, topic: str, quiet: float = 1.5, timeout: float = 30.0) -> int:
    """Messages on partition 0 of `topic`, read from the start until nothing more arrives for `quiet`
    seconds (the embedded broker's high watermark lags, so the offsets alone are not exact)."""
    consumer = KafkaConsumer(f"demo-count-{uuid.uuid4().hex[:8]}", cluster=cluster)
    try:
        consumer.assign([(topic, 0, 0)])
        count, last_new, deadline = 0, time.monotonic(), time.monotonic() + timeout
        while time.monotonic() - last_new < quiet and time.monotonic() < deadline:
            batch = consumer.get_messages(5000, 0.2)
            if len(batch):
                count += len(batch)
                last_new = time.monotonic()
        return count
    finally:
        consumer.close()
