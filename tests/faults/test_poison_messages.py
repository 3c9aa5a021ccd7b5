"""Messages that once made a consumer crash-loop (issue 12): each is dead-lettered with its reason,
the partition moves on, and the data after it still raises its alert. Real broker, real runners."""
from __future__ import annotations

import hashlib
import time
import uuid

import orjson
from confluent_kafka import Message

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.dlq import (
    DEFAULT_MAX_BYTES,
    H_DIGEST,
    H_ERROR,
    H_LENGTH,
    H_OFFSET,
    H_TRUNCATED,
    DeadLetterPolicy,
    DeadLetterQueue,
)
from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.service.alert.runner import AlertRunner, AlertSettings
from bkmonitor.models import Alert
from tests.access.conftest import World, wait_until
from tests.access.test_access_e2e import api_config, metric
from tests.alerts.conftest import make_event
from tests.faults.inputs import MB, POISON_METRICS, T0, YEAR_2100
from tests.kafka.helpers import FAST_JOIN, consumer, drain, make_topic

# a test producer allowed to send what a careless producer sends (the broker takes it)
LARGE = {"compression.type": "none", "message.max.bytes": 10 * MB}


def produce(cluster: KafkaClusterConfig, topic: str, messages: list[tuple[str, bytes]]) -> None:
    producer = KafkaProducer(cluster, config=LARGE)
    for key, value in messages:
        producer.produce(topic, value, key=key)
    producer.flush(60)


def dead_letters(cluster: KafkaClusterConfig, topic: str, expected: int) -> list[Message]:
    reader = consumer(cluster, f"dlq-reader-{uuid.uuid4().hex[:6]}", [f"{topic}.dlq"])
    try:
        return sorted(drain(reader, expected, timeout=30), key=lambda m: int(dict(m.headers())[H_OFFSET]))
    finally:
        reader.close()


def assert_cut_to_fit(letter: Message, original: bytes) -> None:
    headers = dict(letter.headers())
    size = len(letter.value()) + len(letter.key() or b"") + sum(len(k) + len(v) for k, v in headers.items())
    assert size < DEFAULT_MAX_BYTES
    assert headers[H_TRUNCATED] == b"value"
    assert int(headers[H_LENGTH]) == len(original)
    assert headers[H_DIGEST] == hashlib.sha256(original).hexdigest().encode()
    assert original.startswith(letter.value())


def test_every_kind_of_poison_metric_is_dead_lettered_with_its_reason_and_the_series_still_alerts(
        world: World) -> None:
    world.create_strategy(api_config(world, count=1, check_window=1))
    # all on the series' own key, so in its partition: a far-future point there would make T0 late
    produce(world.cluster, world.topic, [("10.0.0.1", raw) for raw, _reason in POISON_METRICS.values()])
    world.produce([metric(T0, 95, "10.0.0.1"), metric(T0 + 60, 1, "10.0.0.1")])
    runner = world.runner()
    try:
        assert wait_until(lambda: runner.events >= 1, 60, step=runner.step)
        runner.checkpoint()
    finally:
        runner.close()
    assert runner.invalid == len(POISON_METRICS)
    assert [e["time"] for e in world.read_events(1) if e["event_type"] == "anomaly"] == [T0]
    letters = dead_letters(world.cluster, world.topic, len(POISON_METRICS))
    for letter, (kind, (raw, reason)) in zip(letters, POISON_METRICS.items(), strict=True):
        assert reason.encode() in dict(letter.headers())[H_ERROR], kind
        if len(raw) >= MB:
            assert_cut_to_fit(letter, raw)
        else:
            assert letter.value() == raw, kind


def test_a_metric_whose_target_the_alert_stage_would_refuse_is_refused_by_access_and_a_long_one_that_fits_alerts(
        world: World) -> None:
    world.create_strategy(api_config(world, count=1, check_window=1))
    fits = "1" * 253  # "<ip>|0": exactly 255 characters
    produce(world.cluster, world.topic, [
        ("long", orjson.dumps({"time": T0, "dimensions": {"bk_target_ip": "1" * 254, "bk_target_cloud_id": "0"},
                               "metrics": {"usage": 95}})),
    ])
    world.produce([metric(T0, 95, fits), metric(T0 + 60, 1, fits)])
    runner = world.runner()
    alerts = AlertRunner(AlertSettings(group_id=f"{world.group}-alert", topics=(world.event_topic,),
                                       consumer_config=FAST_JOIN), cluster=world.cluster)
    try:
        assert wait_until(lambda: Alert.objects.exists() and runner.messages >= 3, 60,
                          step=lambda: (runner.step(), runner.checkpoint(), alerts.step()))
    finally:
        runner.close()
        alerts.consumer.close()
    assert runner.invalid == 1 and alerts.invalid == 0
    assert Alert.objects.get().target == f"{fits}|0"
    [letter] = dead_letters(world.cluster, world.topic, 1)
    assert b"at most 255 characters" in dict(letter.headers())[H_ERROR]


