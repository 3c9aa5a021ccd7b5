"""Key hashing must agree with the Java client (and so kafka-python), or other
producers would put the same series on another partition."""
import pytest
from kafka import KafkaProducer as KafkaPythonProducer
from kafka.partitioner.default import murmur2 as kafka_python_murmur2

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.partitioner import RoundRobin, murmur2, partition_for_key
from alarm_backends.core.kafka.producer import KafkaProducer
from tests.kafka.helpers import consumer, drain, make_topic

# Vectors from Apache Kafka's UtilsTest.testMurmur2.
JAVA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize("key, expected", JAVA_VECTORS.items())
def test_murmur2_matches_the_java_client(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


def test_murmur2_matches_kafka_pythons_for_many_keys() -> None:
    for i in range(500):
        key = f"series-{i}".encode()
        assert murmur2(key) & 0x7FFFFFFF == kafka_python_murmur2(key) & 0x7FFFFFFF


def test_round_robin_cycles_through_partitions_per_topic() -> None:
    rr = RoundRobin()
    assert [rr("a", 3) for _ in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert rr("b", 2) == 0


def test_keyed_messages_land_on_the_partition_kafka_python_chooses(kafka_cluster: KafkaClusterConfig,
                                                                   topic_name: str) -> None:
    ours, theirs = make_topic(kafka_cluster, topic_name, 5), make_topic(kafka_cluster, topic_name + "-kp", 5)
    keys = [f"host-{i}" for i in range(60)]
    producer = KafkaProducer(kafka_cluster)
    for key in keys:
        producer.produce(ours, {"k": key}, key=key)
    producer.flush(10)
    kp = KafkaPythonProducer(bootstrap_servers=kafka_cluster.bootstrap_servers)
    for key in keys:
        kp.send(theirs, key=key.encode(), value=b"x")
    kp.flush(10)
    kp.close()

    c = consumer(kafka_cluster, f"g-{topic_name}")
    c.assign([(t, p, 0) for t in (ours, theirs) for p in range(5)])
    try:
        got = drain(c, 2 * len(keys))
    finally:
        c.close()
    placed = {t: {m.key().decode(): m.partition() for m in got if m.topic() == t} for t in (ours, theirs)}
    assert len(placed[ours]) == len(keys)
    assert placed[ours] == placed[theirs]
    assert placed[ours] == {k: partition_for_key(k.encode(), 5) for k in keys}
    assert len(set(placed[ours].values())) == 5  # the keys really spread
