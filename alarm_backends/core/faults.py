"""Whose fault an exception is: the message's, or the infrastructure's (docs/ARCHITECTURE.md, Guarantees).

A consumer handles each message as

    try: ...
    except INFRASTRUCTURE_ERRORS: raise
    except Exception as exc: dead-letter the message with `exc`

Anything a message's content can provoke is that message's fault: it is dead-lettered and its
partition moves on, so no message can stop a partition. A broker, Redis or database that fails
would fail for every message alike: dead-lettering them all would throw the stream away, so those
errors propagate and stop (or pause) processing instead. This tuple is the one place that says which
is which; add a new client's base error here, never a per-call list. What a loop then does with one is
core/resilience.py's `dependency_of`, which looks only at these: an unreachable service is an outage to
ride out; the rest of them (a database's answer, a refused produce, the dead-letter limit) stop it.
"""
from __future__ import annotations

import redis
from confluent_kafka import KafkaException
from django.db import Error as DatabaseError

from alarm_backends.core.kafka.errors import KafkaStorageError, MessageRejected, RetryableError

INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    KafkaException,  # librdkafka: the producer or the consumer, whatever the message
    KafkaStorageError,  # ours over it: broker unreachable, produce or commit failed, dead-letter limit
    redis.RedisError,
    DatabaseError,  # django.db.Error: every database failure, whichever backend
    OSError,  # sockets, files: the machine, not the message
    MemoryError,
    RetryableError,  # a handler saying "not now" is asking for a retry, not a dead letter
    MessageRejected,  # backpressure
)


def describe(exc: BaseException) -> str:
    """A dead letter's reason for an exception that is not a typed refusal: its type says more than
    its text alone (`'utf-8' codec can't decode ...` is a UnicodeDecodeError)."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