def _poison_events() -> dict[str, tuple[bytes, str]]:
    good = make_event(T0, key="poison")
    return {
        "not UTF-8": (orjson.dumps({**good, "alert_name": "CPU"}).replace(b'"CPU"', b'"C\xffU"'), "not JSON"),
        "year 2100": (orjson.dumps({**good, "time": YEAR_2100, "anomaly_time": YEAR_2100}), "ahead of the wall clock"),
        "an hour ahead": (orjson.dumps({**good, "time": int(time.time()) + 3600}), "ahead of the wall clock"),
        "id beyond int64": (orjson.dumps(good).replace(b'"strategy_id":1', b'"strategy_id":%d' % 2**70),
                            "strategy_id: must be between"),
        "300-character target": (orjson.dumps({**good, "target": "1" * 300}), "target: at most 255 characters"),
        "5 MB invalid": (orjson.dumps({**good, "severity": 7, "origin_data": {"pad": "x" * 5 * MB}}),
                         "severity: must be one of"),
    }


def test_every_kind_of_poison_event_is_dead_lettered_and_the_alert_consumer_keeps_building(
        world: World, kafka_cluster: KafkaClusterConfig) -> None:
    poison = _poison_events()
    produce(kafka_cluster, world.event_topic, [("k", raw) for raw, _reason in poison.values()])
    produce(kafka_cluster, world.event_topic, [("k", orjson.dumps(make_event(T0, key="good")))])
    alerts = AlertRunner(AlertSettings(group_id=f"{world.group}-alert", topics=(world.event_topic,),
                                       consumer_config=FAST_JOIN), cluster=kafka_cluster)
    try:
        assert wait_until(lambda: alerts.messages >= len(poison) + 1, 60, step=alerts.step)
    finally:
        alerts.consumer.close()
    assert alerts.invalid == len(poison)
    assert list(Alert.objects.values_list("dedupe_md5", flat=True)) == ["good"]
    letters = dead_letters(kafka_cluster, world.event_topic, len(poison))
    for letter, (kind, (raw, reason)) in zip(letters, poison.items(), strict=True):
        assert reason.encode() in dict(letter.headers())[H_ERROR], kind
        if len(raw) >= MB:
            assert_cut_to_fit(letter, raw)
        else:
            assert letter.value() == raw, kind




def test_a_dead_letter_with_a_huge_key_and_headers_keeps_its_origin_and_error_and_says_what_was_cut(
        kafka_cluster: KafkaClusterConfig, topic_name: str) -> None:
    make_topic(kafka_cluster, topic_name)
    key, value = b"k" * 300_000, b"v" * 2 * MB
    producer = KafkaProducer(kafka_cluster, config=LARGE)
    producer.produce(topic_name, value, key=key, headers=[("trace", b"t" * 400_000)])
    producer.flush(30)
    source = consumer(kafka_cluster, f"g-{topic_name}", [topic_name])
    try:
        [message] = drain(source, 1)
        dlq = DeadLetterQueue(KafkaProducer.get_instance(kafka_cluster), DeadLetterPolicy())
        dlq.send(message, InvalidMessage("not a metric"))
        dlq.flush(30)
    finally:
        source.close()
    [letter] = dead_letters(kafka_cluster, topic_name, 1)
    headers = dict(letter.headers())
    assert headers[H_TRUNCATED] == b"key,value,headers" and "trace" not in headers
    assert headers[H_ERROR] == b"not a metric" and headers[H_OFFSET] == b"0"
    assert key.startswith(letter.key()) and value.startswith(letter.value())
    assert headers[H_DIGEST] == hashlib.sha256(value).hexdigest().encode() and int(headers[H_LENGTH]) == len(value)
    assert len(letter.key()) + len(letter.value()) < DEFAULT_MAX_BYTES
