"""A Redis lock: `SET key token NX PX ttl`, released only by its holder (compare-and-delete)."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import redis

# Deleting only when the value is still our token: a holder whose TTL ran out cannot release the next one.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class RedisLock:
    def __init__(self, client: redis.Redis, key: str, ttl_ms: int) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = ttl_ms
        self.token = secrets.token_hex(16)

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def release(self) -> bool:
        return bool(self.client.eval(_RELEASE, 1, self.key, self.token))


@contextmanager
def held(client: redis.Redis, key: str, ttl_ms: int) -> Iterator[bool]:
    """Yields whether the lock was acquired; the body should do nothing when it was not."""
    lock = RedisLock(client, key, ttl_ms)
    acquired = lock.acquire()
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()
