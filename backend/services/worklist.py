"""The coordinator's worklist: one list of what needs a call now, with one-click
outcomes, notes and call-backs (backend.domain.worklist says why and in what order).

An outcome that is a fact about the call (booked, declined, unreachable) is the clinic's
claim, recorded through the same door as every claim; the note and any call-back go to
the referral's call history beside it.
"""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from backend.domain.claims import ContactedIn
from backend.domain.events import Source
from backend.domain.worklist import (
    CLAIMED,
    UNREACHABLE_RETRY,
    WIN_BACK_WITHIN,
    Entry,
    Outcome,
    Reason,
    declined_recently,
    first_contact_reason,
    open_reasons,
)
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services.audit import Viewer, saw
from backend.services.claims import record_clinic_claim
from backend.services.desk import WORKLIST_MAX, referral_in_scope
from backend.services.errors import Invalid
from backend.services.staff_alerts import clinic_calendar, sla_of
from backend.services.staff_auth import StaffPrincipal
from backend.store import parties
from backend.store import worklist as store
from backend.store.engine import write_transaction
from backend.store.rows import CallNoteRow, ClinicRow

Note = Annotated[str, msgspec.Meta(max_length=2000)]


class WorkItem(msgspec.Struct, frozen=True, kw_only=True):
    referral_id: UUID
    patient_name: str
    patient_phone: str
    step: str
    reason: Reason  # the most urgent
    reasons: list[Reason]
    since: datetime
    due_at: datetime | None
    key: str  # of the most urgent reason's occurrence (what "let go" closes)
    callback_note: str | None = None


class CallBack(msgspec.Struct, frozen=True, kw_only=True):
    referral_id: UUID
    patient_name: str
    at: datetime
    note: str


class Worklist(msgspec.Struct, frozen=True, kw_only=True):
    items: list[WorkItem]
    total: int
    later: list[CallBack]  # call-backs set for later: off the list until then


async def _entries(clinic: ClinicRow, now: datetime) -> dict[UUID, list[Entry]]:
    clinic_id = clinic.id
    tz, hours = await clinic_calendar(clinic)
    sla = await sla_of(clinic)
    found: dict[UUID, list[Entry]] = {}

    def add(referral_id: UUID, entry: Entry) -> None:
        found.setdefault(referral_id, []).append(entry)

    for r in await store.uncontacted(clinic_id, limit=WORKLIST_MAX):
        reason, due = first_contact_reason(r.sent_at, sla=sla, tz=tz, hours=hours, now=now)
        add(r.id, Entry(reason=reason, since=r.sent_at, key=reason.value, due_at=due))
    for r in await store.nobody_called(clinic_id, limit=WORKLIST_MAX):
        said = r.patient_said_at or now
        add(r.referral, Entry(reason=Reason.nobody_called, since=said, key="nobody_called"))
    for r in await store.missed_appointments(clinic_id, limit=WORKLIST_MAX):
        reason = {"noshow": Reason.no_show, "cancelled": Reason.cancelled}.get(
            r.status, Reason.patient_declined
        )
        add(
            r.referral,
            Entry(reason=reason, since=r.starts_at, key=f"{reason.value}:{r.id}"),
        )
    for r in await store.declined(clinic_id, since=now - WIN_BACK_WITHIN, limit=WORKLIST_MAX):
        declined_at = r.step_at.get("declined")
        if declined_recently(declined_at, now):
            assert declined_at is not None
            key = f"declined:{declined_at.isoformat()}"
            add(r.id, Entry(reason=Reason.declined, since=declined_at, key=key))
    for r in await store.behind(clinic_id, limit=WORKLIST_MAX):
        finish = r.expected_finish or r.updated_at
        key = f"behind:{finish.date().isoformat()}"
        add(r.id, Entry(reason=Reason.behind, since=finish, key=key))
    return found


