"""Riding out an outage of the broker, Redis or the database inside a long-running loop.

A consumer loop that exits on the first `ConnectionError` loses nothing (its
uncommitted work is replayed), but without a supervisor the pipeline stops, and
with one it crash-loops until the service is back. Instead the loop holds what
it has not committed and retries the step that failed with capped exponential
backoff and jitter until the service answers again (`Outage.hold`); a call in
the middle of work that cannot be put down half-done (a Redis look-back while a
batch is being applied) is retried in place (`Outage.call`).

Which exceptions are an outage is decided here: of the infrastructure errors
(core/faults.py: never a message's fault, never dead-lettered), those a
dependency raises when it cannot be reached or does not answer in time. A
database that answered with an error (a statement timeout, a query too large)
would answer the same on every retry: not an outage. A conflict with another
transaction (deadlock, serialization failure, a locked SQLite) is retried a few
times without reporting anything down. Anything else (a message's fault, a bug,
a loss the retry cannot undo: the producer gave up on a message,
`DeliveryFailed`) stops the loop, saying why, because its work can no longer be
kept safe.

`Outage` is what one loop knows: which dependency is down, since when, how
many attempts; it logs once per change of state (never per attempt), sets the
`bkm_dependency_up` and `bkm_process_degraded` gauges, and is a readiness
probe (`/-/ready` says `outage` is failing while the loop holds its work).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
import tenacity
from confluent_kafka import KafkaError, KafkaException
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from prometheus_client import Gauge

from alarm_backends.core.faults import INFRASTRUCTURE_ERRORS
from alarm_backends.core.kafka.errors import BrokerUnavailable, CommitFailed, FlushTimeout, ProducerQueueFull
from alarm_backends.core.observability.health import Check
from alarm_backends.core.observability.metrics import DEPENDENCY_UP, OUTAGES, PROCESS_DEGRADED

logger = logging.getLogger("alarm_backends.resilience")

T = TypeVar("T")
KAFKA, REDIS, DATABASE = "kafka", "redis", "database"

# librdkafka codes that mean "the cluster did not answer", not "the request was wrong"
_KAFKA_TRANSIENT = frozenset({
    KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT, KafkaError._RESOLVE,
    KafkaError._WAIT_COORD, KafkaError.REQUEST_TIMED_OUT, KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.NETWORK_EXCEPTION, KafkaError.LEADER_NOT_AVAILABLE, KafkaError.NOT_LEADER_FOR_PARTITION,
})


# PostgreSQL SQLSTATEs of a server that cannot be reached or is going away (class 08: connection
# exception; 57P01-57P03: shutting down / starting up; 53300: too many connections). Anything else the
# server answered with (a statement timeout 57014, "too many SQL variables", a constraint) fails the same
# way on every retry: it is not an outage, and riding it out would hold the batch for ever.
_PG_OUTAGE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300")
_PG_TRANSIENT = frozenset({"40P01", "40001"})  # deadlock, serialization failure: another attempt may pass
_SQLITE_OUTAGE = frozenset({"SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL"})
_SQLITE_TRANSIENT = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED"})  # "database is locked": another writer
_MYSQL_OUTAGE = frozenset({1040, 1053, 2002, 2003, 2005, 2006, 2013, 2055})
_MYSQL_TRANSIENT = frozenset({1205, 1213})  # lock wait timeout, deadlock
TRANSIENT_ATTEMPTS = 5  # retries of a conflict; one that persists this long is not one: the loop stops on it


def dependency_of(exc: BaseException) -> str | None:
    """The dependency whose outage raised `exc` (looking through its causes), or None when it is
    not an outage: a bad message, a bug, a conflict (see `is_transient`), or a loss that retrying
    cannot undo. Only infrastructure errors (core/faults.py) can be outages."""
    for current in _chain(exc):
        found = _direct(current)
        if found is not None:
            return found or None
    return None


def is_transient(exc: BaseException) -> bool:
    """A conflict with another transaction (deadlock, serialization failure, a locked SQLite): worth a
    few more attempts, but no dependency is down."""
    return any(_database_fault(current) == "transient" for current in _chain(exc)
               if isinstance(current, (OperationalError, InterfaceError)))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not other for other in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _direct(exc: BaseException) -> str | None:
    """The dependency, "" for "decided: not an outage", None for "look at the cause"."""
    if isinstance(exc, CommitFailed) and exc.__cause__ is not None:
        return None  # the client's error it wraps says whether the broker is away
    if isinstance(exc, (BrokerUnavailable, FlushTimeout, ProducerQueueFull, CommitFailed)):
        # FlushTimeout: the messages are still queued and librdkafka keeps sending them; retrying the
        # flush loses nothing. (DeliveryFailed is not here: those messages are gone from the queue.)
        return KAFKA
    if not isinstance(exc, INFRASTRUCTURE_ERRORS):
        return None
    if isinstance(exc, KafkaException):
        error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        if error is not None and not error.fatal() and (error.retriable() or error.code() in _KAFKA_TRANSIENT):
            return KAFKA
        return ""
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return REDIS
    if isinstance(exc, (OperationalError, InterfaceError)):
        return DATABASE if _database_fault(exc) == "outage" else ""
    return None


def _database_fault(exc: BaseException) -> str:
    """"outage", "transient" or "fatal", from the driver's error that Django's wraps."""
    if isinstance(exc, InterfaceError):
        return "outage"  # Django's "connection already closed"; psycopg's own: the connection broke
    driver = exc.__cause__ if exc.__cause__ is not None else exc
    sqlstate = getattr(driver, "sqlstate", None) or getattr(driver, "pgcode", None)
    if sqlstate is not None:
        if sqlstate in _PG_TRANSIENT:
            return "transient"
        return "outage" if sqlstate.startswith(_PG_OUTAGE_PREFIXES) else "fatal"
    name = getattr(driver, "sqlite_errorname", None)
    if name is not None:
        base = "_".join(name.split("_")[:2])  # SQLITE_BUSY_SNAPSHOT is a SQLITE_BUSY
        if base in _SQLITE_TRANSIENT:
            return "transient"
        return "outage" if base in _SQLITE_OUTAGE else "fatal"
    code = driver.args[0] if driver.args and isinstance(driver.args[0], int) else None
    if code is not None and type(driver).__module__.startswith(("MySQLdb", "pymysql")):
        return "transient" if code in _MYSQL_TRANSIENT else "outage" if code in _MYSQL_OUTAGE else "fatal"
    # no code: psycopg could not connect (no server answered) or the connection broke mid-query
    return "outage" if type(driver).__module__.startswith("psycopg") else "fatal"


class Stopped(Exception):
    """A hold ended by the stop event before the service came back: the work in hand is not complete."""


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter: the first retry after `initial` seconds, then doubling
    up to `maximum`, each plus up to `jitter` seconds so that many processes do not retry in step."""

    initial: float = 0.5
    maximum: float = 30.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.initial <= 0:
            raise ValueError(f"the first retry delay must be positive, got {self.initial}")
        if self.maximum < self.initial:
            raise ValueError(f"the retry cap ({self.maximum}s) is below the first retry delay ({self.initial}s)")
        if self.jitter < 0:
            raise ValueError(f"jitter must be >= 0, got {self.jitter}")

    @classmethod
    def from_settings(cls) -> RetryPolicy:
        try:
            return cls(float(settings.OUTAGE_RETRY_INITIAL_SECONDS), float(settings.OUTAGE_RETRY_MAX_SECONDS))
        except ValueError as exc:
            raise ValueError(f"BKM_OUTAGE_RETRY_INITIAL / BKM_OUTAGE_RETRY_MAX: {exc}") from None

    def wait(self) -> tenacity.wait.wait_base:
        return tenacity.wait_exponential_jitter(multiplier=self.initial, max=self.maximum, jitter=self.jitter)


