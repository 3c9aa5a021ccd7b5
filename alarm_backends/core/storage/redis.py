"""Redis/Valkey access: one connection pool per process and URL."""
from __future__ import annotations

import os
import threading

import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_clients: dict[tuple[int, str], redis.Redis] = {}
_lock = threading.Lock()


def redis_url() -> str:
    url: str | None = getattr(settings, "REDIS_URL", None)
    if not url:
        raise ImproperlyConfigured(
            "No Redis configured: set REDIS_URL, or start the process under "
            "`python manage.py run_embedded -- ...` to use the embedded Valkey"
        )
    return url


def get_client(url: str | None = None) -> redis.Redis:
    """The process's client for `url` (default: settings.REDIS_URL); a forked child gets its own."""
    url = url or redis_url()
    key = (os.getpid(), url)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10,
                                                          health_check_interval=30)
        return client
