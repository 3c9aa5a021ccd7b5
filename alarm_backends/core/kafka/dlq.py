"""Dead-letter queue: bad messages go to `<topic><suffix>` with their origin in
headers, and a limit stops the consumer when bad messages stop being rare (a
bad deploy should halt the pipeline, not dead-letter all traffic).

A dead letter never fails for its size: it is the original plus headers, so an original near the
broker's limit would not fit, its produce would fail and stop the consumer on that message forever.
What does not fit is cut (docs/ARCHITECTURE.md, Data contracts: dead-letter messages): the origin and
the error always travel; the original headers and key only while small; the value keeps its head,
and `dlq-truncated` says what was cut, with the value's original length and SHA-256.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from confluent_kafka import Message

from alarm_backends.core.kafka.errors import (
    BrokerUnavailable,
    DeadLetterLimitExceeded,
    KafkaStorageError,
    TopicAlreadyExists,
)
from alarm_backends.core.kafka.messages import tp_of
from alarm_backends.core.kafka.metrics import DEAD_LETTERED
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.kafka.topics import TopicManager

logger = logging.getLogger(__name__)

H_TOPIC, H_PARTITION, H_OFFSET, H_ERROR, H_TIMESTAMP = (
    "dlq-origin-topic", "dlq-origin-partition", "dlq-origin-offset", "dlq-error", "dlq-origin-timestamp")
H_TRUNCATED, H_LENGTH, H_DIGEST = "dlq-truncated", "dlq-original-length", "dlq-original-sha256"
ERROR_CHARS = 1000
#: librdkafka's own default `message.max.bytes`; Kafka's broker default (1,048,588) is larger
DEFAULT_MAX_BYTES = 1_000_000
#: per header, in the record format: two varint lengths and the record's share of framing
HEADER_OVERHEAD = 16
Header = tuple[str, bytes | None]


def _size(headers: Sequence[Header]) -> int:
    return sum(len(name.encode()) + len(value or b"") + HEADER_OVERHEAD for name, value in headers)


def fit(key: bytes | None, value: bytes | None, headers: Sequence[Header], ours: Sequence[Header],
        limit: int) -> tuple[bytes | None, bytes | None, list[Header]]:
    """The dead letter's key, value and headers, within `limit` bytes: as they are when they fit;
    otherwise `ours` (origin and error) kept whole, the original headers and key kept only while
    each takes at most a tenth of the room, the value's head in the rest, and what was cut named."""
    if len(key or b"") + len(value or b"") + _size(headers) + _size(ours) <= limit:
        return key, value, [*headers, *ours]
    cut: set[str] = set()
    length, digest = str(len(value or b"")).encode(), hashlib.sha256(value or b"").hexdigest().encode()
    notes: list[Header] = [(H_TRUNCATED, b"key,value,headers"), (H_LENGTH, length), (H_DIGEST, digest)]
    room = limit - _size(ours) - _size(notes)  # notes at their longest
    if room < 0:
        raise ValueError(f"a dead letter's own headers take {limit - room} bytes, more than the limit {limit}")
    kept = list(headers)
    if _size(kept) > room // 10:
        kept = []
        cut.add("headers")
    room -= _size(kept)
    if key is not None and len(key) > room // 10:
        key = key[:room // 10]
        cut.add("key")
    room -= len(key or b"")
    if value is not None and len(value) > room:
        value = value[:room]
        cut.add("value")
    notes[0] = (H_TRUNCATED, ",".join(part for part in ("key", "value", "headers") if part in cut).encode())
    return key, value, [*kept, *ours, *notes]


@dataclass(frozen=True)
class DeadLetterPolicy:
    suffix: str = ".dlq"
    topic: str | None = None  # one dead-letter topic for every origin, instead of per-topic ones
    max_invalid_ratio: float = 0.2  # of the last `window` messages ...
    min_messages: int = 100  # ... once at least this many were seen
    window: int = 1000
    max_consecutive: int = 500
    create_partitions: int = 1
    # the largest dead letter, in bytes, key and headers included; None: the producer's
    # `message.max.bytes`, or the dead-letter topic's `max.message.bytes` where the broker says less
    max_bytes: int | None = None
    margin: float = 0.02  # of the limit, kept free for the record's framing (at least 4 KiB)

    def __post_init__(self) -> None:
        if not 0 < self.max_invalid_ratio <= 1:
            raise ValueError(f"max_invalid_ratio must be in (0, 1], got {self.max_invalid_ratio}")
        if self.window < 1 or self.min_messages < 1 or self.max_consecutive < 1:
            raise ValueError("window, min_messages and max_consecutive must be >= 1")
        if self.max_bytes is not None and self.max_bytes < 16_384:
            raise ValueError(f"max_bytes must be at least 16384, got {self.max_bytes}")
        if not 0 <= self.margin < 0.5:
            raise ValueError(f"margin must be in [0, 0.5), got {self.margin}")


class DeadLetterQueue:
    def __init__(self, producer: KafkaProducer, policy: DeadLetterPolicy | None = None,
                 topics: TopicManager | None = None,
                 guard: Callable[[Callable[[], int]], int] | None = None) -> None:
        self.producer = producer
        # runs the dead-letter topic's creation (an admin request) for a loop that retries it in place
        # through a broker outage: a batch being settled cannot be put down half-way
        self.guard = guard
        self.policy = policy or DeadLetterPolicy()
        self._topics = topics
        self._ensured: dict[str, int] = {}  # dead-letter topic -> the largest dead letter it takes
        self._outcomes: deque[bool] = deque(maxlen=self.policy.window)  # True = invalid
        self._invalid_in_window = 0
        self._consecutive = 0
        self.sent = 0

    def topic_for(self, origin: str) -> str:
        return self.policy.topic or f"{origin}{self.policy.suffix}"

    def record_valid(self, count: int = 1) -> None:
        if count <= 0:
            return
        self._consecutive = 0
        for _ in range(min(count, self.policy.window)):
            self._observe(False)

    def settle(self, handled: int, failures: Sequence[tuple[Message, BaseException]], group: str = "") -> None:
        """Account for a batch of `handled` messages, then dead-letter its `failures`: the limit
        judges the whole batch, valid messages included, whatever order they came in."""
        self.record_valid(handled - len(failures))
        for message, error in failures:
            self.send(message, error, group)

    def send(self, message: Message, error: BaseException, group: str = "") -> None:
        self._observe(True)
        self._consecutive += 1
        self._check_limit(message, error)
        origin, partition = tp_of(message)
        topic = self.topic_for(origin)
        limit = self.guard(lambda: self._ensure(topic)) if self.guard is not None else self._ensure(topic)
        ours: list[Header] = [
            (H_TOPIC, origin.encode()),
            (H_PARTITION, str(partition).encode()),
            (H_OFFSET, str(message.offset()).encode()),
            (H_TIMESTAMP, str(message.timestamp()[1]).encode()),
            (H_ERROR, str(error)[:ERROR_CHARS].encode(errors="replace")),
        ]
        original = cast("list[Header]", message.headers() or [])  # a consumed message's headers are a list
        key, value, headers = fit(message.key(), message.value(), list(original), ours, limit)
        self.producer.produce(topic, value, key=key, headers=headers)
        DEAD_LETTERED.labels(group, message.topic()).inc()
        self.sent += 1
        logger.warning("dead-lettered %s[%d]@%d to %s: %s", message.topic(), message.partition(),
                       message.offset(), topic, error)

    def flush(self, timeout: float | None = None) -> None:
        """Dead letters are durable once this returns; only then may their offsets be committed."""
        if self.sent:
            self.producer.flush(timeout)

    def _observe(self, invalid: bool) -> None:
        outcomes = self._outcomes
        if len(outcomes) == outcomes.maxlen and outcomes[0]:
            self._invalid_in_window -= 1
        outcomes.append(invalid)
        if invalid:
            self._invalid_in_window += 1

    def _check_limit(self, message: Message, error: BaseException) -> None:
        p = self.policy
        seen = len(self._outcomes)
        ratio = self._invalid_in_window / seen
        if self._consecutive > p.max_consecutive or (seen >= p.min_messages and ratio > p.max_invalid_ratio):
            raise DeadLetterLimitExceeded(
                f"stopping: {self._invalid_in_window} of the last {seen} messages were invalid "
                f"({ratio:.0%} > {p.max_invalid_ratio:.0%}) or {self._consecutive} in a row "
                f"(limit {p.max_consecutive}); latest {message.topic()}[{message.partition()}]@{message.offset()}: "
                f"{error}. Fix the producer or the handler; nothing past this point was committed."
            )

    def _ensure(self, topic: str) -> int:
        """Create the dead-letter topic if missing; the size its dead letters must fit in."""
        limit = self._ensured.get(topic)
        if limit is not None:
            return limit
        manager = self._topics or TopicManager(self.producer.cluster)
        if not manager.topic_exists(topic):
            with contextlib.suppress(TopicAlreadyExists):
                manager.create_topic(topic, partitions=self.policy.create_partitions)
        limit = self._limit(manager, topic)
        self._ensured[topic] = limit
        return limit

    def _limit(self, manager: TopicManager, topic: str) -> int:
        limits = [self.policy.max_bytes or int(self.producer.config.get("message.max.bytes", DEFAULT_MAX_BYTES))]
        try:
            configured = manager.describe_configs(topic).get("max.message.bytes")
        except BrokerUnavailable:
            raise
        except KafkaStorageError as exc:  # e.g. not allowed to read configs: the producer's limit still holds
            logger.warning("dead letters to %s: cannot read its max.message.bytes (%s); assuming %d bytes",
                           topic, exc, limits[0])
            configured = None
        if configured and configured.isdigit():
            limits.append(int(configured))
        limit = min(limits)
        return limit - max(4096, int(limit * self.policy.margin))
