"""librdkafka statistics (producers and consumers) (every statistics.interval.ms) turned into Prometheus
numbers: bytes received and consumer lag per partition, at no per-message cost."""
from __future__ import annotations

import orjson

from alarm_backends.core.kafka.metrics import CONSUMED_BYTES, CONSUMER_LAG, PRODUCED_BYTES


class StatsCollector:
    def __init__(self, group: str) -> None:
        self.group = group
        self._rx_bytes = 0
        self._tx_bytes = 0
        self.last: dict[str, object] = {}

    def __call__(self, raw: str) -> None:
        stats = orjson.loads(raw)
        self.last = stats
        if stats.get("type") == "producer":
            tx = int(stats.get("txmsg_bytes", 0))
            if tx > self._tx_bytes:
                PRODUCED_BYTES.labels(self.group).inc(tx - self._tx_bytes)
            self._tx_bytes = tx
            return
        rx = int(stats.get("rxmsg_bytes", 0))
        if rx > self._rx_bytes:
            CONSUMED_BYTES.labels(self.group).inc(rx - self._rx_bytes)
        self._rx_bytes = rx
        for topic, info in stats.get("topics", {}).items():
            for partition, pstats in info.get("partitions", {}).items():
                lag = pstats.get("consumer_lag", -1)
                if partition != "-1" and lag is not None and lag >= 0:
                    CONSUMER_LAG.labels(self.group, topic, partition).set(lag)
