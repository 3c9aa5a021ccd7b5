"""Which failures a loop rides out (an unreachable service) and which stop it (its work could not be kept)."""
from __future__ import annotations

from typing import Any

import pytest
import redis
from django.db import connections

from alarm_backends.core.embedded.base import free_loopback_port
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.errors import DeliveryFailed, FlushTimeout, ProduceError
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.resilience import RetryPolicy, dependency_of


def test_a_redis_nobody_listens_on_is_an_outage_of_redis() -> None:
    client = redis.Redis(port=free_loopback_port(), socket_connect_timeout=1)
    with pytest.raises(redis.RedisError) as caught:
        client.ping()
    assert dependency_of(caught.value) == "redis"


def test_a_database_nobody_listens_on_is_an_outage_of_the_database(django_db_blocker: Any) -> None:
    import dj_database_url
    from django.db.backends.postgresql.base import DatabaseWrapper

    url = f"postgres://nobody@127.0.0.1:{free_loopback_port()}/none"
    config = connections.configure_settings({"default": dj_database_url.parse(url)})["default"]
    connection = DatabaseWrapper({**config, "OPTIONS": {"connect_timeout": 1}}, alias="unreachable")
    with django_db_blocker.unblock(), pytest.raises(Exception) as caught:
        connection.ensure_connection()
    assert dependency_of(caught.value) == "database"


def test_messages_a_broker_did_not_take_in_time_are_an_outage_but_messages_it_refused_are_not() -> None:
    down = KafkaClusterConfig(hosts=(f"127.0.0.1:{free_loopback_port()}",))
    waiting = KafkaProducer(down, config={"message.timeout.ms": 0})
    waiting.produce("t", b"x")
    with pytest.raises(FlushTimeout) as timed_out:
        waiting.flush(1)
    assert dependency_of(timed_out.value) == "kafka"  # still queued: retrying the flush loses nothing

    giving_up = KafkaProducer(down, config={"message.timeout.ms": 1000})
    giving_up.produce("t", b"x")
    with pytest.raises(DeliveryFailed) as dropped:
        giving_up.flush(5)
    assert dependency_of(dropped.value) is None  # gone from the queue: no retry brings it back

    too_big = KafkaProducer(down, config={"message.max.bytes": 1000})
    with pytest.raises(ProduceError) as refused:
        too_big.produce("t", b"x" * 2000)
    assert dependency_of(refused.value) is None


def test_a_retry_cap_below_the_first_delay_is_refused_naming_both() -> None:
    with pytest.raises(ValueError, match=r"retry cap \(1.0s\) is below the first retry delay \(2.0s\)"):
        RetryPolicy(initial=2.0, maximum=1.0)
