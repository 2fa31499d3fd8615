"""What clinic staff and exchange operators read: referral lists, the referral card,
its timeline, ratings, the patients who say nobody called, the dispute queue.

Clinic staff see their own clinic only; anything else is answered as missing. Every
read that shows a patient's personal data is written to the audit log.
"""

from datetime import datetime
from typing import TypeVar
from uuid import UUID

import msgspec

from backend.domain.events import DisputeAnswer, Event, ReceiptAttached, VisitCosigned
from backend.domain.funnel import ITEM_PREFIX, ReferralFold
from backend.domain.norms import Norms
from backend.domain.roles import needs_clinic
from backend.domain.verification import Verification, verify
from backend.services import referral_view
from backend.services.audit import Viewer, saw
from backend.services.clinic_settings import policy_for
from backend.services.errors import NotFound
from backend.services.patient_reads import ReferralBundle, referral_bundle
from backend.services.referral_view import PlanVersion
from backend.services.staff_auth import StaffPrincipal
from backend.store import (
    appointments,
    contact_ratings,
    desk,
    ledger,
    media,
    plans,
    privacy,
    referrals,
)
from backend.store.desk import ReferralFilter
from backend.store.rows import (
    AppointmentRow,
    AuditRow,
    ClinicCard,
    DeskRating,
    DeskReferral,
    MediaRow,
    NobodyCalled,
    PatientCard,
    RatingRow,
    ReferralRow,
)

# A worklist (who to call back, plans behind schedule) is shown whole, up to this many
# rows, oldest first, so one answer stays a bounded size.
WORKLIST_MAX = 500
R = TypeVar("R")


def clinic_scope(principal: StaffPrincipal) -> UUID | None:
    """The clinic a staff member is confined to; None for the exchange."""
    return principal.clinic_id if needs_clinic(principal.role) else None


async def referral_in_scope(principal: StaffPrincipal, referral_id: UUID) -> ReferralRow:
    row = await referrals.get(referral_id)
    scope = clinic_scope(principal)
    if row is None or (scope is not None and row.clinic != scope):
        raise NotFound("no such referral")
    return row


async def list_referrals(
    viewer: Viewer,
    filters: ReferralFilter,
    *,
    limit: int,
    before: tuple[datetime, UUID] | None = None,
) -> list[DeskReferral]:
    scope = clinic_scope(viewer.principal)
    if scope is not None:
        if filters.clinic_id not in (None, scope):
            return []  # another clinic's list is as empty as a missing one
        filters = msgspec.structs.replace(filters, clinic_id=scope)
    rows = await desk.referrals(filters, limit=limit, before=before)
    await saw(
        viewer,
        action="list_referrals",
        object_kind="clinic",
        object_id=str(filters.clinic_id or "all"),
        details={"shown": len(rows), "search": bool(filters.search)},
    )
    return rows


class ReferralCard(msgspec.Struct, frozen=True, kw_only=True):
    referral: ReferralRow
    patient: PatientCard
    clinic: ClinicCard
    fold: ReferralFold
    verifications: dict[str, Verification]
    plans: list[PlanVersion]
    rating: RatingRow | None
    events: list[Event]
    norms: Norms | None = None  # the clinic's duration norms, for each option's length


async def referral_card(viewer: Viewer, referral_id: UUID, now: datetime) -> ReferralCard:
    scope = clinic_scope(viewer.principal)
    view = await referral_view.load(referral_id, lambda row: scope is None or row.clinic == scope)
    if view is None:
        raise NotFound("no such referral")
    patient = view.patient
    if patient.erased_at is not None:  # as the lists show it (backend.store.desk)
        patient = msgspec.structs.replace(patient, name=privacy.ERASED_NAME, phone="")
    policy = await policy_for(view.clinic)
    rating = await contact_ratings.of_referral(referral_id)
    await saw(
        viewer,
        action="view_referral",
        object_kind="patient",
        object_id=str(patient.id),
        details={"referral_id": str(referral_id)},
    )
    return ReferralCard(
        referral=view.referral,
        patient=patient,
        clinic=view.clinic,
        fold=view.fold,
        verifications=verify(view.fold, now, policy),
        plans=view.plans,
        rating=rating,
        events=view.events,
        norms=view.norms,
    )


async def appointments_of(referral_id: UUID) -> list[AppointmentRow]:
    return await appointments.of_referral(referral_id)


async def _listed(viewer: Viewer, action: str, clinic_id: UUID, rows: list[R]) -> list[R]:
    """A clinic's list, its viewing audited (how many rows it showed)."""
    await saw(
        viewer,
        action=action,
        object_kind="clinic",
        object_id=str(clinic_id),
        details={"shown": len(rows)},
    )
    return rows


async def ratings(viewer: Viewer, clinic_id: UUID, *, limit: int = 200) -> list[DeskRating]:
    return await _listed(
        viewer, "list_ratings", clinic_id, await desk.ratings(clinic_id, limit=limit)
    )


async def nobody_called(
    viewer: Viewer, clinic_id: UUID, *, limit: int = WORKLIST_MAX
) -> list[NobodyCalled]:
    rows = await desk.nobody_called(clinic_id, limit=limit)
    return await _listed(viewer, "list_nobody_called", clinic_id, rows)


