"""The patient's plan screen of each referral and its row in their list, stored as
built and served as stored while nothing they show has changed.

A stored screen is served when it was built
  * at the patient's current change number: every write that changes what the patient
    sees notes a change in its own transaction (backend.services.changes), which
    raises the number;
  * at the current screens' epoch: edits of a clinic, of settings or of norms (which
    show in many patients' screens) raise it (store.screens.outdate_all);
  * in the current FORMAT;
  * before its `valid_until`: the first moment it would read differently by the clock
    alone (a verdict falling due, a question expiring, the next day: domain.derive.
    stable_until).
Otherwise it is built from the ledger (patient_reads.referral_bundle), saved and served.
The number and epoch a build is labelled with are read before the build reads anything,
so a screen is never labelled newer than what it shows.

Screens are built when read, not by the writers: clinics' claims come far more often
than patients look, and the write path stays as fast as it is. A test proves that a
served screen equals one built from the ledger after every kind of change
(tests/service/test_screen_drift.py).
"""

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from backend.domain.derive import stable_until
from backend.services.errors import NotAuthenticated, NotFound
from backend.services.patient_reads import ReferralBundle, referral_bundle
from backend.store import screens
from backend.store.screens import StoredScreen

# Raise when what a stored screen holds changes shape or wording (the patient
# presenter, its texts, the rules it shows), so screens stored before are rebuilt.
FORMAT = 2

# What a bundle looks like to the patient: (the plan screen, the list row), as JSON.
Render = Callable[[ReferralBundle], tuple[bytes, bytes]]


def fresh(stored: StoredScreen, now: datetime) -> bool:
    return (
        stored.screen is not None
        and stored.built_seq == stored.seq
        and stored.built_epoch == stored.epoch
        and stored.format == FORMAT
        and (stored.valid_until is None or now < stored.valid_until)
    )


async def plan_screen(
    patient_id: UUID,
    referral_id: UUID,
    now: datetime,
    render: Render,
    *,
    session: UUID | None = None,
) -> bytes:
    """The patient's plan screen of a referral of theirs (404 for any other), as JSON.
    `session`: the sign-in to check in the same statement (401 when it has ended), for
    a caller that has not checked it yet."""
    if session is None:
        stored = await screens.one(patient_id, referral_id)
    else:
        live, stored = await screens.one_signed(session, patient_id, referral_id)
        if not live:
            raise NotAuthenticated("this session has ended; sign in again")
    if stored is None:
        raise NotFound("no such referral")
    if fresh(stored, now) and stored.screen is not None:
        return stored.screen
    return (await _build(patient_id, stored, now, render))[0]


async def stored_fresh(
    session: UUID, patient_id: UUID, referral_id: UUID, now: datetime
) -> bytes | None:
    """The patient's plan screen as stored, when it can be served as it is: the session
    live, the referral theirs, the screen fresh. None for anything else, which
    `plan_screen` answers (a 401, a 404, a build). One statement."""
    live, stored = await screens.one_signed(session, patient_id, referral_id)
    if live and stored is not None and fresh(stored, now):
        return stored.screen
    return None


async def list_rows(
    patient_id: UUID,
    now: datetime,
    render: Render,
    *,
    limit: int,
    before: tuple[datetime, UUID] | None,
) -> list[tuple[StoredScreen, bytes]]:
    """The patient's referrals, newest first (up to `limit`, before the cursor), each
    with its list row as JSON: one statement when every screen is fresh."""
    out = []
    for stored in await screens.page(patient_id, limit=limit, before=before):
        if fresh(stored, now) and stored.summary is not None:
            out.append((stored, stored.summary))
        else:
            out.append((stored, (await _build(patient_id, stored, now, render))[1]))
    return out


async def _build(
    patient_id: UUID, stored: StoredScreen, now: datetime, render: Render
) -> tuple[bytes, bytes]:
    bundle = await referral_bundle(patient_id, stored.referral, now)
    screen, summary = render(bundle)
    await screens.save(
        referral_id=stored.referral,
        patient_id=patient_id,
        built_seq=stored.seq,
        epoch=stored.epoch,
        format=FORMAT,
        valid_until=stable_until(
            bundle.verifications,
            bundle.progress,
            [q.expires_at for q in bundle.open_questions],
            now,
        ),
        screen=screen,
        summary=summary,
    )
    return screen, summary
