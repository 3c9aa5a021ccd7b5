"""The consume-process-commit loop for per-message handlers.

A handler returns normally (processed), raises InvalidMessage (dead-letter it
and move on), RetryableError (try the same message again after a pause), or
MessageRejected (the next stage is full: pause the partitions and wait). Any
other exception stops the loop; what was processed before it is committed,
the rest is redelivered. Offsets are marked only after dead letters are durable.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import Message

from alarm_backends.core.kafka.consumer import KafkaConsumer
from alarm_backends.core.kafka.dlq import DeadLetterQueue
from alarm_backends.core.kafka.errors import InvalidMessage, MessageRejected, RetryableError
from alarm_backends.core.kafka.messages import tp_of

logger = logging.getLogger(__name__)

Handler = Callable[[Message], None]


class StreamProcessor:
    def __init__(self, consumer: KafkaConsumer, handler: Handler, dead_letters: DeadLetterQueue | None = None,
                 *, batch_size: int = 500, poll_timeout: float = 0.5, max_retries: int = 5,
                 retry_backoff: float = 0.2, rejected_backoff: float = 0.1) -> None:
        self.consumer = consumer
        self.handler = handler
        self.dead_letters = dead_letters
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.max_retries = max_retries
        self.retry_backoff = retry_backoff
        self.rejected_backoff = rejected_backoff
        self.processed = 0
        self.invalid = 0

    def run_once(self) -> int:
        batch = self.consumer.get_messages(self.batch_size, self.poll_timeout)
        if not batch:
            return 0
        done = 0
        failures: list[tuple[Message, InvalidMessage]] = []
        try:
            for message in batch:
                error = self._handle(message)
                if error is not None:
                    failures.append((message, error))
                done += 1
        except BaseException:
            try:
                self._settle(batch[:done], failures)  # the prefix handled before the failure
            except Exception:  # noqa: BLE001 - the original error matters more
                logger.exception("could not settle the processed prefix; it will be redelivered")
            raise
        self._settle(batch, failures)
        self.processed += done
        self.invalid += len(failures)
        return done

    def run(self, stop: threading.Event) -> None:
        """Until stop is set; then commit what was processed and leave the group."""
        try:
            while not stop.is_set():
                self.run_once()
        finally:
            self.consumer.close()

    def _handle(self, message: Message) -> InvalidMessage | None:
        """Handle one message; the InvalidMessage when it must be dead-lettered (or dropped)."""
        attempts = 0
        paused = False
        try:
            while True:
                try:
                    self.handler(message)
                    return None
                except InvalidMessage as exc:
                    if self.dead_letters is None:
                        logger.warning("dropping invalid %s[%d]@%d (no dead-letter queue): %s",
                                       message.topic(), message.partition(), message.offset(), exc)
                    return exc
                except RetryableError as exc:
                    attempts += 1
                    if attempts > self.max_retries:
                        raise
                    logger.info("retrying %s[%d]@%d (%d/%d): %s", message.topic(), message.partition(),
                                message.offset(), attempts, self.max_retries, exc)
                    time.sleep(self.retry_backoff * attempts)
                except MessageRejected:
                    if not paused:
                        self.consumer.pause([tp_of(message)])
                        paused = True
                    time.sleep(self.rejected_backoff)
        finally:
            if paused:
                self.consumer.resume([tp_of(message)])

    def _settle(self, handled: list[Message], failures: list[tuple[Message, InvalidMessage]]) -> None:
        """Dead letters durable first, then the handled messages become committable."""
        if not handled:
            return
        if self.dead_letters is not None:
            self.dead_letters.settle(len(handled), failures, self.consumer.group_id)
            self.dead_letters.flush()
        self.consumer.mark_processed(handled)
