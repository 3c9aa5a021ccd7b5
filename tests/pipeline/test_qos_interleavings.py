"""Real `run_alert` processes: the same events, delivered minute by minute in two different partition
interleavings (the second with a kill -9 and its replay in between), end with the same blocked alerts
and the same alert log, equal to applying them in one go. A partition that delivers after its minutes
settled is judged in arrival order, as documented (docs/ARCHITECTURE.md, Semantics: QoS)."""
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
from bkmonitor.alerts.qos import is_settled, minute_of
from bkmonitor.models import Alert, AlertLog, Event
from bkmonitor.models.alert import QosMinute
from tests.access.conftest import ROOT, World
from tests.pipeline.test_alert_crash_and_rebalance import event_stream, outcome, wait_for_events
from tests.processes import stop_process

LIMIT = 3
SETTLE = 120
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
           "BKM_ALERT_QOS_PER_MINUTE": str(LIMIT),
           "BKM_ALERT_QOS_SETTLE_SECONDS": str(SETTLE)}
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


def verdicts() -> dict[tuple[str, int, int], bool]:
    """is_blocked per alert, keyed by what identifies it in any run: series, severity and open time."""
    return {(key, severity, t): b for key, severity, t, b
            in Alert.objects.values_list("dedupe_md5", "severity", "open_time", "is_blocked")}


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


def test_a_partition_delivering_after_its_minutes_settled_is_judged_in_arrival_order_and_displaces_nobody(
        world: World) -> None:
    limits = Limits(qos_per_minute=LIMIT, qos_settle=SETTLE)
    events = event_stream(seed=21, hosts=40, minutes=8)
    parts = slices(events, [0, 1, 2])
    # partition 1 lags from its second minute on: its slices arrive after every other partition's
    lagging, since = 1, min(m for m, _, _ in parts) + 1
    late = [s for s in parts if s[1] == lagging and s[0] >= since]
    on_time = [s for s in parts if s not in late]

    apply_events(events, limits=limits)  # every alert applied before its minute settles: by rank
    ranked = verdicts()
    forget()
    # the documented exception, slice after slice in process: what run_alert must reproduce
    for _, _, batch in on_time:
        apply_events(batch, limits=limits)
    admitted_before = {alert for alert, is_blocked in verdicts().items() if not is_blocked}
    clock = max(e["time"] for _, _, batch in on_time for e in batch)
    for _, _, batch in late:
        apply_events(batch, limits=limits)
    expected, arrival = outcome(), verdicts()
    forget()

    settled = {m for m, _, _ in late if is_settled(m, clock, SETTLE)}
    late_series = {e["dedupe_md5"] for _, _, batch in late for e in batch}
    late_alerts = {a for a in arrival if a[0] in late_series and minute_of(a[2]) in settled}
    earlier = {a for a in admitted_before if minute_of(a[2]) in settled}
    # the lagging partition arrives after some of its minutes settled, and that changes verdicts:
    # alerts their rank would admit are blocked, since their minute was full when they arrived ...
    assert {a for a in late_alerts if arrival[a] and ranked[a] is False}
    # ... and no alert admitted in a settled minute before they arrived is displaced by them
    assert earlier and not {a for a in earlier if arrival[a]}
    # each settled minute they open alerts in was full or had room for all of them, so how run_alert
    # cuts the slices into batches cannot change the verdicts
    for minute in settled:
        for severity in (1, 2):
            if any(arrival[a] for a in late_alerts if a[1] == severity and minute_of(a[2]) == minute):
                assert len([a for a in earlier if a[1] == severity and minute_of(a[2]) == minute]) == LIMIT

    assert deliver(world, world.event_topic, f"{world.group}-alert-late", on_time + late) == expected
