"""The database (a PostgreSQL of the test's own) stopped for 30 s during a replay into `run_alert`:
the process stays up holding its batch, says it is not ready, and the alerts and logs afterwards
equal those of an uninterrupted run."""
from __future__ import annotations

import time
from typing import Any

import psycopg

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from bkmonitor.models import Alert, AlertLog, Event
from tests.outages.conftest import Postgres, children_killed, database_alias, make_world, migrate
from tests.outages.helpers import count_lines, start_alert
from tests.pipeline.test_alert_crash_and_rebalance import event_stream, produce, reference
from tests.processes import stop_process

OUTAGE = 30.0


def outcome_in(alias: str, url: str) -> tuple[list[tuple], list[tuple]]:
    """tests/pipeline's outcome(), read from the test's own PostgreSQL: the ORM writes the SQL, psycopg
    runs it (the test framework allows this test no Django connection to another database)."""
    def rows(queryset: Any) -> list[tuple]:
        sql, params = queryset.query.get_compiler(alias).as_sql()
        with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
            return sorted(tuple(row) for row in conn.execute(sql, params).fetchall())

    alerts = rows(Alert.objects.using(alias).values_list(
        "dedupe_md5", "begin_time", "status", "severity", "end_time", "first_anomaly_time", "latest_time",
        "event_count", "is_recovering", "close_reason", "recovery_value", "is_blocked", "is_flapping"))
    logs = rows(AlertLog.objects.using(alias).values_list("alert__dedupe_md5", "alert__begin_time", "op",
                                                         "event_id", "description"))
    return alerts, logs


def stored_in(alias: str, url: str) -> int:
    sql, params = Event.objects.using(alias).all().query.get_compiler(alias).as_sql()
    with psycopg.connect(url.replace("postgres://", "postgresql://")) as conn:
        return int(conn.execute(f"SELECT count(*) FROM ({sql}) AS stored", params).fetchone()[0])


def test_run_alert_rides_out_its_database_stopped_for_30_seconds_and_stores_the_same_alerts_and_logs(
        transactional_db: None, kafka_cluster: KafkaClusterConfig, redis_url: str, own_postgres: Postgres) -> None:
    world = make_world(kafka_cluster, redis_url)
    events = event_stream(seed=9, hosts=30, minutes=30)
    unique = len({event["event_id"] for event in events})
    expected = reference(events)
    env = {"DATABASE_URL": own_postgres.url, "BKM_SQLITE_PATH": ""}
    migrate({**world.process_env(), **env})
    alias = database_alias(own_postgres.url)

    def stored() -> int:
        return stored_in(alias, own_postgres.url)

    with children_killed(world):
        half = len(events) // 2
        produce(world, events[:half])
        alert = start_alert(world, **env)
        deadline = time.monotonic() + 60
        while stored() == 0:
            alert.assert_alive()
            assert time.monotonic() < deadline, "no event reached the database"
            time.sleep(0.1)
        own_postgres.stop()
        stopped = time.monotonic()
        produce(world, events[half:])  # consumed into a held batch, or not consumed yet: never lost
        body = alert.wait_not_ready_for("outage", timeout=OUTAGE + 15)
        assert "database" in body["failing"]
        assert alert.gauge("bkm_dependency_up", group=f"{world.group}-alert", dependency="database") == 0
        time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped)))
        alert.assert_alive()
        own_postgres.start()
        restarted = time.monotonic()
        while stored() < unique:
            alert.assert_alive()
            assert time.monotonic() - restarted < 90, f"{stored()} of {unique} events stored"
            time.sleep(0.2)
        caught_up = time.monotonic() - restarted
        assert alert.gauge("bkm_process_degraded", group=f"{world.group}-alert") == 0
        time.sleep(1.5)  # let the last offsets commit before stopping
        out = stop_process(alert.proc)
    down, back = count_lines(out, "database unavailable"), count_lines(out, "database is back after")
    assert down >= 1 and down == back, out  # each outage seen is logged once going down, once coming back
    assert outcome_in(alias, own_postgres.url) == expected
    print(f"database stopped {OUTAGE:.0f}s: caught up {caught_up:.1f}s after it restarted")
