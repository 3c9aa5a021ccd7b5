"""The alert builder's consumer loop: decode a batch of events, apply it in one
database transaction, and only then let its offsets be committed.

Invalid events are dead-lettered (and their offsets move on only after the dead
letters are durable). A database that is briefly unavailable is retried with a
pause, holding the batch; anything else stops the process, and the uncommitted
batch is redelivered on restart, where already-stored events are skipped.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
from django.db import OperationalError, close_old_connections

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.consumer import KafkaConsumer
from alarm_backends.core.kafka.dlq import DeadLetterPolicy, DeadLetterQueue
from alarm_backends.core.kafka.errors import InvalidMessage
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.observability.metrics import AlertStage
from bkmonitor.alerts.builder import InvalidEvent, apply_parsed, parse_event
from bkmonitor.models import Alert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertSettings:
    group_id: str
    topics: tuple[str, ...]
    batch_size: int = 2000
    poll_timeout: float = 0.2
    db_retries: int = 5
    db_retry_pause: float = 1.0
    consumer_config: dict[str, Any] | None = None


class AlertRunner:
    def __init__(self, settings: AlertSettings, *, cluster: KafkaClusterConfig) -> None:
        self.settings = settings
        self.consumer = KafkaConsumer(settings.group_id, list(settings.topics), cluster=cluster,
                                      config=settings.consumer_config)
        self.dead_letters = DeadLetterQueue(KafkaProducer.get_instance(cluster), DeadLetterPolicy())
        self.messages = 0
        self.applied = 0
        self.invalid = 0
        self.stage = AlertStage(settings.group_id)
        self.last_step = time.monotonic()  # read by the readiness probe

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self.step()
        finally:
            self.consumer.close()

    def step(self) -> int:
        batch = self.consumer.get_messages(self.settings.batch_size, self.settings.poll_timeout)
        self.last_step = time.monotonic()
        if not batch:
            return 0
        events = []
        failures: list[tuple[Any, Exception]] = []
        for message in batch:
            try:
                raw = message.value()
                events.append(parse_event(decode(raw), raw))
            except (InvalidMessage, InvalidEvent) as exc:
                failures.append((message, exc))
        if events:
            self._apply(events)
        self.invalid += len(failures)
        self.dead_letters.settle(len(batch), failures, self.settings.group_id)
        self.dead_letters.flush()
        self.consumer.mark_processed(batch)  # the transaction has committed: safe to commit offsets
        self.messages += len(batch)
        self.stage.batch(len(batch), len(failures))
        self.last_step = time.monotonic()
        return len(batch)

    def _apply(self, events: list[Any]) -> None:
        for attempt in range(1, self.settings.db_retries + 1):
            try:
                started = time.monotonic()
                result = apply_parsed(events)
                self.stage.transaction(time.monotonic() - started, result.new_events, len(result.opened),
                                       len(result.ended), len(result.updated))
                self.applied += result.new_events
                self._announce(result.opened, result.ended)
                return
            except OperationalError as exc:
                if attempt == self.settings.db_retries:
                    raise
                logger.warning("alert: database unavailable (%s); retrying the batch in %.1fs", exc,
                               self.settings.db_retry_pause)
                close_old_connections()
                time.sleep(self.settings.db_retry_pause)


    @staticmethod
    def _announce(opened: list[int], ended: list[int]) -> None:
        """One line per alert that opened or ended, for whoever watches the terminal."""
        if not (opened or ended) or not logger.isEnabledFor(logging.INFO):
            return
        for alert in Alert.objects.filter(id__in=[*opened, *ended]).order_by("id"):
            when = dt.datetime.fromtimestamp(alert.end_time or alert.begin_time, dt.timezone.utc)
            # why: the reason of the event that opened or ended it (a close reason is the end event's reason)
            why = alert.latest_reason or alert.close_reason or alert.reason
            logger.info("alert #%d %s%s: %s [severity %d] %s at %s%s", alert.id, alert.status,
                        " (blocked)" if alert.is_blocked else "", alert.alert_name, alert.severity,
                        alert.dimensions, when.strftime("%Y-%m-%d %H:%M"), f": {why}" if why else "")


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
