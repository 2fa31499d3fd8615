"""Settings rows (the exchange's defaults, each clinic's own), duration norms by scope,
and the restatements that follow a change."""

from datetime import date, datetime, time
from typing import Any
from uuid import UUID

from backend.domain.clinic_settings import SettingValues
from backend.domain.norms import DurationNorm as Norm
from backend.runtime.ids import new_id
from backend.store import screens
from backend.store.rows import RestatementRow, typed
from backend.store.tables import Clinic, ClinicSetting, Referral, Restatement
from backend.store.tables import DurationNorm as NormRow

EXCHANGE = "exchange"


def _values(row: dict[str, Any] | None, sla: Any = None) -> SettingValues:
    if row is None:
        return SettingValues(first_contact_sla_minutes=sla)
    return SettingValues(
        opens=time.fromisoformat(row["opens"]) if row["opens"] else None,
        closes=time.fromisoformat(row["closes"]) if row["closes"] else None,
        weekdays=(
            tuple(int(d) for d in row["weekdays"].split(",") if d)
            if row["weekdays"] is not None
            else None
        ),
        holidays=(
            tuple(date.fromisoformat(d) for d in row["holidays"].split(",") if d)
            if row["holidays"] is not None
            else None
        ),
        first_contact_sla_minutes=sla if sla is not None else row["first_contact_sla_minutes"],
        answer_window_hours=row["answer_window_hours"],
        visit_grace_hours=row["visit_grace_hours"],
        sender_name=row["sender_name"],
    )


UNKNOWN = object()  # layers(): the caller has not got the clinic's SLA at hand


async def layers(
    clinic_id: UUID | None, clinic_sla: object = UNKNOWN
) -> tuple[SettingValues, SettingValues]:
    """(the exchange's layer, the clinic's layer) in one indexed read, and one more for
    the clinic's first-contact SLA (its own column) unless the caller has its row."""
    scopes = [EXCHANGE] + ([str(clinic_id)] if clinic_id else [])
    rows = {
        r["scope"]: r
        for r in await ClinicSetting.raw(
            "SELECT * FROM clinic_setting WHERE scope IN ({}, {})", scopes[0], scopes[-1]
        )
    }
    sla = None if clinic_sla is UNKNOWN else clinic_sla
    if clinic_id is not None and clinic_sla is UNKNOWN:
        found = await (
            Clinic.select(Clinic.first_contact_sla_minutes).where(Clinic.id == clinic_id).first()
        )
        sla = found["first_contact_sla_minutes"] if found else None
    exchange = _values(rows.get(EXCHANGE))
    clinic = _values(rows.get(str(clinic_id)), sla) if clinic_id else SettingValues()
    return exchange, clinic


async def save(clinic_id: UUID | None, values: SettingValues, *, actor: str, now: datetime) -> None:
    """Write one layer whole (None fields inherit)."""
    scope = str(clinic_id) if clinic_id else EXCHANGE
    columns = {
        ClinicSetting.opens: values.opens.strftime("%H:%M") if values.opens else None,
        ClinicSetting.closes: values.closes.strftime("%H:%M") if values.closes else None,
        ClinicSetting.weekdays: (
            ",".join(str(d) for d in sorted(set(values.weekdays)))
            if values.weekdays is not None
            else None
        ),
        ClinicSetting.holidays: (
            ",".join(d.isoformat() for d in sorted(set(values.holidays)))
            if values.holidays is not None
            else None
        ),
        # A clinic's SLA lives in its own column (set since it joined); the exchange's here.
        ClinicSetting.first_contact_sla_minutes: (
            None if clinic_id else values.first_contact_sla_minutes
        ),
        ClinicSetting.answer_window_hours: values.answer_window_hours,
        ClinicSetting.visit_grace_hours: values.visit_grace_hours,
        ClinicSetting.sender_name: values.sender_name,
        ClinicSetting.updated_at: now,
        ClinicSetting.updated_by: actor,
    }
    row = {c._meta.name: v for c, v in columns.items()}
    await ClinicSetting.insert(ClinicSetting(id=new_id(), scope=scope, **row)).on_conflict(
        target=(ClinicSetting.scope,), action="DO UPDATE", values=list(columns)
    )
    if clinic_id is not None:
        await Clinic.update(
            {Clinic.first_contact_sla_minutes: values.first_contact_sla_minutes}
        ).where(Clinic.id == clinic_id)
    await screens.outdate_all()  # deadlines show in patients' screens


