"""The web process: /metrics with gauges read from the database, /-/healthy and /-/ready naming each service."""
from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import override_settings
from rest_framework.authtoken.models import Token

from alarm_backends.core.embedded.base import free_loopback_port
from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from bkmonitor.alerts.builder import apply_events
from tests.alerts.conftest import make_event
from tests.observability.scrape import parse, value

T0 = 1_700_000_000


@pytest.fixture
def token(db: None) -> str:
    user = User.objects.create_user("scraper", password="pw")
    return Token.objects.create(user=user).key


def open_alerts(*specs: tuple[str, int]) -> None:
    apply_events([make_event(T0, severity=severity, key=key) for key, severity in specs])


def test_metrics_needs_a_token_like_the_api(token: str) -> None:
    assert Client().get("/metrics").status_code in (401, 403)
    response = Client(HTTP_AUTHORIZATION=f"Token {token}").get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_metrics_can_be_made_public_for_a_private_scrape_network(db: None) -> None:
    with override_settings(METRICS_PUBLIC=True):
        assert Client().get("/metrics").status_code == 200


def test_metrics_count_open_alerts_by_severity_and_the_oldest_ones_age(token: str) -> None:
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    before = parse(client.get("/metrics").content.decode())
    assert [value(before, "bkm_alerts_open", severity=s) for s in "123"] == [0, 0, 0]
    assert value(before, "bkm_alerts_oldest_open_age_seconds") == 0
    open_alerts(("a", 1), ("b", 1), ("c", 2))
    apply_events([make_event(T0 + 60, "recovered", severity=2, key="c")])  # ended: no longer open
    time.sleep(1.1)
    after = parse(client.get("/metrics").content.decode())
    assert [value(after, "bkm_alerts_open", severity=s) for s in "123"] == [2, 0, 0]
    assert 1.0 <= value(after, "bkm_alerts_oldest_open_age_seconds") < 60  # type: ignore[operator]
    assert value(after, "bkm_alerts_oldest_open_begin_timestamp_seconds") == T0
    assert value(after, "bkm_alerts_query_up") == 1


def test_healthy_answers_without_credentials(db: None) -> None:
    response = Client().get("/-/healthy")
    assert (response.status_code, response.json()) == (200, {"status": "alive"})


def checks(response: Any) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in response.json()["checks"]}


def test_ready_names_the_database_redis_and_the_broker_when_all_answer(
        transactional_db: None, kafka_cluster: KafkaClusterConfig, redis_url: str) -> None:
    response = Client().get("/-/ready")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ready"
    assert {name: c["ok"] for name, c in checks(response).items()} == {"database": True, "redis": True,
                                                                      "kafka": True}
    assert checks(response)["redis"]["detail"] == "PONG"


def test_ready_is_503_and_names_redis_when_redis_is_unreachable(
        transactional_db: None, kafka_cluster: KafkaClusterConfig, redis_url: str, token: str) -> None:
    dead = f"redis://127.0.0.1:{free_loopback_port()}/0"
    with override_settings(REDIS_URL=dead):
        anonymous = Client().get("/-/ready")
        authenticated = Client(HTTP_AUTHORIZATION=f"Token {token}").get("/-/ready")
    assert anonymous.status_code == 503
    assert anonymous.json()["failing"] == ["redis"]
    assert checks(anonymous)["database"]["ok"] and checks(anonymous)["kafka"]["ok"]
    assert checks(anonymous)["redis"]["detail"] == "ConnectionError"  # no address for strangers
    assert "127.0.0.1" in checks(authenticated)["redis"]["detail"]


def test_ready_is_503_and_names_the_broker_within_the_timeout_when_it_is_unreachable(
        transactional_db: None, redis_url: str) -> None:
    dead = KafkaClusterConfig(hosts=(f"127.0.0.1:{free_loopback_port()}",))
    started = time.monotonic()
    with override_settings(KAFKA_CLUSTER=dead, HEALTH_TIMEOUT_SECONDS=1.0):
        response = Client().get("/-/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["kafka"]
    assert time.monotonic() - started < 5
