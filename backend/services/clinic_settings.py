"""Settings a clinic and the exchange can change (issue 20): working hours and holidays,
the first-contact SLA and answer windows, the SMS sender name, duration norms.

Every change is written to the audit log with what it was and what it became. A change
that moves verification deadlines or expected money starts a restatement: the worker
re-folds the referrals it touches in chunks (topic RESTATE, backend.services.restatements),
one transaction per referral, with its progress in the `restatement` row (and in the
worker's log), so the reports follow as docs/metrics.md says.

Who may change what: a clinic's manager sets its working hours, holidays, sender name
and duration norms; the first-contact SLA and the answer windows are the exchange's
terms with the clinic, so only the exchange's operator sets them (for a clinic, or as
everyone's default) — a clinic cannot make itself look faster by moving its own SLA.
"""

import logging
from datetime import date, datetime, time
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.clinic_settings import (
    EffectiveSettings,
    SettingValues,
    changed_fields,
    check_values,
    effective_settings,
    policy_of,
    restates,
)
from backend.domain.derive import ClinicRules
from backend.domain.norms import DurationNorm, Specialization
from backend.domain.roles import Role
from backend.domain.verification import VerificationPolicy
from backend.runtime.clock import utcnow
from backend.services.audit import Viewer
from backend.services.errors import Forbidden, Invalid, NotFound
from backend.store import audit, outbox, parties
from backend.store import clinic_settings as store
from backend.store.engine import write_transaction
from backend.store.norms import norms_for
from backend.store.rows import ClinicCard, ClinicRow, RestatementRow

log = logging.getLogger("plantrack.settings")

RESTATE = "restate"
EXCHANGE_ONLY = frozenset({"first_contact_sla_minutes", "answer_window_hours", "visit_grace_hours"})


class NormView(msgspec.Struct, frozen=True, kw_only=True):
    specialization: str
    chair_minutes: int
    course_days: int
    source: str  # clinic | exchange | default
    note: str  # where the number comes from


class SettingsView(msgspec.Struct, frozen=True, kw_only=True):
    clinic_id: UUID | None
    own: SettingValues  # this scope's layer (None: inherited)
    inherited: SettingValues  # the layer below (the exchange's, for a clinic)
    effective: EffectiveSettings
    norms: list[NormView]
    restatement: RestatementRow | None


async def _clinic_exists(clinic_id: UUID | None) -> None:
    if clinic_id is not None and await parties.clinic(clinic_id) is None:
        raise NotFound("no such clinic")


async def effective_for(
    clinic_id: UUID | None, clinic_sla: object = store.UNKNOWN
) -> EffectiveSettings:
    """A clinic's settings in force (`clinic_sla`: its SLA column, if the caller has it)."""
    exchange, clinic = await store.layers(clinic_id, clinic_sla)
    return effective_settings(exchange, clinic)


async def rules_for(
    clinic_id: UUID, timezone: str, sla_minutes: int | None, *, epoch: int | None = None
) -> ClinicRules:
    """A clinic's rules in one value (zone, settings in force, duration norms): two
    indexed reads, its zone and SLA column given by the caller (a locked referral
    carries both). With `epoch` (the screens' epoch, which every edit of a clinic, its
    settings or norms raises in its own transaction), kept per process under it: the
    recording reads them for every claim, and they change a few times a year."""
    key = (clinic_id, timezone, sla_minutes, epoch)
    if epoch is not None and (kept := _kept_rules.get(key)) is not None:
        return kept
    exchange, own = await store.layers(clinic_id, sla_minutes)
    rules = ClinicRules(
        clinic_id=clinic_id,
        tz=ZoneInfo(timezone),
        settings=effective_settings(exchange, own),
        norms=await norms_for(clinic_id),
    )
    if epoch is not None:
        if len(_kept_rules) >= KEPT_RULES:
            _kept_rules.pop(next(iter(_kept_rules)))  # the oldest kept
        _kept_rules[key] = rules
    return rules


# Rules read under an epoch that was current when read (a later edit raises it, so the
# next look-up misses). Bounded: one entry per clinic and epoch, a few KB each.
KEPT_RULES = 2048
_kept_rules: dict[tuple[UUID, str, int | None, int | None], ClinicRules] = {}


async def policy_for(clinic: ClinicRow | ClinicCard) -> VerificationPolicy:
    """The verification policy of a clinic's referrals: its SLA counted in its working
    hours and holidays, in its zone, and its answer windows."""
    exchange, own = await store.layers(clinic.id, clinic.first_contact_sla_minutes)
    return policy_of(effective_settings(exchange, own), ZoneInfo(clinic.timezone))


async def settings_of(clinic_id: UUID | None) -> SettingsView:
    await _clinic_exists(clinic_id)
    exchange, clinic = await store.layers(clinic_id)
    own, below = (clinic, exchange) if clinic_id else (exchange, SettingValues())
    return SettingsView(
        clinic_id=clinic_id,
        own=own,
        inherited=below,
        effective=effective_settings(exchange, clinic),
        norms=await _norm_views(clinic_id),
        restatement=await store.latest_restatement(clinic_id),
    )


async def _norm_views(clinic_id: UUID | None) -> list[NormView]:
    table = await norms_for(clinic_id)
    own = {n.specialization for n in await store.own_norms(clinic_id)}
    exchange = {n.specialization for n in await store.own_norms(None)}
    views = []
    for spec in Specialization:
        norm = table[str(spec)]
        source = (
            "clinic"
            if clinic_id and str(spec) in own
            else "exchange"
            if str(spec) in exchange
            else "default"
        )
        views.append(
            NormView(
                specialization=str(spec),
                chair_minutes=norm.chair_minutes,
                course_days=norm.course_days,
                source=source,
                note=norm.source,
            )
        )
    return views


