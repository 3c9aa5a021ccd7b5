"""Typed access to a delivered message's coordinates.

confluent-kafka's stubs type `Message.topic()`, `partition()` and `offset()` as Optional, because
a message built by hand or an error event may lack them. A message the consumer delivered
without error always has all three, so these helpers only narrow the types (`cast` does nothing
at run time). They suit code that handles one message at a time; batch paths that map
`Message.topic` / `Message.partition` over a whole list keep their C-level map() and cast the
result once instead."""
from __future__ import annotations

from typing import cast

from confluent_kafka import Message

TP = tuple[str, int]


def tp_of(message: Message) -> TP:
    """(topic, partition) of a delivered message."""
    return cast(TP, (message.topic(), message.partition()))


def offset_of(message: Message) -> int:
    """Offset of a delivered message."""
    return cast(int, message.offset())
