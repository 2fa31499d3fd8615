"""The exchange's own actions: clinics, transfers between clinics, dispute rulings."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from backend.domain.events import Body, Resolution, Sent, Source, Transferred
from backend.domain.funnel import fold_referral
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id, short_code
from backend.services.audit import Viewer, saw
from backend.services.clinic_settings import request_restatement
from backend.services.crm_outbound import announce_referral
from backend.services.errors import Conflict, Invalid, NotFound
from backend.services.phones import BadPhone, normalise_phone
from backend.services.recording import Recorded, Statement, record, record_locked
from backend.services.referrals import plan_set_event
from backend.store import desk, ledger, parties, plans, referrals
from backend.store.engine import write_transaction
from backend.store.rows import ClinicRow

Channel = Literal["panel", "bitrix24", "amocrm", "webhook", "ident"]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


# A first-contact SLA: a quarter of an hour to a week (a larger number would not even
# fit the column).
SlaMinutes = Annotated[int, msgspec.Meta(ge=15, le=7 * 24 * 60)]


class ClinicIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name
    city: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    timezone: Annotated[str, msgspec.Meta(examples=["Europe/Moscow"])] = "Europe/Moscow"
    district: Annotated[str, msgspec.Meta(max_length=100)] | None = None
    address: Annotated[str, msgspec.Meta(max_length=300)] = ""
    phone: Annotated[str, msgspec.Meta(max_length=32)] = ""
    delivery_channel: Channel = "panel"
    first_contact_sla_minutes: SlaMinutes | None = None


class ClinicChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    city: str | msgspec.UnsetType = msgspec.UNSET
    timezone: str | msgspec.UnsetType = msgspec.UNSET
    district: str | msgspec.UnsetType | None = msgspec.UNSET
    address: str | msgspec.UnsetType = msgspec.UNSET
    phone: str | msgspec.UnsetType = msgspec.UNSET
    delivery_channel: Channel | msgspec.UnsetType = msgspec.UNSET
    first_contact_sla_minutes: SlaMinutes | msgspec.UnsetType | None = msgspec.UNSET


def _check_clinic_fields(values: dict) -> dict:
    if "timezone" in values:
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Invalid(f"timezone: {values['timezone']} is not an IANA time zone") from exc
    if values.get("phone"):
        try:
            values["phone"] = normalise_phone(values["phone"])
        except BadPhone as exc:
            raise Invalid(f"phone: {exc}") from exc
    return values


async def clinics(*, include_archived: bool = False) -> list[ClinicRow]:
    """Every clinic by name; archived ones only when asked."""
    return await desk.clinics(include_archived=include_archived)


async def clinic(clinic_id: UUID) -> ClinicRow:
    row = await parties.clinic(clinic_id)
    if row is None:
        raise NotFound("no such clinic")
    return row


async def clinic_zone(clinic_id: UUID) -> ZoneInfo:
    """The clinic's time zone: its days, appointments and reports are in it."""
    return ZoneInfo((await clinic(clinic_id)).timezone)


async def create_clinic(data: ClinicIn, *, now: datetime | None = None) -> UUID:
    values = _check_clinic_fields(msgspec.structs.asdict(data))
    clinic_id = new_id()
    async with write_transaction():
        await parties.insert_clinic(clinic_id=clinic_id, now=now or utcnow(), **values)
    return clinic_id


async def update_clinic(
    clinic_id: UUID, change: ClinicChange, *, viewer: Viewer | None = None
) -> ClinicRow:
    """Change a clinic's record. Its first-contact SLA is one of its settings: a change
    of it is audited and restates the reports, as on the settings page."""
    values = {k: v for k, v in msgspec.structs.asdict(change).items() if v is not msgspec.UNSET}
    values = _check_clinic_fields(values)
    async with write_transaction():
        before = await parties.clinic(clinic_id)
        if before is None:
            raise NotFound("no such clinic")
        if values:
            await parties.update_clinic(clinic_id, values)
        sla = "first_contact_sla_minutes"
        if sla in values and values[sla] != before.first_contact_sla_minutes:
            now = utcnow()
            if viewer is not None:
                await saw(
                    viewer,
                    action="change_settings",
                    object_kind="clinic",
                    object_id=str(clinic_id),
                    details={sla: {"from": before.first_contact_sla_minutes, "to": values[sla]}},
                )
            await request_restatement(clinic_id, reason=f"settings: {sla}", viewer=viewer, now=now)
    clinic = await parties.clinic(clinic_id)
    assert clinic is not None
    return clinic