async def follow_up(
    viewer: Viewer, clinic_id: UUID, *, limit: int = WORKLIST_MAX
) -> list[DeskReferral]:
    rows = await desk.behind_schedule(clinic_id, limit=limit)
    return await _listed(viewer, "list_follow_up", clinic_id, rows)


class DisputeWord(msgspec.Struct, frozen=True, kw_only=True):
    """One side's word on a milestone in dispute: the clinic's claim or the patient's."""

    event_id: int
    kind: str
    source: str
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    note: str | None  # the event's note, comment or reason
    answer: str | None  # a patient's answer
    amount: int | None  # a payment or a receipt: the sum it states


class DisputeReceipt(msgspec.Struct, frozen=True, kw_only=True):
    """A fiscal receipt the patient attached: evidence of payment."""

    amount: int
    issued_at: datetime
    fn: str
    fd: str


class DisputeReply(msgspec.Struct, frozen=True, kw_only=True):
    """The clinic's own words on the dispute (an answer, never a claim)."""

    note: str
    actor: str
    recorded_at: datetime


class Dispute(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    referral_id: UUID
    clinic_id: UUID
    clinic_name: str
    patient_name: str  # "erased" for a patient who had their data erased
    milestone: str
    item_title: str | None  # for a plan item's milestone: which procedure
    state: str
    clinic_claim: DisputeWord | None
    patient_word: DisputeWord | None
    receipts: list[DisputeReceipt]
    visit_code_used: bool
    since: datetime
    patient_erased: bool = False
    # The clinic's answers to this dispute (its words join the evidence), oldest first.
    clinic_answers: list[DisputeReply] = []


def _word(event: Event) -> DisputeWord:
    body = msgspec.to_builtins(event.body)
    return DisputeWord(
        event_id=event.id,
        kind=event.kind,
        source=event.source.value,
        actor=event.actor,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        note=body.get("note") or body.get("comment") or body.get("reason"),
        answer=body.get("answer"),
        amount=body.get("amount"),
    )


async def dispute_queue(
    viewer: Viewer,
    *,
    clinic_id: UUID | None,
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> list[Dispute]:
    rows = await desk.disputes(clinic_id=clinic_id, limit=limit, after=after)
    out = []
    for row in rows:
        events = {e.id: e for e in await ledger.events_of(row.referral_id)}
        claim = events.get(row.claim_event_id) if row.claim_event_id else None
        word = events.get(row.patient_event_id) if row.patient_event_id else None
        item_title = None
        if row.milestone.startswith(ITEM_PREFIX):
            item_id = UUID(row.milestone.removeprefix(ITEM_PREFIX))
            for version in reversed(await plans.versions_of(row.referral_id)):
                item = next(
                    (i for i in await plans.items_of(version.id) if i.item_id == item_id), None
                )
                if item is not None:
                    item_title = item.title_ru or item.title_en
                    break
        said = [t for t in (row.clinic_said_at, row.patient_said_at) if t]
        found = {
            "patient_erased": row.patient_erased_at is not None,
            "item_title": item_title,
            "clinic_claim": _word(claim) if claim else None,
            "patient_word": _word(word) if word else None,
            "receipts": [
                DisputeReceipt(
                    amount=e.body.amount, issued_at=e.body.issued_at, fn=e.body.fn, fd=e.body.fd
                )
                for e in events.values()
                if isinstance(e.body, ReceiptAttached)
            ],
            "visit_code_used": any(isinstance(e.body, VisitCosigned) for e in events.values()),
            "clinic_answers": [
                DisputeReply(note=e.body.note, actor=e.actor, recorded_at=e.recorded_at)
                for e in sorted(events.values(), key=lambda e: e.id)
                if isinstance(e.body, DisputeAnswer) and e.body.milestone == row.milestone
            ],
            "since": min(said) if said else row.updated_at,
        }
        out.append(msgspec.convert({**msgspec.structs.asdict(row), **found}, Dispute))
    await saw(
        viewer,
        action="list_disputes",
        object_kind="clinic",
        object_id=str(clinic_id or "all"),
        details={"shown": len(out)},
    )
    return out


async def audit_log(
    *,
    limit: int,
    before_id: int | None = None,
    object_id: str | None = None,
    actor: str | None = None,
) -> list[AuditRow]:
    return await desk.audit_entries(
        limit=limit, before_id=before_id, object_id=object_id, actor=actor
    )


async def pictures(viewer: Viewer, referral_id: UUID) -> list[MediaRow]:
    """A referral's pictures for its clinic's staff (and the exchange), oldest first."""
    row = await referral_in_scope(viewer.principal, referral_id)
    found = await media.of_referral(referral_id)
    await saw(
        viewer,
        action="view_pictures",
        object_kind="patient",
        object_id=str(row.patient),
        details={"referral_id": str(referral_id), "shown": len(found)},
    )
    return found


async def plan_bundle(viewer: Viewer, referral_id: UUID, now: datetime) -> ReferralBundle:
    """The patient's plan screen as the clinic prints it from the card (and the exchange):
    in scope, and written to the audit log."""
    row = await referral_in_scope(viewer.principal, referral_id)
    bundle = await referral_bundle(row.patient, referral_id, now)
    await saw(
        viewer,
        action="print_plan",
        object_kind="patient",
        object_id=str(row.patient),
        details={"referral_id": str(referral_id)},
    )
    return bundle