async def worklist(
    viewer: Viewer, *, now: datetime | None = None, limit: int = 50, offset: int = 0
) -> Worklist:
    """The clinic's list, most urgent first, a page at a time."""
    now = now or utcnow()
    clinic = await parties.clinic(viewer.principal.clinic_id)
    assert clinic is not None  # clinic staff always have one
    found = await _entries(clinic, now)
    callbacks = await store.open_callbacks(clinic.id, limit=WORKLIST_MAX)
    snoozed: dict[UUID, CallNoteRow] = {}
    for c in callbacks:
        snoozed.setdefault(c.referral, c)  # the earliest open call-back
    for referral_id, c in snoozed.items():
        if c.callback_at <= now:
            entry = Entry(reason=Reason.callback, since=c.callback_at, key="callback")
            found.setdefault(referral_id, []).append(entry)
    let_go: dict[UUID, set[str]] = {}
    for n in await store.let_go(list(found)):
        let_go.setdefault(n.referral, set()).add(n.reason)
    who = await store.people(list(found | snoozed))
    items: list[WorkItem] = []
    for referral_id, entries in found.items():
        c = snoozed.get(referral_id)
        wait_until = c.callback_at if c is not None else None
        live = open_reasons(
            entries, let_go=let_go.get(referral_id, set()), snoozed_until=wait_until, now=now
        )
        person = who.get(referral_id)
        if not live or person is None:
            continue
        top = live[0]
        items.append(
            WorkItem(
                referral_id=referral_id,
                patient_name=person.patient_name,
                patient_phone=person.patient_phone,
                step=person.step,
                reason=top.reason,
                reasons=[e.reason for e in live],
                since=top.since,
                due_at=top.due_at,
                key=top.key,
                callback_note=c.note if c is not None and c.callback_at <= now else None,
            )
        )
    items.sort(key=lambda i: (list(Reason).index(i.reason), i.since))
    later = [
        CallBack(
            referral_id=referral_id,
            patient_name=who[referral_id].patient_name if referral_id in who else "",
            at=c.callback_at,
            note=c.note,
        )
        for referral_id, c in snoozed.items()
        if c.callback_at > now
    ]
    page = items[offset : offset + limit]
    await saw(
        viewer,
        action="view_worklist",
        object_kind="clinic",
        object_id=str(clinic.id),
        details={"shown": len(page), "offset": offset},
    )
    return Worklist(items=page, total=len(items), later=sorted(later, key=lambda c: c.at))


class OutcomeIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    outcome: Literal["booked", "declined", "unreachable", "callback", "note", "let_go"]
    appointment_at: datetime | None = None  # for booked
    reason: Annotated[str, msgspec.Meta(max_length=500)] | None = None  # for declined
    note: Note = ""
    callback_at: datetime | None = None  # for callback (and optionally unreachable)
    key: Annotated[str, msgspec.Meta(max_length=80)] = ""  # the entry answered


class OutcomeRecorded(msgspec.Struct, frozen=True, kw_only=True):
    note_id: UUID
    event_id: int | None  # the claim recorded, if the outcome is one
    step: str | None
    callback_at: datetime | None


async def record_outcome(
    staff: StaffPrincipal, referral_id: UUID, data: OutcomeIn, *, now: datetime | None = None
) -> OutcomeRecorded:
    """One click on the worklist: the claim it stands for (if any), then the note and any
    call-back. Open call-backs of the referral are done once something is recorded."""
    now = now or utcnow()
    referral = await referral_in_scope(staff, referral_id)
    outcome = Outcome(data.outcome)
    callback_at = data.callback_at
    if outcome is Outcome.callback and callback_at is None:
        raise Invalid("a call-back needs callback_at")
    if callback_at is not None and callback_at <= now:
        raise Invalid("callback_at must be in the future")
    if outcome is Outcome.unreachable and callback_at is None:
        callback_at = now + UNREACHABLE_RETRY
    if outcome is Outcome.let_go and not data.key:
        raise Invalid("say which entry to let go (its key)")
    if outcome is Outcome.note and not data.note.strip():
        raise Invalid("a note needs words")
    event_id = step = None
    if outcome in CLAIMED:
        recorded = await record_clinic_claim(
            referral_id,
            ContactedIn(
                outcome=outcome.value,  # type: ignore[arg-type]
                appointment_at=data.appointment_at,
                reason=data.reason or (data.note.strip()[:500] or None)
                if outcome is Outcome.declined
                else None,
            ),
            source=Source.clinic_panel,
            actor=staff.actor,
            now=now,
        )
        event_id, step = recorded.event.id, recorded.fold.step.value
    note_id = new_id()
    async with write_transaction():
        if outcome is not Outcome.note:
            await store.close_callbacks(referral_id, now)
        await store.add_note(
            note_id=note_id,
            referral_id=referral_id,
            clinic_id=referral.clinic,
            staff_id=staff.staff_id,
            outcome=outcome.value,
            reason=data.key,
            note=data.note.strip(),
            callback_at=callback_at,
            now=now,
        )
    return OutcomeRecorded(note_id=note_id, event_id=event_id, step=step, callback_at=callback_at)


class CallNoteOut(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    outcome: str
    note: str
    by: str
    at: datetime
    callback_at: datetime | None
    callback_done_at: datetime | None


async def call_history(
    viewer: Viewer, referral_id: UUID, *, limit: int = 50, before: datetime | None = None
) -> list[CallNoteOut]:
    await referral_in_scope(viewer.principal, referral_id)
    rows = await store.history(referral_id, limit=limit, before=before)
    names = await parties.staff_names(list({r.staff for r in rows}))
    return [
        msgspec.convert(
            {**msgspec.structs.asdict(r), "by": names.get(r.staff, ""), "at": r.created_at},
            CallNoteOut,
        )
        for r in rows
    ]


def local_time(day: str, at: str, tz) -> datetime:
    """A date and time typed into a form, in the clinic's zone."""
    from datetime import date, time

    try:
        return datetime.combine(date.fromisoformat(day), time.fromisoformat(at or "10:00"), tz)
    except ValueError as exc:
        raise Invalid("a date (YYYY-MM-DD) and a time (HH:MM)") from exc
