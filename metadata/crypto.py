"""Secrets at rest: Fernet with a key from settings.

METADATA_SECRET_KEY (a urlsafe base64 Fernet key) is the key; when it is unset
a development key is derived from SECRET_KEY so a fresh checkout works. A
rotated or wrong key makes decryption fail loudly rather than return garbage.
"""
from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with the configured key."""


def _key_material() -> bytes:
    configured: str | None = getattr(settings, "METADATA_SECRET_KEY", None)
    if configured:
        return configured.encode()
    digest = hashlib.sha256(b"metadata-secrets:" + settings.SECRET_KEY.encode()).digest()
    return base64.urlsafe_b64encode(digest)


@lru_cache(maxsize=4)
def _fernet(material: bytes) -> Fernet:
    try:
        return Fernet(material)
    except ValueError:
        raise ImproperlyConfigured(
            "METADATA_SECRET_KEY must be 32 url-safe base64-encoded bytes (Fernet.generate_key())"
        ) from None


def encrypt(plaintext: str) -> str:
    return _fernet(_key_material()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(_key_material()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "a stored secret cannot be decrypted: METADATA_SECRET_KEY changed since it was saved"
        ) from None


MASK = "******"
