"""Everything held about one patient, read for their export, and the erasure of what
identifies them. What each column is for and what erasure does to it: docs/privacy.md.

Erasure anonymises in place and deletes nothing: the referrals, plans, appointments,
answers and the ledger stay (without the patient's own words), so every report and
statistic reads the same before and after.

Unlike the rest of the store (backend/store/rows.py), the export's rows stay plain
dicts on purpose: they are read once, as stored, and shaped only by the export's own
answer (the Export* Structs of routes/patient_export.py pick their columns from them);
a row Struct per table here would repeat those answers column for column.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from backend.domain.erasure import Redaction, redaction, search_spellings
from backend.store import outbox, referrals, screens
from backend.store.tables import (
    Appointment,
    AuditLog,
    CallNote,
    Clinic,
    ContactRating,
    Device,
    Event,
    ExternalLink,
    Inbox,
    Media,
    Outbox,
    Patient,
    PatientSession,
    Plan,
    PlanExplanation,
    PlanItem,
    PlanVariant,
    Question,
    Referral,
    ToothState,
)

# The ledger payload keys that hold a patient's free text; the ledger's trigger allows
# exactly these to be set to null (migration m0015).
FREE_TEXT_KEYS = ("note", "comment")
PUSH_TOPIC = "push"  # backend.services.notifications.PUSH: carries a device token
OUTBOUND_TOPIC = "crm.outbound"  # backend.services.crm_outbound.OUTBOUND: a referral to a CRM
MEDIA_ERASE_TOPIC = "media.erase"  # picture files to remove from the media store
# What staff lists show in place of an erased patient's name (their row keeps "").
ERASED_NAME = "erased"


class Holdings(msgspec.Struct, frozen=True, kw_only=True):
    """Rows as the database holds them; the route decides what each becomes."""

    patient: dict[str, Any]
    referrals: list[dict[str, Any]]
    clinics: dict[UUID, dict[str, Any]]
    plans: list[dict[str, Any]]
    plan_items: list[dict[str, Any]]
    teeth: list[dict[str, Any]]
    appointments: list[dict[str, Any]]
    questions: list[dict[str, Any]]
    statements: list[dict[str, Any]]  # the patient's own ledger events, payload decoded
    ratings: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    media: list[dict[str, Any]]
    accesses: list[dict[str, Any]]  # staff views of this patient (the audit log)
    variants: list[dict[str, Any]] = []  # what each plan variant is (titles, pros, cons)
    explanations: list[dict[str, Any]] = []  # visit, problem, solution
    variant_choices: list[dict[str, Any]] = []  # variant_chosen events, any side, decoded
    call_notes: list[dict[str, Any]] = []  # the clinics' call history about the patient


def _payload(raw: Any) -> dict[str, Any]:
    return msgspec.json.decode(raw) if isinstance(raw, str | bytes) else dict(raw)


referral_ids = referrals.ids_of_patient


async def _events(referrals: list[UUID], which, *columns) -> list[dict[str, Any]]:
    """The referrals' events that `which` picks, oldest first, payloads decoded."""
    if not referrals:
        return []
    rows = (
        await Event.select(
            Event.id,
            Event.referral,
            *columns,
            Event.occurred_at,
            Event.recorded_at,
            Event.payload,
        )
        .where(Event.referral.is_in(referrals) & which)
        .order_by(Event.id)
    )
    return [{**r, "payload": _payload(r["payload"])} for r in rows]


async def _patient_statements(referrals: list[UUID]) -> list[dict[str, Any]]:
    return await _events(referrals, Event.side == "patient", Event.kind)


async def _variant_choices(referrals: list[UUID]) -> list[dict[str, Any]]:
    """Every choice of a plan's variant, whoever recorded it (the patient, or a clinic or
    the exchange on the patient's word)."""
    return await _events(referrals, Event.kind == "variant_chosen", Event.side, Event.source)


