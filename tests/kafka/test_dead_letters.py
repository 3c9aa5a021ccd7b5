import pytest
from confluent_kafka import Message

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.dlq import DeadLetterPolicy, DeadLetterQueue
from alarm_backends.core.kafka.errors import DeadLetterLimitExceeded, InvalidMessage, RetryableError
from alarm_backends.core.kafka.offsets import OffsetManager
from alarm_backends.core.kafka.processing import StreamProcessor
from alarm_backends.core.kafka.producer import KafkaProducer
from tests.kafka.helpers import consumer, drain, make_topic


def parse(message: Message) -> None:
    if message.value().startswith(b"bad"):
        raise InvalidMessage(f"not a metric: {message.value()[:10]!r}")


def test_a_poison_message_goes_to_the_dead_letter_topic_with_its_origin_and_the_partition_keeps_flowing(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    KafkaProducer(kafka_cluster).send_messages(topic_name, b"ok-1", b"bad-1", b"ok-2", b"ok-3",
                                               key="k", headers={"trace-id": "t9"})
    group = f"g-{topic_name}"
    handled: list[bytes] = []

    def handler(message: Message) -> None:
        parse(message)
        handled.append(message.value())

    c = consumer(kafka_cluster, group, [topic_name])
    dlq = DeadLetterQueue(KafkaProducer(kafka_cluster), DeadLetterPolicy(min_messages=1000))
    processor = StreamProcessor(c, handler, dlq)
    try:
        while processor.processed < 4:
            processor.run_once()
    finally:
        c.close()
    assert handled == [b"ok-1", b"ok-2", b"ok-3"]
    assert OffsetManager(group, topic_name, kafka_cluster).get_offset() == {0: 4}

    reader = consumer(kafka_cluster, f"r-{topic_name}", [f"{topic_name}.dlq"])
    try:
        [dead] = drain(reader, 1)
    finally:
        reader.close()
    headers = dict(dead.headers())
    assert dead.value() == b"bad-1" and dead.key() == b"k"
    assert headers["dlq-origin-topic"] == topic_name.encode()
    assert headers["dlq-origin-partition"] == b"0"
    assert headers["dlq-origin-offset"] == b"1"
    assert b"not a metric" in headers["dlq-error"]
    assert headers["trace-id"] == b"t9"  # the original headers travel with it


def test_too_many_bad_messages_stop_the_consumer_instead_of_dead_lettering_everything(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    KafkaProducer(kafka_cluster).put([b"ok"] * 5 + [b"bad"] * 20, topic=topic_name)
    group = f"g-{topic_name}"
    c = consumer(kafka_cluster, group, [topic_name])
    policy = DeadLetterPolicy(max_invalid_ratio=0.5, min_messages=10, window=100)
    processor = StreamProcessor(c, parse, DeadLetterQueue(KafkaProducer(kafka_cluster), policy), batch_size=1)
    try:
        with pytest.raises(DeadLetterLimitExceeded, match=r"of the last \d+ messages were invalid"):
            for _ in range(200):
                processor.run_once()
    finally:
        c.close()
    committed = OffsetManager(group, topic_name, kafka_cluster).get_offset()[0]
    assert committed is not None and 5 <= committed < 25  # stopped, and the rest stays unconsumed


def test_a_transient_failure_is_retried_and_then_processed_once(kafka_cluster: KafkaClusterConfig,
                                                               topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    KafkaProducer(kafka_cluster).send_messages(topic_name, b"a", b"b")
    failures = {"b": 2}
    handled: list[bytes] = []

    def flaky(message: Message) -> None:
        name = message.value().decode()
        if failures.get(name):
            failures[name] -= 1
            raise RetryableError("database busy")
        handled.append(message.value())

    c = consumer(kafka_cluster, f"g-{topic_name}", [topic_name])
    processor = StreamProcessor(c, flaky, retry_backoff=0.01)
    try:
        while processor.processed < 2:
            processor.run_once()
    finally:
        c.close()
    assert handled == [b"a", b"b"]


def test_a_handler_crash_commits_the_processed_prefix_and_redelivers_the_rest(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    KafkaProducer(kafka_cluster).send_messages(topic_name, b"1", b"2", b"boom", b"4")
    group = f"g-{topic_name}"

    def handler(message: Message) -> None:
        if message.value() == b"boom":
            raise RuntimeError("bug")

    c = consumer(kafka_cluster, group, [topic_name])
    processor = StreamProcessor(c, handler)
    with pytest.raises(RuntimeError, match="bug"):
        while True:
            processor.run_once()
    c.close()
    assert OffsetManager(group, topic_name, kafka_cluster).get_offset() == {0: 2}


def test_the_limit_judges_each_batch_with_its_valid_messages_whatever_their_order(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    dlq = DeadLetterQueue(KafkaProducer(kafka_cluster), DeadLetterPolicy(max_invalid_ratio=0.2, min_messages=100))
    KafkaProducer(kafka_cluster).put([b"bad"] * 30 + [b"ok"] * 90, topic=topic_name)
    c = consumer(kafka_cluster, f"g-{topic_name}")
    c.assign([(topic_name, 0, 0)])
    try:
        messages = drain(c, 120, mark=False)
    finally:
        c.close()
    bad = [(m, InvalidMessage("bad")) for m in messages if m.value() == b"bad"]
    # 30 bad of 120 (25% > 20%), the bad ones first: counted after the batch's valid ones, it trips
    with pytest.raises(DeadLetterLimitExceeded):
        dlq.settle(len(messages), bad)


def test_a_batch_under_the_limit_is_dead_lettered_in_full(kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    dlq = DeadLetterQueue(KafkaProducer(kafka_cluster), DeadLetterPolicy(max_invalid_ratio=0.2, min_messages=100))
    KafkaProducer(kafka_cluster).put([b"bad"] * 15 + [b"ok"] * 105, topic=topic_name)
    c = consumer(kafka_cluster, f"g-{topic_name}")
    c.assign([(topic_name, 0, 0)])
    try:
        messages = drain(c, 120, mark=False)
    finally:
        c.close()
    dlq.settle(len(messages), [(m, InvalidMessage("bad")) for m in messages if m.value() == b"bad"])
    dlq.flush()
    assert dlq.sent == 15
