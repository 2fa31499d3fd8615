"""Secrets at rest (CRM tokens, signing keys): encrypted with Fernet (AES-128-CBC and
HMAC-SHA256, from `cryptography`) under a key derived from PLANTRACK_SECRET_KEY."""

import base64
from typing import Any

import msgspec
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecretsUnreadable(Exception):
    """The stored secrets were written under another PLANTRACK_SECRET_KEY."""


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"plantrack:secrets-at-rest"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, values: dict[str, Any]) -> str:
    return _fernet(secret_key).encrypt(msgspec.json.encode(values)).decode()


def unseal(secret_key: str, token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return msgspec.json.decode(_fernet(secret_key).decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretsUnreadable("integration secrets cannot be read with this secret key") from exc