async def holdings(patient_id: UUID) -> Holdings | None:
    patient = await Patient.select().where(Patient.id == patient_id).first()
    if patient is None:
        return None
    referrals = (
        # Not the fold in progress: a cache of the ledger's, in the store's own encoding.
        await Referral.select(*Referral.all_columns(exclude=[Referral.fold_state]))
        .where(Referral.patient == patient_id)
        .order_by(Referral.sent_at)
    )
    ids = [r["id"] for r in referrals]
    clinic_ids = list({r["clinic"] for r in referrals})
    clinics = (
        {c["id"]: c for c in await Clinic.select().where(Clinic.id.is_in(clinic_ids))}
        if clinic_ids
        else {}
    )

    async def of_referrals(table, *order) -> list[dict[str, Any]]:
        if not ids:
            return []
        return await table.select().where(table.referral.is_in(ids)).order_by(*order)

    plans = await of_referrals(Plan, Plan.referral, Plan.version)
    plan_ids = [p["id"] for p in plans]

    async def of_plans(table, position) -> list[dict[str, Any]]:
        if not plan_ids:
            return []
        return await table.select().where(table.plan.is_in(plan_ids)).order_by(table.plan, position)

    items = await of_plans(PlanItem, PlanItem.position)
    teeth = await of_plans(ToothState, ToothState.tooth)
    variants = await of_plans(PlanVariant, PlanVariant.position)
    explanations = await of_plans(PlanExplanation, PlanExplanation.position)
    return Holdings(
        patient=patient,
        referrals=referrals,
        clinics=clinics,
        plans=plans,
        plan_items=items,
        teeth=teeth,
        appointments=await of_referrals(Appointment, Appointment.starts_at),
        questions=await Question.select()
        .where(Question.patient == patient_id)
        .order_by(Question.asked_at),
        statements=await _patient_statements(ids),
        ratings=await of_referrals(ContactRating, ContactRating.updated_at),
        devices=await Device.select()
        .where(Device.patient == patient_id)
        .order_by(Device.created_at),
        sessions=await PatientSession.select(
            PatientSession.created_at, PatientSession.expires_at, PatientSession.revoked_at
        )
        .where(PatientSession.patient == patient_id)
        .order_by(PatientSession.created_at),
        media=await of_referrals(Media, Media.created_at),
        accesses=await AuditLog.select(AuditLog.at, AuditLog.actor_role, AuditLog.action)
        .where((AuditLog.object_kind == "patient") & (AuditLog.object_id == str(patient_id)))
        .order_by(AuditLog.id),
        variants=variants,
        explanations=explanations,
        variant_choices=await _variant_choices(ids),
        call_notes=await of_referrals(CallNote, CallNote.created_at),
    )


def erased_phone(patient_id: UUID) -> str:
    """Unique like a phone (the column is), never one: E.164 starts with '+'."""
    return "~" + patient_id.hex[-19:]


class Erased(msgspec.Struct, frozen=True, kw_only=True):
    """When, and how many of each thing erasure changed."""

    at: datetime
    devices: int
    sessions: int
    ledger_texts: int
    rating_comments: int
    pushes: int
    media: int
    deliveries: int  # raw deliveries from clinics' systems that named the patient
    crm_referrals: int  # referrals not yet sent to a CRM, cancelled
    call_notes: int = 0  # coordinators' notes about the patient's calls, blanked


async def erase(patient_id: UUID, now: datetime) -> Erased:
    """Anonymise one patient, in the caller's transaction. Picture files are removed by
    the outbox worker once this commits (topic `media.erase`)."""
    before = await Patient.select(Patient.name, Patient.phone).where(Patient.id == patient_id)
    await Patient.update(
        {
            Patient.name: "",
            Patient.phone: erased_phone(patient_id),
            Patient.search_key: "",
            Patient.firebase_uid: None,
            Patient.notification_prefs: "{}",
            Patient.quiet_hours_start: None,
            Patient.quiet_hours_end: None,
            Patient.erased_at: now,
        }
    ).where(Patient.id == patient_id)

    devices = await Device.select(Device.id).where(Device.patient == patient_id)
    for device in devices:  # a token is unique, so each gets its own placeholder
        await Device.update(
            {
                Device.token: f"erased:{device['id']}",
                Device.app_version: "",
                Device.active: False,
                Device.deactivated_at: now,
                Device.deactivated_reason: "erased",
            }
        ).where(Device.id == device["id"])

    sessions = await (
        PatientSession.update({PatientSession.revoked_at: now})
        .where((PatientSession.patient == patient_id) & PatientSession.revoked_at.is_null())
        .returning(PatientSession.id)
    )

    await screens.forget(patient_id)  # built from what is erased here
    ids = await referral_ids(patient_id)
    ledger_texts = 0
    for event in await _patient_statements(ids):
        payload = event["payload"]
        if all(payload.get(k) is None for k in FREE_TEXT_KEYS):
            continue
        redacted = {k: (None if k in FREE_TEXT_KEYS else v) for k, v in payload.items()}
        await Event.update({Event.payload: msgspec.json.encode(redacted).decode()}).where(
            Event.id == event["id"]
        )
        ledger_texts += 1

    ratings: list = []
    pushes = media = deliveries = crm_referrals = call_notes = 0
    if ids:
        ratings = await (
            ContactRating.update({ContactRating.comment: ""})
            .where(ContactRating.referral.is_in(ids) & (ContactRating.comment != ""))
            .returning(ContactRating.id)
        )
        pushes = await _forget_pushes(ids, now)
        media = await _forget_pictures(patient_id, ids, now)
        crm_referrals = await _cancel(OUTBOUND_TOPIC, ids, now)
        notes = await (
            CallNote.update({CallNote.note: ""})
            .where(CallNote.referral.is_in(ids) & (CallNote.note != ""))
            .returning(CallNote.id)
        )
        call_notes = len(notes)
        if before:
            said = redaction(before[0]["name"], before[0]["phone"])
            deliveries = await _scrub_deliveries(
                ids, said, search_spellings(before[0]["name"], before[0]["phone"])
            )
    return Erased(
        at=now,
        devices=len(devices),
        sessions=len(sessions),
        ledger_texts=ledger_texts,
        rating_comments=len(ratings),
        pushes=pushes,
        media=media,
        deliveries=deliveries,
        crm_referrals=crm_referrals,
        call_notes=call_notes,
    )