async def own_norms(clinic_id: UUID | None) -> list[Norm]:
    """The norms one layer sets itself (a clinic's, or the exchange's)."""
    scope = str(clinic_id) if clinic_id else EXCHANGE
    rows = await NormRow.select().where(NormRow.scope == scope).order_by(NormRow.specialization)
    return [typed(r, Norm) for r in rows]


async def set_norm(clinic_id: UUID | None, norm: Norm, *, now: datetime) -> None:
    scope = str(clinic_id) if clinic_id else EXCHANGE
    existing = await (
        NormRow.select(NormRow.id)
        .where((NormRow.scope == scope) & (NormRow.specialization == str(norm.specialization)))
        .first()
    )
    values = {
        NormRow.chair_minutes: norm.chair_minutes,
        NormRow.course_days: norm.course_days,
        NormRow.source: norm.source,
        NormRow.updated_at: now,
    }
    if existing:
        await NormRow.update(values).where(NormRow.id == existing["id"])
    else:
        await NormRow.insert(
            NormRow(
                id=new_id(),
                scope=scope,
                specialization=str(norm.specialization),
                **{c._meta.name: v for c, v in values.items()},
            )
        )
    await screens.outdate_all()  # expected dates show in patients' screens


async def clear_norm(clinic_id: UUID | None, specialization: str) -> None:
    """Back to the layer below. A derived setting, not a record: the audit log keeps
    what it was."""
    scope = str(clinic_id) if clinic_id else EXCHANGE
    await NormRow.delete().where(
        (NormRow.scope == scope) & (NormRow.specialization == specialization)
    )
    await screens.outdate_all()


# --- restatements --------------------------------------------------------------------


async def start_restatement(scope: UUID | None, *, reason: str, actor: str, now: datetime) -> UUID:
    query = Referral.count()
    if scope is not None:
        query = query.where(Referral.clinic == scope)
    restatement_id = new_id()
    await Restatement.insert(
        Restatement(
            id=restatement_id,
            scope=str(scope) if scope else "all",
            reason=reason[:200],
            requested_by=actor,
            requested_at=now,
            total=await query,
            done=0,
        )
    )
    return restatement_id


async def restatement(restatement_id: UUID) -> RestatementRow | None:
    row = await Restatement.select().where(Restatement.id == restatement_id).first()
    return None if row is None else typed(row, RestatementRow)


async def latest_restatement(scope: UUID | None) -> RestatementRow | None:
    row = await (
        Restatement.select()
        .where(Restatement.scope == (str(scope) if scope else "all"))
        .order_by(Restatement.requested_at, ascending=False)
        .first()
    )
    return None if row is None else typed(row, RestatementRow)


async def next_referrals(scope: str, after: UUID | None, limit: int) -> list[UUID]:
    query = Referral.select(Referral.id).order_by(Referral.id).limit(limit)
    if scope != "all":
        query = query.where(Referral.clinic == UUID(scope))
    if after is not None:
        query = query.where(Referral.id > after)
    return [r["id"] for r in await query]


async def advance(
    restatement_id: UUID, *, last: UUID | None, done: int, total: int, finished_at
) -> None:
    """Referrals sent while it ran are re-folded too: the total grows to what was done."""
    await Restatement.update(
        {
            Restatement.last_referral: last,
            Restatement.done: done,
            Restatement.total: max(total, done),
            Restatement.finished_at: finished_at,
        }
    ).where(Restatement.id == restatement_id)
