from prometheus_client import REGISTRY

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.producer import KafkaProducer
from tests.kafka.helpers import consumer, drain, make_topic, wait_for


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_producer_and_consumer_counters_and_lag_are_exported(kafka_cluster: KafkaClusterConfig,
                                                             topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    group = f"g-{topic_name}"
    KafkaProducer(kafka_cluster).put([b"m"] * 10, topic=topic_name)
    assert sample("bkm_kafka_produced_messages_total", topic=topic_name) == 10

    c = consumer(kafka_cluster, group, [topic_name], config={"statistics.interval.ms": 100})
    try:
        drain(c, 10)
        c.commit()
        assert sample("bkm_kafka_consumed_messages_total", group=group) == 10
        assert sample("bkm_kafka_commits_total", group=group, result="ok") >= 1
        assert sample("bkm_kafka_rebalances_total", group=group, kind="assign") == 1
        assert wait_for(lambda: sample("bkm_kafka_consumed_bytes_total", group=group) > 0,
                        poll=lambda: c.get_messages(1, 0.1))
        assert wait_for(lambda: REGISTRY.get_sample_value(
            "bkm_kafka_consumer_lag", {"group": group, "topic": topic_name, "partition": "0"}) is not None,
            poll=lambda: c.get_messages(1, 0.1))
    finally:
        c.close()
