"""Money from a clinic's CRM or MIS into the ledger, through the panel's own doors: a
deal's product rows become the clinic's plan version by the panel's plan-revision path,
rows done and payments are clinic claims (record_clinic_claim), a lowered amount paid, a
removed row or a cancelled procedure is a correction of the claim it took back.

Every statement's idempotency key names the vendor object and its state — the plan
version a revision replaces, the item a row marks done (and how many times the CRM took
that back before), the amount paid so far — so a redelivery, a replay or a reconcile of
the same state adds nothing, and moving back and forth is recorded as it happened. All of
one object's money is applied under the referral's lock, against the ledger as it stands,
and a state older than the one applied last is not applied over it.
"""

import hashlib
from datetime import datetime
from typing import Any
from uuid import UUID

from msgspec import UNSET

from backend.domain.claims import ItemDoneIn, PaymentIn
from backend.domain.crm_money import (
    CrmMoney,
    DraftLine,
    PlanDraft,
    listed_rows,
    match_rows,
    payment_moves,
    plan_from_rows,
)
from backend.domain.events import Correction, Event, ItemDone, Payment, Side, Source
from backend.domain.funnel import fold_referral
from backend.domain.plans import PlanItem
from backend.services.claims import record_clinic_claim
from backend.services.claims import record_clinic_correction as correct
from backend.services.errors import Conflict, ServiceError
from backend.services.referrals import PlanIn, PlanItemIn
from backend.store import integrations as links
from backend.store import ledger, plans, prices, referrals
from backend.store.engine import write_transaction
from backend.store.rows import MoneyDone

DONE, DONE_BY_STAGE, PAID, PAYMENT, PLAN, UNDO = (
    "done",
    "done-stage",
    "paid",
    "payment",
    "plan",
    "undo",
)


