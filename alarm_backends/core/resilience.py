"""Riding out an outage of the broker, Redis or the database inside a long-running loop.

A consumer loop that exits on the first `ConnectionError` loses nothing (its
uncommitted work is replayed), but without a supervisor the pipeline stops, and
with one it crash-loops until the service is back. Instead the loop holds what
it has not committed, consumes nothing more, and retries the step that failed
with capped exponential backoff and jitter until the service answers again.

Which exceptions are an outage is decided here, in one place: those a
dependency raises when it cannot be reached or does not answer in time. An
exception that is a message's fault, a bug, or a loss the retry cannot undo
(the producer gave up on a message: `DeliveryFailed`) is not an outage: the
loop stops on it, saying why, because its work can no longer be kept safe.

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
from typing import TypeVar

import redis
import tenacity
from confluent_kafka import KafkaError, KafkaException
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from prometheus_client import Gauge

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


def dependency_of(exc: BaseException) -> str | None:
    """The dependency whose outage raised `exc` (looking through its causes), or None when it is
    not an outage: a bad message, a bug, or a loss that retrying cannot undo."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _direct(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _direct(exc: BaseException) -> str | None:
    if isinstance(exc, (BrokerUnavailable, FlushTimeout, ProducerQueueFull, CommitFailed)):
        # FlushTimeout: the messages are still queued and librdkafka keeps sending them; retrying the
        # flush loses nothing. (DeliveryFailed is not here: those messages are gone from the queue.)
        return KAFKA
    if isinstance(exc, KafkaException):
        error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        if error is not None and not error.fatal() and (error.retriable() or error.code() in _KAFKA_TRANSIENT):
            return KAFKA
        return None
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        return REDIS
    if isinstance(exc, (OperationalError, InterfaceError)):
        return DATABASE
    return None


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
        return tenacity.wait_exponential_jitter(initial=self.initial, max=self.maximum, jitter=self.jitter)


# The consumers' producer never gives up on a message: a broker outage longer than librdkafka's
# message.timeout.ms would otherwise drop events whose effects are already in the loop's state, and
# only a restart could replay them. Held instead, they are delivered when the broker is back; until
# then the checkpoint's flush times out (FlushTimeout: an outage) and nothing is committed.
HOLDING_PRODUCER = {"message.timeout.ms": 0}


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
        logger.warning("group %s: %s unavailable (%s); holding the uncommitted work, consuming nothing more, "
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
        """Retry `attempt` with backoff while it fails for an outage, until it succeeds (True, its result)
        or `stop` is set first (False, None). Any other exception propagates at once."""
        def before_sleep(state: tenacity.RetryCallState) -> None:
            self.attempts = state.attempt_number
            exc = state.outcome.exception() if state.outcome is not None else None
            if exc is not None:
                dependency = dependency_of(exc) or "unknown"
                self.failed(dependency, exc)  # a second dependency going down is news; the same one is not
                reset_connections(dependency)

        def sleep(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if heartbeat is not None:
                    heartbeat()
                stop.wait(min(left, 1.0))

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda exc: dependency_of(exc) is not None),
            wait=self.policy.wait(), stop=lambda _: stop.is_set(), sleep=sleep, before_sleep=before_sleep,
            reraise=False)
        try:
            result = retrying(attempt)
        except tenacity.RetryError:
            return False, None
        self.recovered()
        return True, result

    def check(self) -> Check:
        """Readiness: not ready while the loop holds its work through an outage."""
        with self._lock:
            down = dict(self._down)
        if not down:
            return Check(self.name, True, "no outage")
        now = time.monotonic()
        parts = [f"{dependency} down for {now - since:.0f}s ({why})" for dependency, (since, why) in sorted(down.items())]
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