async def _forget_pictures(patient_id: UUID, referrals: list[UUID], now: datetime) -> int:
    """Rows archived (nobody is served them) with their captions, the clinic's words
    about the patient, emptied; the files, every size of each, go with the outbox message
    queued here."""
    rows = await Media.select(Media.id, Media.storage_key, Media.sizes).where(
        Media.referral.is_in(referrals)
    )
    await Media.update({Media.caption: ""}).where(Media.referral.is_in(referrals))
    await Media.update({Media.archived_at: now}).where(
        Media.referral.is_in(referrals) & Media.archived_at.is_null()
    )
    if rows:
        await outbox.enqueue(
            topic=MEDIA_ERASE_TOPIC,
            payload={"keys": [key for r in rows for key in _picture_keys(r)]},
            now=now,
            dedupe_key=f"media.erase:{patient_id}",
        )
    return len(rows)


def _picture_keys(row: dict[str, Any]) -> list[str]:
    sizes = row["sizes"]
    if isinstance(sizes, str | bytes):
        sizes = msgspec.json.decode(sizes or b"[]")
    return [row["storage_key"], *(size["key"] for size in sizes)]


async def _cancel(topic: str, referrals: list[UUID], now: datetime) -> int:
    cancelled = await (
        Outbox.update({Outbox.status: "cancelled", Outbox.done_at: now})
        .where(
            (Outbox.topic == topic)
            & Outbox.referral.is_in(referrals)
            & (Outbox.status == "pending")
        )
        .returning(Outbox.id)
    )
    return len(cancelled)


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def _scrub_deliveries(referrals: list[UUID], said: Redaction, spellings: list[str]) -> int:
    """Raw deliveries from the clinics' systems that are about the patient (their
    processing named one of the patient's referrals or CRM objects) or that hold the
    patient's name or phone: the name and phone taken out of the body, the error and the
    result, in every spelling (backend.domain.erasure); the ids, stages and outcomes
    derived from them stay, and so does a delivery's use for replay."""
    clinics = {
        r["clinic"]
        for r in await Referral.select(Referral.clinic).where(Referral.id.is_in(referrals))
    }
    external = await ExternalLink.select(ExternalLink.external_id).where(
        ExternalLink.referral.is_in(referrals)
    )
    about = [str(r) for r in referrals] + [f'"{e["external_id"]}"' for e in external]
    conditions = [("body", s) for s in spellings + [str(r) for r in referrals]]
    conditions += [("CAST(result AS TEXT)", s) for s in about]
    where = " OR ".join(f"{column} LIKE {{}} ESCAPE '\\'" for column, _ in conditions)
    clinic_marks = ", ".join("{}" for _ in clinics)
    rows = await Inbox.raw(
        f'SELECT "id", "body", "error", "result" FROM "inbox" '  # noqa: S608 - placeholders only
        f'WHERE "clinic" IN ({clinic_marks}) AND ({where})',
        *clinics,
        *(_like(value) for _, value in conditions),
    )
    changed = 0
    for row in rows:
        result = _payload(row["result"])
        values = {
            Inbox.body: said.apply(row["body"] or ""),
            Inbox.error: said.apply(row["error"]) if row["error"] else row["error"],
            Inbox.result: msgspec.json.encode(said.apply_to_strings(result)).decode(),
        }
        if (
            values[Inbox.body] != (row["body"] or "")
            or values[Inbox.error] != row["error"]
            or said.apply_to_strings(result) != result
        ):
            await Inbox.update(values).where(Inbox.id == row["id"])
            changed += 1
    return changed


async def _forget_pushes(referrals: list[UUID], now: datetime) -> int:
    """Push messages carry a device token: drop it, and cancel those not yet sent."""
    rows = await Outbox.select(Outbox.id, Outbox.payload, Outbox.status).where(
        (Outbox.topic == PUSH_TOPIC) & Outbox.referral.is_in(referrals)
    )
    for row in rows:
        payload = {**_payload(row["payload"]), "address": ""}
        values: dict[Any, Any] = {Outbox.payload: msgspec.json.encode(payload).decode()}
        if row["status"] == "pending":
            values |= {Outbox.status: "cancelled", Outbox.done_at: now}
        await Outbox.update(values).where(Outbox.id == row["id"])
    return len(rows)
