"""Stored screens read many at once (store.screens.one_signed: on PostgreSQL, reads that
arrive together are one statement): each read answers exactly what it would alone —
its session live or not, the referral its patient's or not."""

import asyncio
from uuid import UUID, uuid4

from backend.auth.tokens import PATIENT_AUDIENCE, key_ring, read_access
from backend.runtime.clock import utcnow
from backend.store import screens, sql
from backend.store.engine import is_postgres
from tests.factories import make_clinic, make_referral
from tests.http.patient_client import sign_in

PHONES = ["+79161110101", "+79161110102", "+79161110103"]


async def test_reads_together_answer_as_each_alone(client, db):
    clinic = await make_clinic()
    ring = key_ring(db)
    people = []  # (session family, patient, their referral)
    for phone in PHONES:
        sent = await make_referral(clinic, phone=phone)
        signed = await sign_in(client, phone)
        claims = read_access(ring, signed.access, audience=PATIENT_AUDIENCE, now=utcnow())
        people.append((claims.session, claims.subject, sent.referral_id, signed))
    # The last one signs out: their session has ended.
    ended = people[-1][3].headers
    assert (await client.post("/api/v1/auth/logout", headers=ended)).status_code == 204

    keys: list[tuple[UUID, UUID, UUID]] = []
    for family, patient, referral, _ in people:
        keys += [
            (family, patient, referral),  # their own
            (family, patient, people[0][2] if referral != people[0][2] else people[1][2]),
            (uuid4(), patient, referral),  # a session never issued
            (family, patient, uuid4()),  # no such referral
            (people[1][0], patient, referral),  # another patient's session
        ]
    sizes = []
    many = screens._signed_reads._many

    async def counted(batch):
        sizes.append(len(batch))
        return await many(batch)

    screens._signed_reads._many = counted
    try:
        together = await asyncio.gather(*(screens.one_signed(*key) for key in keys))
    finally:
        screens._signed_reads._many = many
    # On PostgreSQL they went as few statements; SQLite reads one by one.
    assert (max(sizes) > 1) if is_postgres() else sizes == []

    for key, (live, stored) in zip(keys, together, strict=True):
        family, patient, referral = key
        alone = dict(await sql.fetch_one(screens._ONE_SIGNED, family, patient, referral, patient))
        assert live == (alone["issued"] > 0 and alone["revoked"] == 0), key
        assert (stored.referral if stored else None) == alone["referral"], key
    answers = {key: answer for key, answer in zip(keys, together, strict=True)}
    own = [answers[(f, p, r)] for f, p, r, _ in people]
    assert [live for live, _ in own] == [True, True, False]
    assert all(
        stored is not None and stored.referral == r
        for (_, stored), (_, _, r, _) in zip(own, people, strict=True)
    )
