"""A metric topic registered in metadata, an event topic, and helpers to run the
access stage against them (in-process or as real `run_access` processes)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.contrib.auth.models import User
from django.db import connection
from rest_framework.test import APIClient

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.producer import KafkaProducer
from alarm_backends.core.kafka.topics import TopicManager
from alarm_backends.service.access.data.runner import AccessRunner, AccessSettings
from alarm_backends.service.access.data.sources import load_strategies, strategy_version
from alarm_backends.core.storage.redis import get_client
from metadata.models import ClusterInfo, KafkaStorage, ResultTable
from tests.kafka.helpers import FAST_JOIN, consumer, drain
from tests.processes import wait_for_banner

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class World:
    cluster: KafkaClusterConfig
    redis_url: str
    table: str
    topic: str
    event_topic: str
    group: str
    partitions: int
    api: APIClient
    children: list[subprocess.Popen[str]] = field(default_factory=list)

    def started(self, proc: subprocess.Popen[str], banner: str) -> subprocess.Popen[str]:
        """Track a child (killed at teardown if a test fails) and wait until it says it runs."""
        self.children.append(proc)
        return wait_for_banner(proc, banner)  # started (and handling SIGTERM) once it says so

    def create_strategy(self, config: dict[str, Any]) -> dict[str, Any]:
        response = self.api.post("/api/v1/strategies/", config, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    def produce(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        producer = KafkaProducer(self.cluster, config={"compression.type": "none"})
        for key, message in messages:
            producer.produce(self.topic, orjson.dumps(message), key=key)
        producer.flush(30)

    def runner(self, **overrides: Any) -> AccessRunner:
        settings = AccessSettings(group_id=self.group, event_topic=self.event_topic, lateness=0,
                                  snapshot_interval=overrides.pop("snapshot_interval", 0.5),
                                  consumer_config=FAST_JOIN, **overrides)
        return AccessRunner(settings, cluster=self.cluster, redis_client=get_client(self.redis_url),
                            load_strategies=load_strategies, strategy_version=strategy_version)

    def read_events(self, expected: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Every event on the topic (duplicates included): at least `expected`, then until
        the topic has been quiet for a second."""
        c = consumer(self.cluster, f"reader-{uuid.uuid4().hex[:6]}")
        c.assign([(self.event_topic, p, 0) for p in range(3)])
        try:
            got = drain(c, expected, timeout=timeout)
            while batch := c.get_messages(10000, 1.0):
                got.extend(batch)
            return [orjson.loads(m.value()) for m in got]
        finally:
            c.close()

    def process_env(self) -> dict[str, str]:
        """Environment for a `run_access` child: same broker, Redis, database and topics."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BK_MONITOR_KAFKA", "DATABASE_URL"))}
        host, port = self.cluster.bootstrap_servers.split(":")
        db = connection.settings_dict
        if db["ENGINE"].endswith("sqlite3"):
            env["BKM_SQLITE_PATH"] = db["NAME"]
        else:
            env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        env.update({
            "BK_MONITOR_KAFKA_HOST": host, "BK_MONITOR_KAFKA_PORT": port, "REDIS_URL": self.redis_url,
            "BKM_ALARM_EVENT_TOPIC": self.event_topic, "BKM_ACCESS_DATA_GROUP": self.group,
            "BKM_ACCESS_ALLOWED_LATENESS": "0", "BKM_ACCESS_SNAPSHOT_INTERVAL": "0.5",
            "BKM_KAFKA_SESSION_TIMEOUT_MS": "6000", "DJANGO_SETTINGS_MODULE": "config.settings",
        })
        return env

    def start_access(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "manage.py", "run_access", "--type", "data"], cwd=ROOT,
                                env=self.process_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        return self.started(proc, "access: consuming")


def make_world(cluster: KafkaClusterConfig, redis_url: str, partitions: int = 2, *, prefix: str = "e2e") -> World:
    """A metric table on a topic of its own, its event topic and an API client, on the given broker and Redis."""
    suffix = uuid.uuid4().hex[:8]
    table, topic, event_topic = f"{prefix}{suffix}.cpu", f"bkm_{prefix}_{suffix}", f"bkm_{prefix}_events_{suffix}"
    topics = TopicManager(cluster, timeout=5)
    topics.create_topic(topic, partitions=partitions)
    topics.create_topic(event_topic, partitions=3)
    host, port = cluster.bootstrap_servers.split(":")
    info = ClusterInfo.objects.create(cluster_name=f"embedded-{prefix}-{suffix}", domain_name=host, port=int(port))
    ResultTable.objects.create(table_id=table)
    KafkaStorage.objects.create(table_id=table, topic=topic, partition=partitions, storage_cluster=info)
    api = APIClient()
    api.force_authenticate(User.objects.create_superuser(f"admin{suffix}", password="pw"))
    return World(cluster, redis_url, table, topic, event_topic, f"access-{suffix}", partitions, api)


def kill_children(target: World) -> None:
    """A failed test must not leave consumers holding the database."""
    for proc in target.children:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture
def world(transactional_db: None, kafka_cluster: KafkaClusterConfig, redis_url: str,
          request: pytest.FixtureRequest) -> Iterator[World]:
    world = make_world(kafka_cluster, redis_url, getattr(request, "param", 2))
    yield world
    kill_children(world)


def wait_until(predicate: Any, timeout: float, step: Any = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step is not None:
            step()
        if predicate():
            return True
        if step is None:
            time.sleep(0.1)
    return predicate()