# The consumers' producer never gives up on a message: a broker outage longer than librdkafka's
# message.timeout.ms would otherwise drop events whose effects are already in the loop's state, and
# only a restart could replay them. Held instead, they are delivered when the broker is back; until
# then the checkpoint's flush times out (FlushTimeout: an outage) and nothing is committed. A full local
# queue waits for room (stop-aware: the runner sets `producer.stop`) rather than fail a batch half-way.
HOLDING_PRODUCER: dict[str, Any] = {"config": {"message.timeout.ms": 0}, "queue_full_timeout": None}


def reset_connections(dependency: str) -> None:
    """Before retrying: a database connection that broke stays broken until it is closed
    (Django reconnects lazily on the next query); the Kafka and Redis clients reconnect by themselves."""
    if dependency == DATABASE:
        connections.close_all()


class Outage:
    """The outages one loop (one consumer group) is riding out, as state, log lines, gauges and a probe."""

    def __init__(self, group: str, dependencies: Iterable[str], policy: RetryPolicy | None = None,
                 name: str = "outage") -> None:
        self.group = group
        self.name = name
        self.policy = policy or RetryPolicy()
        self._down: dict[str, tuple[float, str]] = {}  # dependency -> (monotonic since, why)
        self._lock = threading.Lock()
        self.attempts = 0
        self.outages = 0
        self._up = {dependency: DEPENDENCY_UP.labels(group, dependency) for dependency in dependencies}
        for gauge in self._up.values():
            gauge.set(1)
        self._degraded = PROCESS_DEGRADED.labels(group)
        self._degraded.set(0)

    @property
    def holding(self) -> bool:
        return bool(self._down)

    def down(self) -> list[str]:
        return sorted(self._down)

    def failed(self, dependency: str, exc: BaseException) -> None:
        """A use of `dependency` failed because it is unreachable: logged when it goes down, not again."""
        with self._lock:
            if dependency in self._down:
                return
            self._down[dependency] = (time.monotonic(), _describe(exc))
            self.outages += 1
        self._gauge(dependency).set(0)
        self._degraded.set(1)
        OUTAGES.labels(self.group, dependency).inc()
        logger.warning("group %s: %s unavailable (%s); holding the uncommitted work and "
                       "retrying with backoff (up to %gs apart) until it is back", self.group, dependency,
                       _describe(exc), self.policy.maximum)

    def recovered(self) -> None:
        """The step that failed went through: every dependency it needs answered."""
        with self._lock:
            down, self._down = self._down, {}
            attempts, self.attempts = self.attempts, 0
        now = time.monotonic()
        for dependency, (since, _) in sorted(down.items()):
            self._gauge(dependency).set(1)
            logger.warning("group %s: %s is back after %.1fs (%d retries); resuming with the work held",
                           self.group, dependency, now - since, attempts)
        if down:
            self._degraded.set(0)

    def ride_out(self, attempt: Callable[[], T], stop: threading.Event,
                 heartbeat: Callable[[], None] | None = None) -> tuple[bool, T | None]:
        """Retry `attempt` with backoff while it fails for an outage (or, a few times, a transient
        conflict), until it succeeds (True, its result) or `stop` is set first (False, None). Any other
        exception propagates at once."""
        conflicts = 0

        def retryable(exc: BaseException) -> bool:
            nonlocal conflicts
            if dependency_of(exc) is not None:
                return True
            conflicts += is_transient(exc)
            return is_transient(exc) and conflicts < TRANSIENT_ATTEMPTS

        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.attempts = state.attempt_number
            exc = state.outcome.exception() if state.outcome is not None else None
            dependency = dependency_of(exc) if exc is not None else None
            if exc is not None and dependency is not None:  # (a dependency implies an exception)
                self.failed(dependency, exc)  # a second dependency going down is news; the same one is not
                reset_connections(dependency)

        def sleep(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if heartbeat is not None:
                    heartbeat()
                stop.wait(min(left, 1.0))

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retryable), wait=self.policy.wait(),
            stop=lambda _: stop.is_set(), sleep=sleep, before_sleep=before_sleep, reraise=False)
        try:
            result = retrying(attempt)
        except tenacity.RetryError:
            return False, None
        self.recovered()
        return True, result

    def hold(self, attempt: Callable[[], T], stop: threading.Event,
             heartbeat: Callable[[], None] | None = None) -> tuple[bool, T | None]:
        """Run `attempt`; if it fails for an outage, record it and ride it out (see ride_out). Anything
        else propagates: the one shape of "try, classify, hold" every loop uses."""
        try:
            return True, attempt()
        except Exception as exc:  # noqa: BLE001 - classified: only outages and conflicts are held
            if self.begin(exc) is None and not is_transient(exc):
                raise
        return self.ride_out(attempt, stop, heartbeat)

    def begin(self, exc: BaseException) -> str | None:
        """`exc` ended a step: if an outage did it, record it (logged once), drop the broken connections
        and return the dependency; None when it is not an outage."""
        dependency = dependency_of(exc)
        if dependency is not None:
            self.failed(dependency, exc)
            reset_connections(dependency)
        return dependency

    def call(self, attempt: Callable[[], T], stop: threading.Event,
             heartbeat: Callable[[], None] | None = None) -> T:
        """`attempt`'s result, retried in place through an outage: for an idempotent call in the middle
        of work that cannot be put down half-done. Raises `Stopped` when stopped first."""
        done, result = self.hold(attempt, stop, heartbeat)
        if not done:
            raise Stopped(f"group {self.group}: stopped while {', '.join(self.down()) or 'a service'} was down")
        return result  # type: ignore[return-value]

    def tolerate(self, exc: BaseException, what: str) -> str:
        """For a best-effort step (a hand-over, a last checkpoint) that failed: re-raise unless it failed
        for an outage; then log why it was skipped and return the dependency."""
        dependency = dependency_of(exc)
        if dependency is None:
            raise exc
        logger.warning("group %s: %s skipped: %s is unavailable (%s)", self.group, what, dependency, _describe(exc))
        return dependency

    def check(self) -> Check:
        """Readiness: not ready while the loop holds its work through an outage."""
        with self._lock:
            down = dict(self._down)
        if not down:
            return Check(self.name, True, "no outage")
        now = time.monotonic()
        parts = [f"{dependency} down for {now - since:.0f}s ({why})"
                 for dependency, (since, why) in sorted(down.items())]
        return Check(self.name, False, f"Degraded: {'; '.join(parts)}; holding the uncommitted work, "
                                       f"{self.attempts} retries so far")

    def _gauge(self, dependency: str) -> Gauge:
        gauge = self._up.get(dependency)
        if gauge is None:
            gauge = self._up[dependency] = DEPENDENCY_UP.labels(self.group, dependency)
        return gauge


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return text if len(text) <= 300 else text[:297] + "..."
