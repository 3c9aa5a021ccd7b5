"""Typed errors. Storage errors say what failed and where; processing errors
tell the consumer loop what to do with a message (dead-letter, retry, wait)."""
from __future__ import annotations

from dataclasses import dataclass


class KafkaStorageError(Exception):
    """Base of every error raised by the Kafka storage layer."""


class BrokerUnavailable(KafkaStorageError):
    def __init__(self, bootstrap: str, reason: str, timeout: float | None = None) -> None:
        self.bootstrap, self.reason, self.timeout = bootstrap, reason, timeout
        within = f" within {timeout:g}s" if timeout is not None else ""
        super().__init__(f"Kafka brokers {bootstrap} unreachable{within}: {reason}")


class UnsupportedByBroker(KafkaStorageError):
    def __init__(self, operation: str, detail: str = "") -> None:
        self.operation = operation
        super().__init__(f"{operation} is not supported by this broker" + (f": {detail}" if detail else ""))


class TopicError(KafkaStorageError):
    def __init__(self, topic: str, reason: str) -> None:
        self.topic, self.reason = topic, reason
        super().__init__(f"topic {topic!r}: {reason}")


class InvalidTopicName(TopicError, ValueError):
    pass


class TopicAlreadyExists(TopicError):
    def __init__(self, topic: str) -> None:
        super().__init__(topic, "already exists")


class TopicNotFound(TopicError):
    def __init__(self, topic: str) -> None:
        super().__init__(topic, "does not exist")


class ProduceError(KafkaStorageError):
    def __init__(self, topic: str | None, reason: str) -> None:
        self.topic, self.reason = topic, reason
        super().__init__(f"produce to {topic!r} failed: {reason}" if topic else f"produce failed: {reason}")


@dataclass(frozen=True)
class DeliveryFailure:
    topic: str
    partition: int
    reason: str
    retriable: bool


class DeliveryFailed(ProduceError):
    """Messages the broker did not acknowledge; `failures` names each topic and reason."""

    def __init__(self, failures: list[DeliveryFailure]) -> None:
        self.failures = failures
        first = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(first.topic, f"{first.reason}{more}")


class FlushTimeout(ProduceError):
    def __init__(self, undelivered: int, timeout: float) -> None:
        self.undelivered = undelivered
        super().__init__(None, f"{undelivered} message(s) not delivered within {timeout:g}s")


class ProducerQueueFull(ProduceError):
    pass


class ConsumerError(KafkaStorageError):
    pass


class CommitFailed(ConsumerError):
    pass


class GroupHasActiveMembers(ConsumerError):
    def __init__(self, group: str, state: str) -> None:
        self.group, self.state = group, state
        super().__init__(
            f"consumer group {group!r} is {state}: stop its consumers first, or pass force=True"
        )


class DeadLetterLimitExceeded(ConsumerError):
    """Too many bad messages: most likely a bad deploy, not bad data. Stop, do not dead-letter it all."""


# Processing outcomes (raised by message handlers)
class InvalidMessage(Exception):
    """The message can never be processed: dead-letter it and move on."""


class RetryableError(Exception):
    """A transient failure: process the same message again after a pause."""


class MessageRejected(Exception):
    """The next stage is full: keep the message, pause, and try again (backpressure)."""
