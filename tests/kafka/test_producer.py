import time

import orjson
import pytest
from django.test import override_settings

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.errors import DeliveryFailed, FlushTimeout, ProduceError
from alarm_backends.core.kafka.producer import KafkaProducer
from tests.kafka.helpers import consumer, drain, make_topic

DOWN = KafkaClusterConfig(hosts=("127.0.0.1:1",))


def read_all(cluster: KafkaClusterConfig, topic: str, partitions: int, expected: int) -> list:
    c = consumer(cluster, f"reader-{topic}")
    c.assign([(topic, p, 0) for p in range(partitions)])
    try:
        return drain(c, expected)
    finally:
        c.close()


def test_values_of_every_supported_type_arrive_encoded_with_key_and_trace_header(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    producer = KafkaProducer(kafka_cluster)
    sent = producer.send_messages(topic_name, b"raw", "text", {"load1": 2.77}, [1, 2],
                                  key="10.0.0.1", headers={"trace-id": "abc123"})
    assert sent == 4
    got = read_all(kafka_cluster, topic_name, 1, 4)
    assert [m.value() for m in got] == [b"raw", b"text", b'{"load1":2.77}', b"[1,2]"]
    assert {m.key() for m in got} == {b"10.0.0.1"}
    assert all(dict(m.headers())["trace-id"] == b"abc123" for m in got)
    assert all(m.timestamp()[1] > 0 for m in got)


def test_put_sends_a_large_list_in_batches_and_returns_once_all_are_acknowledged(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name, partitions=3)
    producer = KafkaProducer(kafka_cluster, default_topic=topic_name)
    assert producer.put([{"i": i} for i in range(2500)]) == 2500
    assert len(producer) == 0  # nothing left in flight
    got = read_all(kafka_cluster, topic_name, 3, 2500)
    assert sorted(orjson.loads(m.value())["i"] for m in got) == list(range(2500))


def test_put_without_a_topic_is_refused() -> None:
    with pytest.raises(ProduceError, match="no topic given"):
        KafkaProducer(DOWN).put({"a": 1})


def test_round_robin_spreads_unkeyed_messages_evenly(kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name, partitions=3)
    KafkaProducer(kafka_cluster, partitioner="round_robin").put([b"x"] * 30, topic=topic_name)
    got = read_all(kafka_cluster, topic_name, 3, 30)
    counts = [sum(1 for m in got if m.partition() == p) for p in range(3)]
    assert counts == [10, 10, 10]


def test_a_custom_partitioner_routes_by_region_and_an_explicit_partition_wins(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name, partitions=3)
    regions = {b"sh": 0, b"gz": 2}

    def by_region(key: bytes | None, value: bytes, partitions: int) -> int:
        return regions[key or b"sh"] % partitions

    producer = KafkaProducer(kafka_cluster, partitioner=by_region)
    producer.send_messages(topic_name, b"a", key="gz")
    producer.send_messages(topic_name, b"b", key="sh")
    producer.send_messages(topic_name, b"c", key="gz", partition=1)
    got = {m.value(): m.partition() for m in read_all(kafka_cluster, topic_name, 3, 3)}
    assert got == {b"a": 2, b"b": 0, b"c": 1}


def test_a_custom_partitioner_returning_nonsense_is_a_clear_error(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name, partitions=2)
    producer = KafkaProducer(kafka_cluster, partitioner=lambda k, v, n: 7)
    with pytest.raises(ProduceError, match=r"custom partitioner returned 7, not a partition in 0..1"):
        producer.send_messages(topic_name, b"x")


def test_an_unsupported_value_type_is_refused_before_sending() -> None:
    with pytest.raises(TypeError, match="cannot send a float"):
        KafkaProducer(DOWN).produce("t", 1.5)  # type: ignore[arg-type]


def test_defaults_are_acks_all_idempotent_and_batched_from_settings_and_overridable(
        kafka_cluster: KafkaClusterConfig) -> None:
    conf = KafkaProducer(kafka_cluster).config
    assert conf["acks"] == "all" and conf["enable.idempotence"] is True
    assert (conf["compression.type"], conf["linger.ms"], conf["batch.size"],
            conf["max.in.flight.requests.per.connection"]) == ("snappy", 20, 16384, 5)
    custom = KafkaProducer(kafka_cluster, config={"linger.ms": 5, "compression.type": "lz4"}).config
    assert (custom["linger.ms"], custom["compression.type"]) == (5, "lz4")


def test_one_long_lived_producer_per_process_and_cluster(kafka_cluster: KafkaClusterConfig) -> None:
    first = KafkaProducer.get_instance(kafka_cluster)
    assert KafkaProducer.get_instance(kafka_cluster) is first
    assert KafkaProducer.get_instance(kafka_cluster, partitioner="round_robin") is not first
    with override_settings(KAFKA_CLUSTER=kafka_cluster):
        assert KafkaProducer.get_instance() is first


def test_a_failed_delivery_raises_a_typed_error_naming_the_topic_and_reason() -> None:
    producer = KafkaProducer(DOWN, config={"message.timeout.ms": 1000})
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as caught:
        producer.send_messages("alerts", b"x", b"y", timeout=10)
    assert time.monotonic() - started < 8
    assert caught.value.topic == "alerts"
    assert len(caught.value.failures) == 2
    assert "timed out" in caught.value.failures[0].reason.lower()
    assert "alerts" in str(caught.value)


def test_flush_is_bounded_and_reports_what_was_not_delivered() -> None:
    producer = KafkaProducer(DOWN, config={"message.timeout.ms": 60000})
    producer.send_messages("alerts", b"1", b"2", b"3", wait=False)
    started = time.monotonic()
    with pytest.raises(FlushTimeout) as caught:
        producer.flush(timeout=0.5)
    assert time.monotonic() - started < 3
    assert caught.value.undelivered == 3
    assert "3 message(s) not delivered within 0.5s" in str(caught.value)
