"""The alert builder's consumer loop: decode a batch of events, apply it in one
database transaction, and only then let its offsets be committed.

Invalid events are dead-lettered (and their offsets move on only after the dead
letters are durable). An outage of the database or the broker is ridden out
(alarm_backends/core/resilience.py): the batch is held, nothing more is
consumed, and the failed step (the poll, the transaction, the dead-letter
topic's creation, the flush) is retried with capped backoff until the service
is back; a deadlock or serialization failure is retried a few times. Anything
else stops the process, and the uncommitted batch is redelivered on restart,
where already-stored events are skipped.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import DatabaseError

from alarm_backends.core.faults import INFRASTRUCTURE_ERRORS, describe
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.consumer import KafkaConsumer
from alarm_backends.core.kafka.dlq import DeadLetterPolicy, DeadLetterQueue
from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.observability.metrics import AlertStage
from alarm_backends.core.resilience import (
    HOLDING_PRODUCER,
    Outage,
    RetryPolicy,
    Stopped,
    dependency_of,
)
from bkmonitor.alerts.builder import InvalidEvent, apply_parsed, parse_event
from bkmonitor.models import Alert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertSettings:
    group_id: str
    topics: tuple[str, ...]
    batch_size: int = 2000
    poll_timeout: float = 0.2
    consumer_config: dict[str, Any] | None = None
    retry: RetryPolicy = RetryPolicy()  # backoff while the database or the broker is down
    max_future: float = 300.0  # an event further ahead of the wall clock is dead-lettered (seconds)


class AlertRunner:
    def __init__(self, settings: AlertSettings, *, cluster: KafkaClusterConfig) -> None:
        self.settings = settings
        self.consumer = KafkaConsumer(settings.group_id, list(settings.topics), cluster=cluster,
                                      config=settings.consumer_config)
        self.producer = KafkaProducer.get_instance(cluster, **HOLDING_PRODUCER)
        self.dead_letters = DeadLetterQueue(self.producer, DeadLetterPolicy(), guard=self._in_place)
        self.messages = 0
        self.applied = 0
        self.invalid = 0
        self.stage = AlertStage(settings.group_id)
        self.last_step = time.monotonic()  # read by the readiness probe
        self.outage = Outage(settings.group_id, ("kafka", "database"), settings.retry)
        self._stop = threading.Event()  # run()'s, so that a hold inside a step ends on SIGTERM

    def run(self, stop: threading.Event) -> None:
        self._stop = self.producer.stop = stop
        try:
            while not stop.is_set():
                try:
                    self.step()
                except Exception as exc:
                    if not (stop.is_set() and (isinstance(exc, Stopped) or dependency_of(exc) is not None)):
                        raise
                    # stopped in an outage before the batch went through: it is redelivered
                    logger.warning("alert group %s: stopped during an outage (%s); the batch in hand is "
                                   "redelivered", self.settings.group_id, exc)
        finally:
            self.consumer.close()

    def _hold(self, attempt: Any) -> tuple[bool, Any]:
        """Run `attempt`; through an outage retry it with backoff until it goes through (True, result),
        or until stopped (False: the batch is not marked and is redelivered)."""
        return self.outage.hold(attempt, self._stop, heartbeat=self._beat)

    def _in_place(self, call: Any) -> Any:
        """`call` retried where it stands through an outage (a dead-letter topic's creation while a batch
        is settled); raises Stopped on SIGTERM."""
        return self.outage.call(call, self._stop, heartbeat=self._beat)

    def _beat(self) -> None:
        self.last_step = time.monotonic()  # alive and retrying; the outage probe says why it is not ready

    def step(self) -> int:
        polled, batch = self._hold(self._poll)
        if not polled:
            return 0
        self.last_step = time.monotonic()
        if not batch:
            return 0
        events = []
        failures: list[tuple[Any, Exception]] = []
        not_after = time.time() + self.settings.max_future
        for message in batch:
            try:
                events.append(parse_message(message.value(), not_after))
            except (InvalidMessage, InvalidEvent) as exc:
                failures.append((message, exc))
            except INFRASTRUCTURE_ERRORS:
                raise
            except Exception as exc:  # noqa: BLE001 - the message's fault: parsing is pure (core/faults.py)
                failures.append((message, InvalidMessage(describe(exc))))
        if events and not self._apply(events):
            return 0  # stopped during an outage: the batch was not applied and is redelivered
        self.invalid += len(failures)
        self.dead_letters.settle(len(batch), failures, self.settings.group_id)  # topic creation retried in place
        if not self._hold(self.dead_letters.flush)[0]:
            return 0
        self.consumer.mark_processed(batch)  # the transaction has committed: safe to commit offsets
        self.messages += len(batch)
        self.stage.batch(len(batch), len(failures))
        self.last_step = time.monotonic()
        return len(batch)

    def _poll(self) -> Any:
        """The next batch; while the broker is known to be down, first that it answers again."""
        if self.outage.holding:
            self.consumer.check_broker()
        return self.consumer.get_messages(self.settings.batch_size, self.settings.poll_timeout)

    def _apply(self, events: list[Any]) -> bool:
        """One transaction for the batch, retried whole through a database outage (already-stored events
        are skipped on a retry); False when stopped before it went through."""
        started = time.monotonic()
        applied, result = self._hold(lambda: apply_parsed(events))
        if not applied:
            return False
        self.stage.transaction(time.monotonic() - started, result.new_events, len(result.opened),
                               len(result.ended), len(result.updated))
        self.applied += result.new_events
        try:
            self._announce(result.opened, result.ended)
        except DatabaseError as exc:  # the batch is stored; only the terminal lines about it are lost
            logger.warning("alert: %d alert(s) changed but could not be read back to announce them: %s",
                           len(result.opened) + len(result.ended), exc)
        return True

    @staticmethod
    def _announce(opened: list[int], ended: list[int]) -> None:
        """One line per alert that opened or ended, for whoever watches the terminal."""
        if not (opened or ended) or not logger.isEnabledFor(logging.INFO):
            return
        for alert in Alert.objects.filter(id__in=[*opened, *ended]).order_by("id"):
            when = dt.datetime.fromtimestamp(alert.end_time or alert.begin_time, dt.UTC)
            # why: the reason of the event that opened or ended it (a close reason is the end event's reason)
            why = alert.latest_reason or alert.close_reason or alert.reason
            logger.info("alert #%d %s%s: %s [severity %d] %s at %s%s", alert.id, alert.status,
                        " (blocked)" if alert.is_blocked else "", alert.alert_name, alert.severity,
                        alert.dimensions, when.strftime("%Y-%m-%d %H:%M"), f": {why}" if why else "")


def parse_message(raw: bytes | None, not_after: float) -> tuple[Any, dict[str, Any]]:
    """One event message checked in full against the event contract, before anything is written:
    raises for a message that cannot be applied, so that it is dead-lettered alone."""
    return parse_event(decode(raw), raw, not_after=not_after)


def decode(raw: bytes | None) -> dict[str, Any]:
    if not raw:
        raise InvalidMessage("empty event message")
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage(f"event is not JSON: {exc}") from None
    if not isinstance(event, dict):
        raise InvalidMessage(f"event must be a JSON object, got {type(event).__name__}")
    return event
