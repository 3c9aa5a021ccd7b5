"""Dead-letter queue: bad messages go to `<topic><suffix>` with their origin in
headers, and a limit stops the consumer when bad messages stop being rare (a
bad deploy should halt the pipeline, not dead-letter all traffic)."""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import Message

from alarm_backends.core.kafka.errors import DeadLetterLimitExceeded, TopicAlreadyExists
from alarm_backends.core.kafka.metrics import DEAD_LETTERED
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.kafka.topics import TopicManager

logger = logging.getLogger(__name__)

H_TOPIC, H_PARTITION, H_OFFSET, H_ERROR, H_TIMESTAMP = (
    "dlq-origin-topic", "dlq-origin-partition", "dlq-origin-offset", "dlq-error", "dlq-origin-timestamp")


@dataclass(frozen=True)
class DeadLetterPolicy:
    suffix: str = ".dlq"
    topic: str | None = None  # one dead-letter topic for every origin, instead of per-topic ones
    max_invalid_ratio: float = 0.2  # of the last `window` messages ...
    min_messages: int = 100  # ... once at least this many were seen
    window: int = 1000
    max_consecutive: int = 500
    create_partitions: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.max_invalid_ratio <= 1:
            raise ValueError(f"max_invalid_ratio must be in (0, 1], got {self.max_invalid_ratio}")
        if self.window < 1 or self.min_messages < 1 or self.max_consecutive < 1:
            raise ValueError("window, min_messages and max_consecutive must be >= 1")


class DeadLetterQueue:
    def __init__(self, producer: KafkaProducer, policy: DeadLetterPolicy | None = None,
                 topics: TopicManager | None = None) -> None:
        self.producer = producer
        self.policy = policy or DeadLetterPolicy()
        self._topics = topics
        self._ensured: set[str] = set()
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
        topic = self.topic_for(message.topic())
        self._ensure(topic)
        headers = list(message.headers() or []) + [
            (H_TOPIC, message.topic().encode()),
            (H_PARTITION, str(message.partition()).encode()),
            (H_OFFSET, str(message.offset()).encode()),
            (H_TIMESTAMP, str(message.timestamp()[1]).encode()),
            (H_ERROR, str(error)[:1000].encode()),
        ]
        self.producer.produce(topic, message.value(), key=message.key(), headers=headers)
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

    def _ensure(self, topic: str) -> None:
        if topic in self._ensured:
            return
        manager = self._topics or TopicManager(self.producer.cluster)
        if not manager.topic_exists(topic):
            try:
                manager.create_topic(topic, partitions=self.policy.create_partitions)
            except TopicAlreadyExists:
                pass
        self._ensured.add(topic)
