"""Start whichever embedded services the configuration leaves unset, and say
how to reach them as environment variables for the processes that follow."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from alarm_backends.core.embedded.base import ManagedProcess
from alarm_backends.core.embedded.services import EmbeddedKafkaBroker, EmbeddedValkey


@dataclass
class EmbeddedStack:
    kafka: EmbeddedKafkaBroker | None = None
    valkey: EmbeddedValkey | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> list[ManagedProcess]:
        return [s for s in (self.kafka, self.valkey) if s is not None]

    def stop(self) -> None:
        for service in self.services:
            with contextlib.suppress(Exception):
                service.stop()


def start_stack(*, want_kafka: bool, want_redis: bool, host: str = "127.0.0.1") -> EmbeddedStack:
    stack = EmbeddedStack()
    try:
        if want_kafka:
            stack.kafka = EmbeddedKafkaBroker(host=host)
            stack.kafka.start()
            stack.env["BK_MONITOR_KAFKA_HOST"] = host
            stack.env["BK_MONITOR_KAFKA_PORT"] = str(stack.kafka.port)
        if want_redis:
            stack.valkey = EmbeddedValkey(host=host)
            stack.valkey.start()
            stack.env["REDIS_URL"] = stack.valkey.url
    except BaseException:
        stack.stop()
        raise
    return stack
