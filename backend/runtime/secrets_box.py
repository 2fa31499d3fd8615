"""Secrets at rest (CRM tokens, signing keys): encrypted with Fernet (AES-128-CBC and
HMAC-SHA256, from `cryptography`) under a key derived from PLANTRACK_SECRET_KEY."""

import base64
from functools import lru_cache
from typing import Any

import msgspec
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretsUnreadable(Exception):
    """The stored secrets were written under another PLANTRACK_SECRET_KEY."""


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    """The key derivation once per process and key (every delivery unseals)."""
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"plantrack:secrets-at-rest"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, values: dict[str, Any]) -> str:
    return _fernet(secret_key).encrypt(msgspec.json.encode(values)).decode()


def unseal(secret_key: str, token: str) -> dict[str, Any]:
    if not token:
        return {}
    return msgspec.json.decode(_opened(secret_key, token))  # a fresh dict for each caller


@lru_cache(maxsize=1024)
def _opened(secret_key: str, token: str) -> bytes:
    """A sealed value's plaintext, decrypted once per process: new secrets are a new
    token, so a cached one is never stale (a wrong key raises, and is not cached)."""
    try:
        return _fernet(secret_key).decrypt(token.encode())
    except InvalidToken as exc:
        raise SecretsUnreadable("integration secrets cannot be read with this secret key") from exc
