"""The change signal: a Redis counter bumped after a strategy write commits.

Consumers poll the counter together with the DB-derived version (bkmonitor.strategies.export),
so a Redis outage only delays a reload until the DB version changes.
"""
from __future__ import annotations

import logging

import redis
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from alarm_backends.core.storage.redis import get_client

VERSION_KEY = "bkm:strategy:version"

logger = logging.getLogger(__name__)
_read_failing = False


def publish_change() -> int | None:
    """INCR the counter; its new value, or None (logged) when Redis is not reachable."""
    try:
        version = int(get_client().incr(VERSION_KEY))
    except (redis.RedisError, ImproperlyConfigured, OSError) as exc:
        # The write is committed: failing the request now would only make the client retry it.
        logger.warning("strategy change signal not sent (consumers will notice by polling the DB): %s", exc)
        return None
    return version


def signal_change_on_commit() -> None:
    transaction.on_commit(publish_change)


def read_signal_version() -> int:
    """The counter's value; 0 if absent or unreadable (a poller then relies on the DB version)."""
    global _read_failing
    try:
        raw = get_client().get(VERSION_KEY)
    except (redis.RedisError, ImproperlyConfigured, OSError) as exc:
        if not _read_failing:
            logger.warning("strategy change counter unreadable, reporting 0: %s", exc)
        _read_failing = True
        return 0
    _read_failing = False
    try:
        return int(raw) if raw is not None else 0
    except ValueError:
        return 0
