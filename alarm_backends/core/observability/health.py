"""Readiness checks: is each service a process depends on reachable right now?

Each check returns a Check naming the service, so an answer says *which*
dependency is down rather than just "not ready". Checks run in parallel on
worker threads with one deadline: a database or broker that black-holes packets
would otherwise hold a probe far longer than any orchestrator waits for it, and
the answer "timed out after 2s" is itself the diagnosis.
"""
from __future__ import annotations

import concurrent.futures
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connections

from alarm_backends.core.kafka.cluster import KafkaClusterConfig
from alarm_backends.core.kafka.topics import TopicManager


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str  # what was seen when ok, why not otherwise
    seconds: float = 0.0

    def as_dict(self, details: bool = True) -> dict[str, object]:
        answer: dict[str, object] = {"name": self.name, "ok": self.ok, "seconds": round(self.seconds, 3)}
        if details or self.ok:
            answer["detail"] = self.detail
        else:
            # An unauthenticated caller learns what failed, not hostnames or credentials in the message.
            answer["detail"] = self.detail.split(":", 1)[0]
        return answer


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def failing(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]

    def as_dict(self, details: bool = True) -> dict[str, object]:
        return {"status": "ready" if self.ok else "not ready", "failing": self.failing(),
                "checks": [check.as_dict(details) for check in self.checks]}


def _failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")


def check_database(alias: str = "default") -> Check:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return Check("database", True, connections[alias].vendor)
    except Exception as exc:  # any driver error means "not reachable" to a probe
        return Check("database", False, _failure(exc))
    finally:
        # the check runs on a pool thread: its connection must not outlive the answer
        connections[alias].close()


_redis_clients: dict[tuple[int, str, float], redis.Redis] = {}
_kafka_admins: dict[tuple[int, KafkaClusterConfig, float], TopicManager] = {}
_cache_lock = threading.Lock()


def check_redis(url: str | None, timeout: float) -> Check:
    if not url:
        return Check("redis", False, "ImproperlyConfigured: REDIS_URL is not set")
    key = (os.getpid(), url, timeout)
    with _cache_lock:
        client = _redis_clients.get(key)
        if client is None:
            client = _redis_clients[key] = redis.Redis.from_url(url, socket_connect_timeout=timeout,
                                                                socket_timeout=timeout)
    try:
        client.ping()
        return Check("redis", True, "PONG")
    except Exception as exc:
        return Check("redis", False, _failure(exc))


def check_kafka(cluster: KafkaClusterConfig | None, timeout: float) -> Check:
    if cluster is None:
        return Check("kafka", False, "ImproperlyConfigured: BK_MONITOR_KAFKA_HOST is not set")
    key = (os.getpid(), cluster, timeout)
    try:
        with _cache_lock:
            admin = _kafka_admins.get(key)
            if admin is None:  # one client per process: creating one per probe costs a connection and threads
                admin = _kafka_admins[key] = TopicManager(cluster, timeout=timeout)
        topics = admin.list_topics(include_internal=True)
        return Check("kafka", True, f"{len(topics)} topics")
    except Exception as exc:
        return Check("kafka", False, _failure(exc))


def _dependency(name: str) -> Callable[[], Check]:
    timeout = float(settings.HEALTH_TIMEOUT_SECONDS)
    if name == "database":
        return check_database
    if name == "redis":
        return lambda: check_redis(settings.REDIS_URL, timeout)
    if name == "kafka":
        return lambda: check_kafka(settings.KAFKA_CLUSTER, timeout)
    raise ValueError(f"unknown dependency {name!r}; known: database, redis, kafka")


DEPENDENCIES = ("database", "redis", "kafka")
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=6, thread_name_prefix="bkm-health")


def run_checks(checks: Iterable[tuple[str, Callable[[], Check]]], timeout: float) -> list[Check]:
    """Run named checks in parallel; one that has not answered by the deadline fails as timed out."""
    started = time.monotonic()

    def timed(name: str, fn: Callable[[], Check]) -> Check:
        began = time.monotonic()
        check = fn()
        return Check(check.name, check.ok, check.detail, time.monotonic() - began)

    futures = [(name, _pool.submit(timed, name, fn)) for name, fn in checks]
    results = []
    for name, future in futures:
        remaining = max(0.0, timeout - (time.monotonic() - started))
        try:
            results.append(future.result(timeout=remaining))
        except concurrent.futures.TimeoutError:
            results.append(Check(name, False, f"TimeoutError: no answer within {timeout:g}s", timeout))
    return results


def dependencies_report(names: Iterable[str] = DEPENDENCIES) -> Report:
    """Database, Redis and Kafka reachable (or the subset a process uses), each named."""
    timeout = float(settings.HEALTH_TIMEOUT_SECONDS)
    # the deadline leaves the clients their own timeout plus a margin to report it themselves
    return Report(tuple(run_checks([(name, _dependency(name)) for name in names], timeout + 1.0)))