def _may_change(viewer: Viewer, clinic_id: UUID | None, fields: set[str]) -> None:
    principal = viewer.principal
    if principal.role is Role.exchange_operator:
        return
    if principal.role is Role.clinic_manager and clinic_id == principal.clinic_id:
        exchange_only = sorted(fields & EXCHANGE_ONLY)
        if exchange_only:
            raise Forbidden(
                f"{', '.join(exchange_only)}: the exchange's terms; ask the exchange to change"
            )
        return
    raise Forbidden("not allowed to change these settings")


def _jsonable(value: Any) -> Any:
    if isinstance(value, time | date):
        return value.isoformat()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


async def change_settings(
    viewer: Viewer,
    clinic_id: UUID | None,
    change: dict[str, Any],
    *,
    now: datetime | None = None,
) -> SettingsView:
    """Change some fields of one layer (None: back to inheriting). `change` holds only
    the fields given."""
    now = now or utcnow()
    unknown = set(change) - set(SettingValues.__struct_fields__)
    if unknown:
        raise Invalid(f"unknown settings: {', '.join(sorted(unknown))}")
    _may_change(viewer, clinic_id, set(change))
    if ("opens" in change) != ("closes" in change):
        raise Invalid("opens and closes: give both")
    async with write_transaction():
        await _clinic_exists(clinic_id)
        exchange, clinic = await store.layers(clinic_id)
        old = clinic if clinic_id else exchange
        new = msgspec.structs.replace(old, **change)
        problems = check_values(new)
        if problems:
            raise Invalid("; ".join(problems))
        changed = changed_fields(old, new)
        if changed:
            await store.save(clinic_id, new, actor=viewer.principal.actor, now=now)
            await _audit(
                viewer,
                clinic_id,
                "change_settings",
                {f: {"from": _jsonable(a), "to": _jsonable(b)} for f, (a, b) in changed.items()},
                now,
            )
            if restates(changed):
                reason = f"settings: {', '.join(sorted(changed))}"
                await request_restatement(clinic_id, reason=reason, viewer=viewer, now=now)
    return await settings_of(clinic_id)


class NormChange(msgspec.Struct, frozen=True, kw_only=True):
    specialization: Specialization
    # Both given: this scope's own numbers; both None: back to the layer below.
    chair_minutes: int | None = None
    course_days: int | None = None


async def change_norms(
    viewer: Viewer,
    clinic_id: UUID | None,
    changes: list[NormChange],
    *,
    now: datetime | None = None,
) -> SettingsView:
    now = now or utcnow()
    _may_change(viewer, clinic_id, set())
    for c in changes:
        given = (c.chair_minutes is None, c.course_days is None)
        if given[0] != given[1]:
            raise Invalid(f"{c.specialization}: give chair_minutes and course_days, or neither")
        if c.chair_minutes is not None and not 1 <= c.chair_minutes <= 24 * 60:
            raise Invalid(f"{c.specialization}: chair_minutes from 1 to 1440")
        if c.course_days is not None and not 1 <= c.course_days <= 3 * 365:
            raise Invalid(f"{c.specialization}: course_days from 1 to 1095")
    async with write_transaction():
        await _clinic_exists(clinic_id)
        before = {v.specialization: v for v in await _norm_views(clinic_id)}
        source = f"set by {'the clinic' if clinic_id else 'the exchange'} on {now.date()}"
        for c in changes:
            if c.chair_minutes is None or c.course_days is None:
                await store.clear_norm(clinic_id, str(c.specialization))
            else:
                await store.set_norm(
                    clinic_id,
                    DurationNorm(
                        specialization=c.specialization,
                        chair_minutes=c.chair_minutes,
                        course_days=c.course_days,
                        source=source,
                    ),
                    now=now,
                )
        after = {v.specialization: v for v in await _norm_views(clinic_id)}
        changed = {
            spec: {
                "from": [before[spec].chair_minutes, before[spec].course_days, before[spec].source],
                "to": [after[spec].chair_minutes, after[spec].course_days, after[spec].source],
            }
            for spec in after
            if after[spec] != before[spec]
        }
        if changed:
            await _audit(viewer, clinic_id, "change_norms", changed, now)
            await request_restatement(
                clinic_id,
                reason=f"duration norms: {', '.join(sorted(changed))}",
                viewer=viewer,
                now=now,
            )
    return await settings_of(clinic_id)


async def _audit(
    viewer: Viewer, clinic_id: UUID | None, action: str, details: dict, now: datetime
) -> None:
    await audit.write(
        at=now,
        actor=viewer.principal.actor,
        actor_role=viewer.principal.role.value,
        action=action,
        object_kind="clinic" if clinic_id else "exchange",
        object_id=str(clinic_id) if clinic_id else "exchange",
        ip=viewer.ip,
        request_id=viewer.request_id,
        details=details,
    )


async def request_restatement(
    clinic_id: UUID | None, *, reason: str, viewer: Viewer | None, now: datetime
) -> UUID:
    """Queue the re-folding of a clinic's referrals (all, for an exchange default)."""
    actor = viewer.principal.actor if viewer else "system"
    restatement_id = await store.start_restatement(clinic_id, reason=reason, actor=actor, now=now)
    await outbox.enqueue(
        topic=RESTATE,
        payload={"restatement_id": str(restatement_id)},
        dedupe_key=f"restate:{restatement_id}:0",
        now=now,
    )
    return restatement_id
