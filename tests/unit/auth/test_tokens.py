"""Our session tokens (backend.auth.tokens): round trip, key rotation, refusals."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt
import pytest

from backend.auth.tokens import (
    PATIENT_AUDIENCE,
    InvalidToken,
    KeyRing,
    issue_access,
    read_access,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


RING = KeyRing(signing_kid="k1", keys={"k1": b"k" * 32, "k2": b"j" * 32})


def _issue(ring=RING, ttl=timedelta(minutes=15), now=NOW, audience=PATIENT_AUDIENCE):
    return issue_access(
        ring,
        subject=UUID(int=5),
        session=UUID(int=6),
        role="patient",
        audience=audience,
        ttl=ttl,
        now=now,
    )


def test_access_token_round_trip_and_key_rotation():
    claims = read_access(RING, _issue(), audience=PATIENT_AUDIENCE, now=NOW)
    assert (claims.subject, claims.session, claims.role) == (UUID(int=5), UUID(int=6), "patient")
    # Signed with the old key k2, still verified while k2 is in the ring.
    old = KeyRing(signing_kid="k2", keys=RING.keys)
    assert read_access(RING, _issue(old), audience=PATIENT_AUDIENCE, now=NOW).role == "patient"
    retired = KeyRing(signing_kid="k1", keys={"k1": RING.keys["k1"]})
    with pytest.raises(InvalidToken, match="unknown signing key"):
        read_access(retired, _issue(old), audience=PATIENT_AUDIENCE, now=NOW)


def test_expired_wrong_audience_none_and_forged_tokens_are_refused():
    with pytest.raises(InvalidToken, match="expired"):
        read_access(RING, _issue(), audience=PATIENT_AUDIENCE, now=NOW + timedelta(hours=1))
    with pytest.raises(InvalidToken):
        read_access(RING, _issue(audience="plantrack:staff"), audience=PATIENT_AUDIENCE, now=NOW)
    claims = jwt.decode(_issue(), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "k1"})
    with pytest.raises(InvalidToken, match="algorithm"):
        read_access(RING, unsigned, audience=PATIENT_AUDIENCE, now=NOW)
    forged = jwt.encode(claims, b"x" * 32, algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        read_access(RING, forged, audience=PATIENT_AUDIENCE, now=NOW)


def test_a_token_verified_once_is_kept_but_still_expires_and_forgeries_are_never_kept():
    ring = KeyRing(signing_kid="k1", keys={"k1": b"k" * 32})
    token = _issue(ring)
    first = read_access(ring, token, audience=PATIENT_AUDIENCE, now=NOW)
    assert ring.verified == {(token, PATIENT_AUDIENCE): first}
    assert read_access(ring, token, audience=PATIENT_AUDIENCE, now=NOW) == first
    with pytest.raises(InvalidToken, match="expired"):  # kept, yet the clock still rules
        read_access(ring, token, audience=PATIENT_AUDIENCE, now=NOW + timedelta(hours=1))
    with pytest.raises(InvalidToken):  # kept for one audience, not for another
        read_access(ring, token, audience="plantrack:staff", now=NOW)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidToken):
        read_access(ring, forged, audience=PATIENT_AUDIENCE, now=NOW)
    assert set(ring.verified) == {(token, PATIENT_AUDIENCE)}
    # Another ring (other keys) does not know what this one verified.
    other = KeyRing(signing_kid="k1", keys={"k1": b"z" * 32})
    with pytest.raises(InvalidToken):
        read_access(other, token, audience=PATIENT_AUDIENCE, now=NOW)
