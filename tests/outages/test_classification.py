"""Which failures a loop rides out (an unreachable service) and which stop it (its work could not be kept)."""
from __future__ import annotations

import threading
from typing import Any

import pytest
import redis
from django.db import connections

from alarm_backends.core.embedded.base import free_loopback_port
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.errors import DeliveryFailed, FlushTimeout, ProduceError
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.resilience import TRANSIENT_ATTEMPTS, Outage, RetryPolicy, dependency_of, is_transient


def test_a_redis_nobody_listens_on_is_an_outage_of_redis() -> None:
    client = redis.Redis(port=free_loopback_port(), socket_connect_timeout=1)
    with pytest.raises(redis.RedisError) as caught:
        client.ping()
    assert dependency_of(caught.value) == "redis"


def test_a_database_nobody_listens_on_is_an_outage_of_the_database(django_db_blocker: Any) -> None:
    import dj_database_url
    from django.db.backends.postgresql.base import DatabaseWrapper

    url = f"postgres://nobody@127.0.0.1:{free_loopback_port()}/none"
    config = connections.configure_settings({"default": dj_database_url.parse(url)})["default"]
    connection = DatabaseWrapper({**config, "OPTIONS": {"connect_timeout": 1}}, alias="unreachable")
    with django_db_blocker.unblock(), pytest.raises(Exception) as caught:
        connection.ensure_connection()
    assert dependency_of(caught.value) == "database"


def test_messages_a_broker_did_not_take_in_time_are_an_outage_but_messages_it_refused_are_not() -> None:
    down = KafkaClusterConfig(hosts=(f"127.0.0.1:{free_loopback_port()}",))
    waiting = KafkaProducer(down, config={"message.timeout.ms": 0})
    waiting.produce("t", b"x")
    with pytest.raises(FlushTimeout) as timed_out:
        waiting.flush(1)
    assert dependency_of(timed_out.value) == "kafka"  # still queued: retrying the flush loses nothing

    giving_up = KafkaProducer(down, config={"message.timeout.ms": 1000})
    giving_up.produce("t", b"x")
    with pytest.raises(DeliveryFailed) as dropped:
        giving_up.flush(5)
    assert dependency_of(dropped.value) is None  # gone from the queue: no retry brings it back

    too_big = KafkaProducer(down, config={"message.max.bytes": 1000})
    with pytest.raises(ProduceError) as refused:
        too_big.produce("t", b"x" * 2000)
    assert dependency_of(refused.value) is None


def test_a_retry_cap_below_the_first_delay_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"retry cap \(1.0s\) is below the first retry delay \(2.0s\)"):
        RetryPolicy(initial=2.0, maximum=1.0)


# Real errors from real databases, and what a loop must do with each: ride it out ("database"), retry it
# a few times without reporting anything down (transient), or stop on it (neither: it would fail alike
# on every retry, and holding the batch for ever would hide a bug behind a false outage).
def sqlite_locked(tmp_path: Any) -> BaseException:
    import sqlite3

    path = str(tmp_path / "locked.sqlite3")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        return _django_error(lambda: sqlite3.connect(path, timeout=0).execute("INSERT INTO t VALUES (1)"))
    finally:
        holder.execute("ROLLBACK")


def sqlite_too_many_terms(tmp_path: Any) -> BaseException:
    import sqlite3

    query = "SELECT 1 WHERE " + " OR ".join(["(1 = 2 AND 2 = 3)"] * 5000)
    return _django_error(lambda: sqlite3.connect(":memory:").execute(query))


def sqlite_unopenable(tmp_path: Any) -> BaseException:
    import sqlite3

    return _django_error(lambda: sqlite3.connect(str(tmp_path / "no" / "such" / "dir.sqlite3")))


def postgres_statement_timeout(tmp_path: Any) -> BaseException:
    import psycopg

    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3) as conn:
            conn.execute("SET statement_timeout = 50")
            return _django_error(lambda: conn.execute("SELECT pg_sleep(2)"))
    except psycopg.OperationalError as exc:
        if "statement timeout" in str(exc):
            raise
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432: {exc}")


def postgres_unreachable(tmp_path: Any) -> BaseException:
    import psycopg

    return _django_error(lambda: psycopg.connect(f"postgresql://x@127.0.0.1:{free_loopback_port()}/x",
                                                 connect_timeout=2))


def _django_error(call: Any) -> BaseException:
    """The driver's error as Django raises it: its own class, the driver's as the cause."""
    from django.db import DatabaseError
    from django.db.utils import DatabaseErrorWrapper

    try:
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - wrapped below as Django wraps it
            driver_module = __import__(type(exc).__module__.split(".")[0])
            wrapper = DatabaseErrorWrapper(type("W", (), {"Database": driver_module})())
            with wrapper:
                raise
    except DatabaseError as exc:
        return exc
    raise AssertionError("the call did not fail")


@pytest.mark.parametrize("make, dependency, transient", [
    (sqlite_locked, None, True),
    (sqlite_too_many_terms, None, False),
    (sqlite_unopenable, "database", False),
    (postgres_statement_timeout, None, False),
    (postgres_unreachable, "database", False),
], ids=lambda value: getattr(value, "__name__", None))
def test_a_database_error_is_an_outage_only_when_the_database_cannot_be_reached(
        make: Any, dependency: str | None, transient: bool, tmp_path: Any) -> None:
    exc = make(tmp_path)
    assert type(exc).__module__ == "django.db.utils"
    assert (dependency_of(exc), is_transient(exc)) == (dependency, transient), f"{type(exc.__cause__)}: {exc}"


def test_an_error_that_fails_alike_on_every_retry_stops_the_hold_at_once_and_reports_nothing_down(
        tmp_path: Any) -> None:
    exc, calls = sqlite_too_many_terms(tmp_path), []
    outage = Outage("classification-test", ("database",), RetryPolicy(initial=0.01, maximum=0.02))

    def attempt() -> None:
        calls.append(1)
        raise exc

    with pytest.raises(type(exc)):
        outage.hold(attempt, threading.Event())
    assert (len(calls), outage.down(), outage.outages) == (1, [], 0)


def test_a_locked_database_is_retried_a_few_times_then_stops_without_reporting_an_outage(tmp_path: Any) -> None:
    exc, calls = sqlite_locked(tmp_path), []
    outage = Outage("classification-test-2", ("database",), RetryPolicy(initial=0.01, maximum=0.02, jitter=0))

    def attempt() -> None:
        calls.append(1)
        raise exc

    with pytest.raises(type(exc)):
        outage.hold(attempt, threading.Event())
    assert (len(calls), outage.outages) == (1 + TRANSIENT_ATTEMPTS, 0)
