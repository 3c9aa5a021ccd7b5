"""Event strategy in through the API, custom events in through Kafka, an alert out in the database:
access (event mode) -> internal event topic -> alert builder."""
from __future__ import annotations

import functools
import signal
import subprocess
import sys
from typing import Any

import orjson

from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.storage.redis import get_client
from alarm_backends.service.access.data.runner import AccessRunner, AccessSettings
from alarm_backends.service.access.data.sources import load_strategies, strategy_version
from alarm_backends.service.alert.runner import AlertRunner, AlertSettings
from alarm_backends.service.trigger.event import dedupe_md5
from bkmonitor.models import Alert
from tests.access.conftest import ROOT, World, wait_until
from tests.event_access.strategies import custom_event, event_strategy, message
from tests.kafka.helpers import FAST_JOIN, consumer, drain

T0 = 1_700_000_040 - 1_700_000_040 % 60
DB = [{"key": "module", "method": "eq", "value": ["db"]}]


def api_config(world: World, **kwargs: Any) -> dict[str, Any]:
    config = event_strategy(table=world.table, **kwargs)
    config.pop("id")
    for item in config["items"]:
        item.pop("id")
    return config


def event_runner(world: World) -> AccessRunner:
    """World.runner in event mode: the custom event topics, with the event parser and index."""
    settings = AccessSettings(group_id=world.group, event_topic=world.event_topic, lateness=0,
                              snapshot_interval=0.5, consumer_config=FAST_JOIN, access_type="event")
    return AccessRunner(settings, cluster=world.cluster, redis_client=get_client(world.redis_url),
                        load_strategies=functools.partial(load_strategies, "event"),
                        strategy_version=strategy_version)


def ms(minute: int) -> int:
    return (T0 + minute * 60) * 1000


def produce(world: World, messages: list[tuple[str, bytes]]) -> None:
    producer = KafkaProducer(world.cluster, config={"compression.type": "none"})
    for key, raw in messages:
        producer.produce(world.topic, raw, key=key)
    producer.flush(30)


def events_of(target: str, minutes: list[int], **dimension: Any) -> list[tuple[str, bytes]]:
    # keyed by target: a target's events, and so its series, stay in one partition
    return [(target, message(custom_event(ms(m), target=target, **dimension))) for m in minutes]


def test_custom_events_through_kafka_raise_an_abnormal_alert_with_the_target_as_its_dimension(
        world: World) -> None:
    strategy = world.create_strategy(api_config(world, count=3, check_window=5, conditions=DB))
    produce(world, [("10.0.0.1", b'{"data_id": 1500001, "data": [{"event_name": "disk_full"}]}')]  # no timestamp
            + events_of("10.0.0.1", [0, 2, 4], module="db")
            + events_of("10.0.0.1", [1, 3], module="web")  # fails the condition
            + events_of("10.0.0.2", [0, 1], module="db")  # two of three
            + [(ip, message(custom_event(ms(5), target=ip, name="heartbeat"))) for ip in ("10.0.0.1", "10.0.0.2")])
    access = event_runner(world)
    alerts = AlertRunner(AlertSettings(group_id=f"{world.group}-alert", topics=(world.event_topic,),
                                       consumer_config=FAST_JOIN), cluster=world.cluster)

    def pump() -> None:
        access.step()
        access.checkpoint()
        alerts.step()

    try:
        assert access.index.topics == [world.topic]
        assert load_strategies()[1] == {}  # the metric access group does not read event topics
        assert wait_until(lambda: Alert.objects.exists(), 40, step=pump)
        assert access.invalid == 1
    finally:
        access.close()
        alerts.consumer.close()
    alert = Alert.objects.get()
    dimensions = {"bk_target_ip": "10.0.0.1"}
    assert (alert.status, alert.severity, alert.begin_time - T0, alert.strategy_id) == \
        ("ABNORMAL", 1, 240, strategy["id"])
    assert alert.dimensions == dimensions
    assert alert.dedupe_md5 == dedupe_md5(strategy["id"], 2, "HOST", "10.0.0.1|0", dimensions)
    dead = consumer(world.cluster, f"{world.group}-dlq")
    dead.assign([(f"{world.topic}.dlq", p, 0) for p in range(world.partitions)])
    try:
        [letter] = drain(dead, 1, timeout=10)
    finally:
        dead.close()
    assert b"timestamp" in dict(letter.headers())["dlq-error"]
    assert orjson.loads(letter.value())["data"] == [{"event_name": "disk_full"}]


def test_run_access_type_event_consumes_the_event_topics_as_its_own_group(world: World) -> None:
    world.create_strategy(api_config(world))
    env = {**world.process_env(), "BKM_ACCESS_EVENT_GROUP": f"{world.group}-events"}
    proc = subprocess.Popen([sys.executable, "manage.py", "run_access", "--type", "event"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    started = next((line for line in proc.stdout if line.startswith("access: consuming")), "")
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert started.strip() == f"access: consuming ['{world.topic}'] as group {world.group}-events", started + out
    assert proc.returncode == 0, out