async def set_clinic_archived(clinic_id: UUID, archived: bool) -> ClinicRow:
    """Archive (or restore) a clinic: it gets no new referrals; nothing is deleted."""
    async with write_transaction():
        if await parties.clinic(clinic_id) is None:
            raise NotFound("no such clinic")
        await parties.set_clinic_archived_at(clinic_id, utcnow() if archived else None)
    clinic = await parties.clinic(clinic_id)
    assert clinic is not None
    return clinic


def _exchange_says(body: Body, actor: str, key: str) -> Statement:
    """What the exchange's operator (`actor`) records about a referral."""
    return Statement(body=body, source=Source.exchange, actor=actor, idempotency_key=key)


async def resolve_dispute(
    verification_id: UUID,
    *,
    outcome: Literal["happened", "did_not_happen"],
    note: str,
    actor: str,
    now: datetime | None = None,
) -> Recorded:
    """The exchange's ruling on a disputed or clinic-silent milestone: itself an event."""
    row = await desk.verification(verification_id)
    if row is None:  # a missing dispute is a 404 whatever the form says
        raise NotFound("no such dispute")
    if not note.strip():
        raise Invalid("a ruling needs a note saying why")
    if row.state not in ("disputed", "clinic_silent"):
        raise Conflict(f"this milestone is {row.state}, not in dispute")
    return await record(
        row.referral,
        _exchange_says(
            Resolution(milestone=row.milestone, outcome=outcome, note=note.strip()),
            actor,
            f"resolution:{verification_id}:{new_id()}",
        ),
        now=now or utcnow(),
    )


class Transfer(msgspec.Struct, frozen=True, kw_only=True):
    old_referral_id: UUID
    new_referral_id: UUID
    invite_code: str
    moved_items: int
    moved_money: int


async def transfer_referral(
    referral_id: UUID,
    *,
    to_clinic_id: UUID,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> Transfer:
    """The patient leaves mid-plan: the items not yet done, and their money, move to a new
    referral at another clinic, linked to this one (docs/domain.md, "The funnel")."""
    now = now or utcnow()
    if not reason.strip():
        raise Invalid("a transfer needs a reason")
    async with write_transaction():
        old = await referrals.lock(referral_id)
        if old is None:
            raise NotFound("no such referral")
        if old.clinic == to_clinic_id:
            raise Conflict("the referral is already at that clinic")
        target = await parties.clinic(to_clinic_id)
        if target is None or target.archived_at is not None:
            raise NotFound("no such clinic")
        fold = fold_referral(await ledger.events_of(referral_id))
        if not fold.is_open or fold.plan is None:
            raise Conflict(f"cannot transfer a referral that is {fold.step}")
        versions = await plans.versions_of(referral_id)
        current = next(v for v in versions if v.version == fold.plan.version)
        left = {line.item_id for line in fold.plan.chosen_lines()} - set(fold.done_items)
        items = [i for i in await plans.items_of(current.id) if i.item_id in left]
        if not items:
            raise Conflict("nothing is left to transfer")
        teeth = await plans.teeth_of(current.id)

        new_id_, plan_id, code = new_id(), new_id(), short_code()
        await referrals.insert(
            referral_id=new_id_,
            patient_id=old.patient,
            clinic_id=to_clinic_id,
            invite_code=code,
            sent_at=now,
            currency=fold.money.currency,
            now=now,
            transferred_from=referral_id,
        )
        await plans.insert_version(
            plan_id=plan_id,
            referral_id=new_id_,
            version=1,
            origin="estimated",
            currency=fold.money.currency,
            items=items,
            teeth=teeth,
            chosen_variant=None,
            reason=reason,
            created_by=actor,
            now=now,
        )
        await record_locked(
            old,
            [
                _exchange_says(
                    Transferred(to_referral_id=new_id_, to_clinic_id=to_clinic_id),
                    actor,
                    f"transfer:{referral_id}:{new_id_}",
                )
            ],
            now,
        )
        locked_new = await referrals.lock(new_id_)
        assert locked_new is not None
        await record_locked(
            locked_new,
            [
                _exchange_says(
                    plan_set_event(
                        plan_id, 1, "estimated", fold.money.currency, items, None, reason
                    ),
                    actor,
                    f"plan:{plan_id}",
                ),
                _exchange_says(
                    Sent(clinic_id=to_clinic_id, transferred_from=referral_id),
                    actor,
                    f"sent:{new_id_}",
                ),
            ],
            now,
        )
        await announce_referral(new_id_, to_clinic_id, now)
    return Transfer(
        old_referral_id=referral_id,
        new_referral_id=new_id_,
        invite_code=code,
        moved_items=len(items),
        moved_money=sum(i.price for i in items),
    )
