"""Identifiers: time-ordered UUIDs for rows, short codes for people to type."""

import secrets
import time
import uuid

# Crockford's base32 without the letters people misread (I, L, O, U).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): random enough to be unguessable, ordered by creation time,
    so new rows land at the end of a B-tree index instead of all over it."""
    ms = time.time_ns() // 1_000_000
    rand = secrets.randbits(74)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76 | (rand >> 62) << 64  # version 7, 12 random bits
    value |= 0b10 << 62 | (rand & ((1 << 62) - 1))  # RFC variant, 62 random bits
    return uuid.UUID(int=value)


def short_code(length: int = 10) -> str:
    """A code a patient can type from a letter or an SMS (~50 bits at length 10)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
