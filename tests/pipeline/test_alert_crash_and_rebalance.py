"""Real `run_alert` processes: kill -9 at random points during a replay, and two of them
sharing the event topic through a rebalance. The final alerts and logs must equal those
of an uninterrupted run: no duplicate alert, no lost alert."""
from __future__ import annotations

import random
import subprocess
import sys
import time
from typing import Any

import orjson

from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.service.access.data.index import StrategyIndex
from alarm_backends.service.access.data.processor import AccessProcessor
from alarm_backends.service.access.data.state import PartitionState
from bkmonitor.alerts.builder import apply_events
from bkmonitor.models import Alert, AlertLog, Event
from tests.access.conftest import ROOT, World
from tests.processes import output_of, stop_process
from tests.access.strategies import threshold_strategy

T0 = 1_700_000_040 - 1_700_000_040 % 60


def event_stream(seed: int, hosts: int = 120, minutes: int = 40) -> list[dict[str, Any]]:
    """A realistic mix (anomalies, recovering, recovered, closed) from the real access processor."""
    strategy = threshold_strategy(count=2, check_window=3, extra_levels=[(2, 80)])
    strategy["detects"][0]["recovery_config"] = {"check_window": 2, "status_setter": "recovery"}
    processor = AccessProcessor(StrategyIndex([strategy], {"system.cpu_summary": "metrics"}))
    state = PartitionState(0)
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for m in range(minutes):
        for h in range(hosts):
            value = rng.choice([10, 10, 10, 85, 95, 99])
            raw = orjson.dumps({"time": T0 + m * 60, "dimensions": {"bk_target_ip": f"10.2.0.{h}"},
                                "metrics": {"usage": value}})
            processor.ingest(state, "metrics", raw)
        events.extend(event.fields for event in processor.close_windows(state))
    return events


def outcome() -> tuple[list[tuple], list[tuple]]:
    alerts = sorted(Alert.objects.values_list(
        "dedupe_md5", "begin_time", "status", "severity", "end_time", "first_anomaly_time", "latest_time",
        "event_count", "is_recovering", "close_reason", "recovery_value", "is_blocked", "is_flapping"))
    logs = sorted(AlertLog.objects.values_list("alert__dedupe_md5", "alert__begin_time", "op", "event_id",
                                               "description"))
    return alerts, logs


def reference(events: list[dict[str, Any]]) -> tuple[list[tuple], list[tuple]]:
    for start in range(0, len(events), 400):
        apply_events(events[start:start + 400])
    result = outcome()
    AlertLog.objects.all().delete()
    Event.objects.all().delete()
    Alert.objects.all().delete()
    return result


def produce(world: World, events: list[dict[str, Any]]) -> None:
    producer = KafkaProducer(world.cluster, config={"compression.type": "none"})
    for event in events:
        producer.produce(world.event_topic, orjson.dumps(event), key=event["dedupe_md5"])
    producer.flush(30)


def start_alert(world: World) -> subprocess.Popen[str]:
    env = {**world.process_env(), "BKM_ALERT_GROUP": f"{world.group}-alert", "BKM_ALERT_QOS_PER_MINUTE": "100000"}
    proc = subprocess.Popen([sys.executable, "manage.py", "run_alert"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return world.started(proc, "alert: consuming")


def wait_for_events(count: int, proc: subprocess.Popen[str] | None = None, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while Event.objects.count() < count:
        if proc is not None:
            assert proc.poll() is None, output_of(proc)
        assert time.monotonic() < deadline, f"{Event.objects.count()} of {count} events stored"
        time.sleep(0.05)


def test_kill_9_of_run_alert_at_random_points_leaves_the_same_alerts_and_logs(world: World) -> None:
    events = event_stream(seed=3)
    unique = len({e["event_id"] for e in events})
    expected = reference(events)
    assert len(expected[0]) > 100 and {a[2] for a in expected[0]} >= {"ABNORMAL", "RECOVERED"}
    produce(world, events)
    rng = random.Random(11)
    for _ in range(3):
        proc = start_alert(world)
        stored = Event.objects.count()
        wait_for_events(min(unique, stored + 1), proc)
        time.sleep(rng.uniform(0.0, 0.5))
        proc.kill()  # kill -9, mid-batch or between batches
        proc.wait()
    proc = start_alert(world)
    wait_for_events(unique, proc)
    time.sleep(1.5)  # let the last offsets commit before stopping
    stop_process(proc)
    assert outcome() == expected


def test_two_run_alert_processes_through_a_rebalance_give_the_same_result(world: World) -> None:
    events = event_stream(seed=5)
    unique = len({e["event_id"] for e in events})
    expected = reference(events)
    half = len(events) // 2
    produce(world, events[:half])
    a = start_alert(world)
    wait_for_events(1, a)
    b = start_alert(world)  # joins: partitions move between the two
    produce(world, events[half:])
    wait_for_events(unique)
    out = [stop_process(b), stop_process(a)]
    assert all("alert: stopped after" in o for o in out)
    assert outcome() == expected