def _digest(lines: tuple[DraftLine, ...]) -> str:
    text = "|".join(
        f"{line.item_id or ''}:{line.code}:{line.title_ru}:{line.tooth}:{line.price}"
        for line in lines
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plan_in(lines: tuple[DraftLine, ...], currency: str, chosen_variant: str | None):
    items = [
        PlanItemIn(
            item_id=line.item_id,
            specialization=line.specialization,
            price=line.price,
            title_ru=line.title_ru,
            title_en=line.title_en,
            code=line.code,
            tooth=line.tooth,
            stage=line.stage,
            variant=line.variant,
            chair_minutes=line.chair_minutes,
            course_days=line.course_days,
        )
        for line in lines
    ]
    variants = {line.variant for line in lines if line.variant}
    chosen = chosen_variant if chosen_variant in variants else None
    return PlanIn(items=items, currency=currency, chosen_variant=chosen)


async def _revise(referral_id: UUID, draft: PlanDraft, currency: str, **kw: Any) -> int:
    from backend.services.referrals import revise_plan

    return await revise_plan(
        referral_id,
        _plan_in(draft.lines, currency, draft.chosen_variant),
        reason=draft.reason,
        **kw,
    )


async def _plan_now(referral_id: UUID) -> tuple[int, list[PlanItem], list[PlanItem], str | None]:
    """(latest version, its items, the items of earlier versions, its chosen variant)."""
    versions = await plans.versions_of(referral_id)
    if not versions:
        return 0, [], [], None
    latest = versions[-1]
    by_plan = await plans.items_by_plan(referral_id)
    current = by_plan.get(latest.id, [])
    earlier = [i for v in reversed(versions[:-1]) for i in by_plan.get(v.id, [])]
    return latest.version, current, earlier, latest.chosen_variant


class _Ledger:
    """The referral's events from one source about one object, by key."""

    def __init__(self, events: list[Event], source: Source, prefix: str) -> None:
        self.events = events
        self.mine = [
            e for e in events if e.source == source and e.idempotency_key.startswith(prefix)
        ]
        self.retracted = fold_referral(events).retracted
        undone = {
            e.body.retracts
            for e in self.mine
            if isinstance(e.body, Correction) and e.id not in self.retracted
        }
        self.undone_by_us = undone

    def with_prefix(self, prefix: str) -> list[Event]:
        return [e for e in self.mine if e.idempotency_key.startswith(prefix)]

    def live(self, prefix: str) -> list[Event]:
        return [e for e in self.with_prefix(prefix) if e.id not in self.retracted]

    def next_key(self, prefix: str) -> str | None:
        """The key of the next claim under `prefix`: None while the last one stands, or
        when the exchange ruled it did not happen (a ruling is not argued with)."""
        earlier = self.with_prefix(prefix)
        if not earlier:
            return f"{prefix}0"
        last = earlier[-1]
        if last.id not in self.retracted or last.id not in self.undone_by_us:
            return None
        return f"{prefix}{len(earlier)}"


async def apply_money(
    *,
    clinic_id: UUID,
    system: str,
    config: dict[str, Any],
    source: Source,
    external_id: str,
    stage: str | None,
    money: CrmMoney,
    referral_id: UUID,
    now: datetime,
) -> MoneyDone:
    """Record what a deal or lead says about money. Returns what was done, for the inbox:
    status recorded | same | stale | refused (with errors) and the details."""
    base = f"{clinic_id}:{external_id}:"
    actor = f"{system}:{external_id}"[:120]
    errors = list(money.problems)
    plan_version: int | None = None
    added_lines: list[str] = []
    items_done: list[str] = []
    payments: list[int] = []
    corrections: list[int] = []
    unmatched: list[str] = []
    at = min(money.state_at or now, now)
    recorded = False

    async def claim(claim: Any, key: str) -> bool:
        try:
            result = await record_clinic_claim(
                referral_id, claim, source=source, actor=actor, idempotency_key=key, now=now
            )
        except ServiceError as exc:
            errors.append(f"{type(claim).__name__}: {exc.detail}")
            return False
        return not result.duplicate

    async def undo(event: Event, reason: str) -> bool:
        try:
            result = await correct(
                referral_id,
                retracts=event.id,
                reason=reason,
                source=source,
                actor=actor,
                idempotency_key=f"{base}{UNDO}:{event.id}",
                occurred_at=at,
                now=now,
            )
        except ServiceError as exc:
            errors.append(f"correction of {event.id}: {exc.detail}")
            return False
        corrections.append(event.id)
        return not result.duplicate

    async with write_transaction() as tx:
        referral = await referrals.lock(referral_id)
        if referral is None:
            return MoneyDone(status="refused", errors=("no such referral",))
        last = await links.link_state(clinic_id, system, external_id)
        if money.state_at is not None and last is not None and money.state_at < last:
            return MoneyDone(
                status="stale",
                note=f"the CRM showed a state of {money.state_at.isoformat()}, older than "
                f"the one applied ({last.isoformat()}): not applied",
            )
        currency = (await referrals.get(referral_id)).currency  # type: ignore[union-attr]

        # 1. The rows as the plan (or as rows done that the plan lacks).
        version, current, earlier, chosen = await _plan_now(referral_id)
        rows = money.rows if money.rows_mean != "off" else ()
        if rows and money.currency != currency:
            errors.append(
                f"the rows are in {money.currency or 'no currency'}, the referral in "
                f"{currency}: not booked"
            )
            rows = ()
        matched = match_rows(rows, current, earlier)
        lines = plan_from_rows(
            matched,
            current,
            rows_mean=money.rows_mean,
            specialization=str(config.get("default_specialization") or "therapy"),
            known=await prices.effective(clinic_id) if rows else None,
        )
        if lines is not None:
            draft = PlanDraft(
                lines=lines,
                reason=f"{money.label_ru} / {money.label_en}",
                chosen_variant=chosen,
            )
            # The revision writes its plan rows before the ledger may refuse it: a refusal
            # must take them back, and nothing else of this transaction.
            savepoint = await tx.savepoint()
            try:
                new_version = await _revise(
                    referral_id,
                    draft,
                    currency,
                    source=source,
                    actor=actor,
                    idempotency_key=f"{base}{PLAN}:v{version}:{_digest(lines)}",
                    occurred_at=at,
                    now=now,
                )
            except ServiceError as exc:
                await savepoint.rollback_to()
                errors.append(f"plan: {exc.detail}")
            else:
                await savepoint.release()
                recorded |= new_version != version
                plan_version = new_version
                added_lines = [line.title_ru for line in lines if line.item_id is None]
                version, current, earlier, chosen = await _plan_now(referral_id)
                matched = match_rows(rows, current, earlier)

        # 2. What is done: the rows themselves, or those the "done rows" field lists, and
        # every remaining line when the stage says so.
        events = await ledger.events_of(referral_id)
        mine = _Ledger(events, source, base)
        fold = fold_referral(events)
        item_of = {row.ref: item for row, item in matched if item is not None}
        listing = money.rows_mean == "done" or bool(config.get("fields", {}).get("done_rows"))
        if money.rows_mean == "done":
            said_done = [item_of[r.ref] for r in rows if r.ref in item_of]
        else:
            found, unknown = listed_rows(money.done_refs, rows)
            unmatched = unknown
            said_done = [item_of[r.ref] for r in found if r.ref in item_of]
        said_ids = {i.item_id for i in said_done}
        for item in said_done:
            if item.item_id in fold.done_items:
                continue
            key = mine.next_key(f"{base}{DONE}:{item.item_id}:")
            if key and await claim(ItemDoneIn(item_id=item.item_id, occurred_at=at), key):
                recorded = True
                items_done.append(str(item.item_id))
        if listing and (rows or money.rows_mean == "done"):
            for event in mine.live(f"{base}{DONE}:"):
                if isinstance(event.body, ItemDone) and event.body.item_id not in said_ids:
                    reason = f"{money.label_ru}: строки больше нет / the row is gone"
                    recorded |= await undo(event, reason)
        rule = (config.get("stage_map") or {}).get(stage or "") or {}
        if rule.get("kind") == "item_done" and rule.get("items") == "all" and fold.plan:
            when = min(money.stage_at or at, now)
            for line in fold.plan.chosen_lines():
                if line.item_id in fold.done_items or line.item_id in said_ids:
                    continue
                key = f"{base}{DONE_BY_STAGE}:{line.item_id}"
                if await claim(ItemDoneIn(item_id=line.item_id, occurred_at=when), key):
                    recorded = True
                    items_done.append(str(line.item_id))

        # 3. Payments: the amount paid so far, or the CRM's payment objects.
        if money.paid_total is not None:
            if money.paid_currency != currency:
                errors.append(
                    f"paid so far is in {money.paid_currency}, the referral in {currency}: "
                    "not booked"
                )
            else:
                events = await ledger.events_of(referral_id)
                mine = _Ledger(events, source, base)
                paid = [
                    (e.id, e.body.amount)
                    for e in mine.live(f"{base}{PAID}:")
                    if isinstance(e.body, Payment)
                ]
                taken, more = payment_moves(money.paid_total, paid)
                by_id = {e.id: e for e in events}
                for event_id in taken:
                    reason = f"{money.label_ru}: оплачено {money.paid_total} / paid so far lowered"
                    recorded |= await undo(by_id[event_id], reason)
                if more > 0:
                    generation = len(mine.with_prefix(f"{base}{PAID}:"))
                    key = f"{base}{PAID}:{money.paid_total}:{generation}"
                    if await claim(PaymentIn(amount=more, occurred_at=at), key):
                        recorded = True
                        payments.append(more)
        if money.payments is not None:
            recorded |= await _payment_objects(
                money, referral_id, base, currency, errors, payments, claim, undo, source
            )

        if money.state_at is not None and (last is None or money.state_at > last):
            await links.save_link_state(clinic_id, system, external_id, money.state_at)

    return MoneyDone(
        status="refused" if errors else "recorded" if recorded else "same",
        plan_version=plan_version,
        added_lines=tuple(added_lines),
        items_done=tuple(items_done),
        payments=tuple(payments),
        corrections=tuple(corrections),
        unmatched_done_rows=tuple(unmatched),
        deal_amount=money.amount,
        rows_amount=sum(r.price for r in money.rows) if money.rows else None,
        errors=tuple(errors) if errors else UNSET,
    )


async def _payment_objects(
    money: CrmMoney,
    referral_id: UUID,
    base: str,
    currency: str,
    errors: list[str],
    payments: list[int],
    claim: Any,
    undo: Any,
    source: Source,
) -> bool:
    """Each paid payment object is a payment; one unpaid, gone or changed since is
    taken back (and a changed one recorded again)."""
    recorded = False
    events = await ledger.events_of(referral_id)
    mine = _Ledger(events, source, base)
    standing: dict[str, int] = {}
    for p in money.payments or ():
        if not p.paid:
            continue
        if p.currency != currency:
            errors.append(f"payment {p.ref} is in {p.currency}, the referral in {currency}")
            continue
        standing[p.ref] = p.amount
    for event in mine.live(f"{base}{PAYMENT}:"):
        ref = event.idempotency_key.removeprefix(f"{base}{PAYMENT}:").rsplit(":", 1)[0]
        amount = event.body.amount if isinstance(event.body, Payment) else None
        if standing.get(ref) != amount:
            recorded |= await undo(event, f"{money.label_ru}: платёж {ref} отменён / unpaid")
    events = await ledger.events_of(referral_id)
    mine = _Ledger(events, source, base)
    paid_at = {p.ref: p.paid_at for p in money.payments or ()}
    for ref, amount in standing.items():
        key = mine.next_key(f"{base}{PAYMENT}:{ref}:")
        if key is None:
            continue
        when = paid_at.get(ref) or money.state_at
        if await claim(PaymentIn(amount=amount, occurred_at=when), key):
            recorded = True
            payments.append(amount)
    return recorded


async def apply_plan(
    referral_id: UUID,
    draft: PlanDraft,
    *,
    source: Source,
    actor: str,
    key: str,
    occurred_at: datetime | None,
    now: datetime,
) -> tuple[int, bool]:
    """A plan version a clinic's system states outright (an MIS's plan), by the panel's
    plan-revision door. (version, whether it is new)."""
    referral = await referrals.get(referral_id)
    if referral is None:
        raise Conflict("no such referral")
    before = (await _plan_now(referral_id))[0]
    version = await _revise(
        referral_id,
        draft,
        referral.currency,
        source=source,
        actor=actor,
        idempotency_key=key,
        occurred_at=occurred_at,
        now=now,
    )
    return version, version > before


async def cancel_item(
    referral_id: UUID,
    item_id: UUID,
    *,
    reason: str,
    source: Source,
    actor: str,
    key: str,
    occurred_at: datetime | None,
    now: datetime,
) -> list[int]:
    """A procedure the clinic's system had reported done is cancelled: every clinic claim
    that it was done is taken back. The ids of the corrections."""
    events = await ledger.events_of(referral_id)
    retracted = fold_referral(events).retracted
    standing = [
        e
        for e in events
        if isinstance(e.body, ItemDone)
        and e.body.item_id == item_id
        and e.side is Side.clinic
        and e.id not in retracted
    ]
    already = [
        e
        for e in events
        if e.source == source
        and e.idempotency_key.startswith(f"{key}:")
        and isinstance(e.body, Correction)
    ]
    if not standing and not already:
        raise Conflict(f"item {item_id} is not reported done: nothing to cancel")
    made = [e.id for e in already]
    for event in standing:
        result = await correct(
            referral_id,
            retracts=event.id,
            reason=reason,
            source=source,
            actor=actor,
            idempotency_key=f"{key}:{event.id}",
            occurred_at=occurred_at,
            now=now,
        )
        made.append(result.event.id)
    return made
