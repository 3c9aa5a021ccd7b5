"""Prometheus counters for producers and consumers (scraped from any process
that serves prometheus_client's registry)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

PRODUCED_MESSAGES = Counter("bkm_kafka_produced_messages", "Messages handed to the producer", ["topic"])
PRODUCED_BYTES = Counter("bkm_kafka_produced_bytes", "Bytes sent to brokers (librdkafka stats)", ["client"])
PRODUCE_ERRORS = Counter("bkm_kafka_produce_errors", "Messages the broker did not acknowledge", ["topic"])

CONSUMED_MESSAGES = Counter("bkm_kafka_consumed_messages", "Messages returned to the caller", ["group"])
CONSUMED_BYTES = Counter("bkm_kafka_consumed_bytes", "Bytes received from brokers (librdkafka stats)", ["group"])
CONSUME_ERRORS = Counter("bkm_kafka_consume_errors", "Consumer errors reported by the client", ["group"])
DEAD_LETTERED = Counter("bkm_kafka_dead_lettered", "Messages sent to a dead-letter topic", ["group", "topic"])
COMMITS = Counter("bkm_kafka_commits", "Offset commits issued", ["group", "result"])
REBALANCES = Counter("bkm_kafka_rebalances", "Partition assignment changes", ["group", "kind"])
CONSUMER_LAG = Gauge("bkm_kafka_consumer_lag", "Messages behind the high watermark", ["group", "topic", "partition"])
