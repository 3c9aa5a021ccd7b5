"""Real `run_alert` processes: the same events, delivered minute by minute in two different partition
interleavings (the second with a kill -9 and its replay in between), end with the same blocked alerts
and the same alert log, equal to applying them in one go."""
from __future__ import annotations

import random
import subprocess
import sys
import time
from collections import defaultdict
from typing import Any

import orjson

from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.kafka.topics import TopicManager
from bkmonitor.alerts.builder import apply_events
from bkmonitor.alerts.lifecycle import Limits
from bkmonitor.models import Alert, AlertLog, Event
from bkmonitor.models.alert import QosMinute
from tests.access.conftest import ROOT, World
from tests.pipeline.test_alert_crash_and_rebalance import event_stream, outcome, wait_for_events
from tests.processes import stop_process

LIMIT = 3
PARTITIONS = 3
Slices = list[tuple[int, int, list[dict[str, Any]]]]  # (minute, partition, its events)


def slices(events: list[dict[str, Any]], partition_order: list[int]) -> Slices:
    """Events grouped by event-time minute, then by partition in the given order: what each partition
    delivers of one minute, one after the other (one series always in one partition)."""
    keys = sorted({e["dedupe_md5"] for e in events})
    partition_of = {key: n % PARTITIONS for n, key in enumerate(keys)}
    grouped: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        grouped[(event["time"] // 60, partition_of[event["dedupe_md5"]])].append(event)
    return [(minute, p, grouped[(minute, p)]) for minute in sorted({m for m, _ in grouped})
            for p in partition_order if grouped[(minute, p)]]


def start_alert(world: World, topic: str, group: str) -> subprocess.Popen[str]:
    env = {**world.process_env(), "BKM_ALARM_EVENT_TOPIC": topic, "BKM_ALERT_GROUP": group,
           "BKM_ALERT_QOS_PER_MINUTE": str(LIMIT)}
    proc = subprocess.Popen([sys.executable, "manage.py", "run_alert"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return world.started(proc, "alert: consuming")


def deliver(world: World, topic: str, group: str, parts: Slices, kill_at: int | None = None
            ) -> tuple[list[tuple], list[tuple]]:
    """Produce slice after slice, each once the previous one is stored, through one run_alert; at
    slice `kill_at` it is killed with SIGKILL while that slice is being applied, and restarted."""
    producer = KafkaProducer(world.cluster, config={"compression.type": "none"})
    proc = start_alert(world, topic, group)
    stored = 0
    for n, (_, partition, events) in enumerate(parts):
        for event in events:
            producer.produce(topic, orjson.dumps(event), key=event["dedupe_md5"], partition=partition)
        producer.flush(30)
        stored += len({e["event_id"] for e in events})
        if n == kill_at:
            time.sleep(random.Random(7).uniform(0.0, 0.3))
            proc.kill()  # kill -9: the slice is replayed from the last committed offset
            proc.wait()
            proc = start_alert(world, topic, group)
        wait_for_events(stored, proc)
    time.sleep(1.5)  # let the last offsets commit before stopping
    assert "alert: stopped after" in stop_process(proc)
    return outcome()


def forget() -> None:
    for model in (AlertLog, Event, Alert, QosMinute):
        model.objects.all().delete()


def test_two_partition_interleavings_and_a_kill_9_end_with_the_same_blocked_alerts_and_log(world: World) -> None:
    events = event_stream(seed=21, hosts=40, minutes=8)
    assert len({e["event_id"] for e in events}) == len(events)
    apply_events(events, limits=Limits(qos_per_minute=LIMIT))
    expected = outcome()
    blocked = [a for a in expected[0] if a[11]]
    assert len(blocked) >= 10 and len(expected[0]) - len(blocked) >= 10
    forget()

    forward = slices(events, [0, 1, 2])
    first = deliver(world, world.event_topic, f"{world.group}-alert-a", forward)
    forget()
    second_topic = f"{world.event_topic}-b"
    TopicManager(world.cluster, timeout=5).create_topic(second_topic, partitions=PARTITIONS)
    backward = slices(events, [2, 1, 0])
    second = deliver(world, second_topic, f"{world.group}-alert-b", backward, kill_at=len(backward) // 2)

    assert first == expected
    assert second == expected
