"""The broker paused (SIGSTOP) for 30 s during a replay through `run_access` and `run_alert`: both
stay up, say they are not ready, resume by themselves, and the alerts and logs afterwards equal
those of an uninterrupted run."""
from __future__ import annotations

import os
import signal
import time

from alarm_backends.core.embedded import EmbeddedKafkaBroker
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.producer import KafkaProducer
from bkmonitor.models import Event
from tests.access.test_access_crash_and_rebalance import expected_events, workload
from tests.access.test_access_e2e import api_config
from tests.outages.conftest import children_killed, make_world
from tests.outages.helpers import count_lines, start_access, start_alert
from tests.pipeline.test_alert_crash_and_rebalance import outcome, reference
from tests.processes import stop_process

PAUSE = 30.0


def test_a_broker_paused_for_30_seconds_mid_replay_stops_no_process_and_changes_no_alert(
        transactional_db: None, own_broker: EmbeddedKafkaBroker, redis_url: str) -> None:
    world = make_world(KafkaClusterConfig(hosts=(own_broker.bootstrap_servers,)), redis_url, partitions=2)
    with children_killed(world):
        config = api_config(world, count=2, check_window=3)
        config["detects"][0]["recovery_config"] = {"check_window": 2, "status_setter": "recovery"}
        world.create_strategy(config)
        first, second = workload(3, hosts=30, minutes=20), workload(4, hosts=30, minutes=20, first_minute=20)
        events = list(expected_events(world, first + second).values())
        expected = reference(events)
        assert {alert[2] for alert in expected[0]} >= {"ABNORMAL", "RECOVERED"}

        world.produce(first)
        access, alert = start_access(world), start_alert(world)
        deadline = time.monotonic() + 60
        while not Event.objects.exists():
            access.assert_alive(), alert.assert_alive()
            assert time.monotonic() < deadline, "no event reached the database"
            time.sleep(0.1)

        os.kill(own_broker.pid, signal.SIGSTOP)
        paused = time.monotonic()
        late = KafkaProducer(world.cluster, config={"compression.type": "none", "message.timeout.ms": 0})
        for key, message in second:  # queued in the producer: delivered once the broker answers again
            late.produce(world.topic, message, key=key)
        body = access.wait_not_ready_for("outage", timeout=PAUSE + 15)
        assert "kafka" in body["failing"]
        assert access.gauge("bkm_process_degraded", group=world.group) == 1
        time.sleep(max(0.0, PAUSE - (time.monotonic() - paused)))
        access.assert_alive(), alert.assert_alive()
        os.kill(own_broker.pid, signal.SIGCONT)
        resumed = time.monotonic()

        late.flush(60)
        unique = len({event["event_id"] for event in events})
        while Event.objects.count() < unique:
            access.assert_alive(), alert.assert_alive()
            assert time.monotonic() - resumed < 120, f"{Event.objects.count()} of {unique} events stored"
            time.sleep(0.1)
        caught_up = time.monotonic() - resumed
        assert access.gauge("bkm_process_degraded", group=world.group) == 0
        time.sleep(1.5)  # let the last offsets commit before stopping
        out = [stop_process(access.proc), stop_process(alert.proc)]
    down, back = count_lines(out[0], "kafka unavailable"), count_lines(out[0], "kafka is back after")
    assert down >= 1 and down == back, out[0]  # each outage seen is logged once going down, once coming back
    assert outcome() == expected
    print(f"broker paused {PAUSE:.0f}s: caught up {caught_up:.1f}s after it resumed")
