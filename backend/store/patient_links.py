"""Patients' personal links, the SMS codes that prove a phone, and the browser sessions
they open. Every secret is stored as a hash only."""

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from backend.store.rows import (
    LinkedReferral,
    PatientLinkRow,
    ReferralOwner,
    SmsCodeRow,
    WebSessionRow,
    json_object,
    typed,
)
from backend.store.tables import PatientLink, PatientWebSession, Referral, SmsCode

T = TypeVar("T")

# What a page needs to decide whether a link still works, in one statement by its hash.
_LINK_BY_HASH = (
    "SELECT l.id, l.referral, l.patient, l.question, l.revoked_at, r.step, r.step_at, "
    "r.archived_at AS referral_archived_at, p.erased_at, p.locale "
    "FROM patient_link l JOIN referral r ON r.id = l.referral "
    "JOIN patient p ON p.id = l.patient WHERE l.token_hash = {}"
)


async def insert_link(
    *,
    link_id: UUID,
    referral_id: UUID,
    patient_id: UUID,
    question_id: UUID | None,
    token_hash: str,
    now: datetime,
) -> None:
    await PatientLink.insert(
        PatientLink(
            id=link_id,
            referral=referral_id,
            patient=patient_id,
            question=question_id,
            token_hash=token_hash,
            created_at=now,
        )
    )


def _with_step_times(row: dict[str, Any], shape: type[T]) -> T:
    return typed({**row, "step_at": json_object(row["step_at"])}, shape)


async def link_by_hash(token_hash: str) -> LinkedReferral | None:
    rows = await PatientLink.raw(_LINK_BY_HASH, token_hash)
    return _with_step_times(rows[0], LinkedReferral) if rows else None


async def live_page_link(referral_id: UUID) -> PatientLinkRow | None:
    """The newest link of a referral that is not revoked and opens the page itself (no
    question first): the one a printed plan reuses."""
    row = (
        await PatientLink.select()
        .where(
            (PatientLink.referral == referral_id)
            & PatientLink.revoked_at.is_null()
            & PatientLink.question.is_null()
        )
        .order_by(PatientLink.created_at, ascending=False)
        .first()
    )
    return None if row is None else typed(row, PatientLinkRow)


async def any_revoked(referral_id: UUID) -> bool:
    return await PatientLink.exists().where(
        (PatientLink.referral == referral_id) & PatientLink.revoked_at.is_not_null()
    )


async def revoke_links(
    *, referral_id: UUID | None = None, patient_id: UUID | None = None, now: datetime
) -> int:
    """Revoke the live links of a referral, or of every referral of a patient."""
    where = PatientLink.revoked_at.is_null()
    if referral_id is not None:
        where &= PatientLink.referral == referral_id
    if patient_id is not None:
        where &= PatientLink.patient == patient_id
    rows = (
        await PatientLink.update({PatientLink.revoked_at: now})
        .where(where)
        .returning(PatientLink.id)
    )
    return len(rows)


# --- codes ---------------------------------------------------------------------------------


async def insert_code(
    *,
    code_id: UUID,
    referral_id: UUID,
    patient_id: UUID,
    code_hash: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await SmsCode.insert(
        SmsCode(
            id=code_id,
            referral=referral_id,
            patient=patient_id,
            code_hash=code_hash,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def code(code_id: UUID) -> SmsCodeRow | None:
    row = await SmsCode.select().where(SmsCode.id == code_id).first()
    return None if row is None else typed(row, SmsCodeRow)


async def live_codes(referral_id: UUID, now: datetime) -> list[SmsCodeRow]:
    rows = await SmsCode.select().where(
        (SmsCode.referral == referral_id) & SmsCode.used_at.is_null() & (SmsCode.expires_at > now)
    )
    return [typed(r, SmsCodeRow) for r in rows]


async def use_code(code_id: UUID, now: datetime) -> bool:
    rows = await SmsCode.raw(
        'UPDATE "sms_code" SET "used_at" = {} WHERE "id" = {} AND "used_at" IS NULL RETURNING "id"',
        now,
        code_id,
    )
    return bool(rows)


async def expire_codes(patient_id: UUID, now: datetime) -> int:
    """End every code not yet used (erasure): a code in flight opens nothing afterwards."""
    rows = (
        await SmsCode.update({SmsCode.expires_at: now})
        .where(
            (SmsCode.patient == patient_id) & SmsCode.used_at.is_null() & (SmsCode.expires_at > now)
        )
        .returning(SmsCode.id)
    )
    return len(rows)


# --- browser sessions ------------------------------------------------------------------------


async def insert_session(
    *, session_id: UUID, patient_id: UUID, token_hash: str, now: datetime, expires_at: datetime
) -> None:
    await PatientWebSession.insert(
        PatientWebSession(
            id=session_id,
            patient=patient_id,
            token_hash=token_hash,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def session_by_hash(token_hash: str) -> WebSessionRow | None:
    row = await PatientWebSession.select().where(PatientWebSession.token_hash == token_hash).first()
    return None if row is None else typed(row, WebSessionRow)


async def sessions_of(patient_id: UUID) -> list[WebSessionRow]:
    rows = (
        await PatientWebSession.select()
        .where(PatientWebSession.patient == patient_id)
        .order_by(PatientWebSession.created_at)
    )
    return [typed(r, WebSessionRow) for r in rows]


async def end_session(session_id: UUID, now: datetime) -> None:
    await PatientWebSession.update({PatientWebSession.revoked_at: now}).where(
        (PatientWebSession.id == session_id) & PatientWebSession.revoked_at.is_null()
    )


async def end_sessions(patient_id: UUID, now: datetime) -> int:
    rows = (
        await PatientWebSession.update({PatientWebSession.revoked_at: now})
        .where((PatientWebSession.patient == patient_id) & PatientWebSession.revoked_at.is_null())
        .returning(PatientWebSession.id)
    )
    return len(rows)


async def referral_owner(referral_id: UUID) -> ReferralOwner | None:
    """A referral's patient and state, for minting a link."""
    rows = await Referral.raw(
        "SELECT r.id, r.patient, r.step, r.step_at, r.sent_at, r.archived_at, p.erased_at "
        "FROM referral r JOIN patient p ON p.id = r.patient WHERE r.id = {}",
        referral_id,
    )
    return _with_step_times(rows[0], ReferralOwner) if rows else None


async def drop_hashes(patient_id: UUID) -> None:
    """Erasure: no hash of a patient's link, code or browser cookie is kept (the unique
    columns get a placeholder per row, as device tokens do)."""
    await PatientLink.raw(
        'UPDATE "patient_link" SET "token_hash" = \'erased:\' || CAST("id" AS TEXT) '
        'WHERE "patient" = {}',
        patient_id,
    )
    await PatientWebSession.raw(
        'UPDATE "patient_web_session" SET "token_hash" = \'erased:\' || CAST("id" AS TEXT) '
        'WHERE "patient" = {}',
        patient_id,
    )
    await SmsCode.update({SmsCode.code_hash: ""}).where(SmsCode.patient == patient_id)
