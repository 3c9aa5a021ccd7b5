"""The Django secret key when none is configured.

A development machine (the embedded SQLite database) gets a random key on its
first start, kept in the var folder with mode 0600 and reused afterwards, so
sessions survive restarts and secrets stored in the database (encrypted with a
key derived from it unless BKM_METADATA_SECRET_KEY is set) cannot be decrypted
by anyone who merely knows where the checkout lives. A production deployment
(any other database, or BKM_REQUIRE_SECRET_KEY) must configure its key: it
refuses to start instead of inventing one that a second host would not share.
"""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

KEY_FILE = "secret_key"


def resolve_secret_key(configured: str | None, *, var_dir: Path, production: bool) -> str:
    if configured:
        return configured
    if production:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set: this deployment uses a database other than the embedded SQLite "
            "(or BKM_REQUIRE_SECRET_KEY is on), so a generated development key would not do")
    return _load_or_create(var_dir / KEY_FILE)


def _load_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of several processes starting at once, exactly one writes the key; the others read it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _read(path: Path) -> str:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ImproperlyConfigured(f"{path} holds the secret key but is readable by others (mode {mode:o}): "
                                   f"chmod 600 {path}")
    key = path.read_text().strip()
    if not key:  # another process created it a moment ago and has not written it yet
        for _ in range(50):
            time.sleep(0.02)
            key = path.read_text().strip()
            if key:
                break
    if not key:
        raise ImproperlyConfigured(f"{path} is empty: delete it to generate a new secret key")
    return key
