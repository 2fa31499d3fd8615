"""Figures that mean what they say (issue 20): each test pins a figure that measured the
wrong thing before, through the services and the reports, on SQLite and PostgreSQL."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import msgspec

from backend.domain.events import Closed, Contacted, ItemDone, Payment, Source
from backend.domain.funnel import fold_referral, receipt_milestone
from backend.domain.money_funnel import period_funnel
from backend.domain.reasons import reasons_by_clinic
from backend.routes.funnel import specialization_out
from backend.services import plan_fact, reasons, reports
from backend.services.exchange_admin import transfer_referral
from backend.services.patient_statements import attach_receipt
from backend.services.recording import Statement, record
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, revise_plan, send_referral
from backend.store import desk, ledger, verifications
from tests.factories import NOW, PLAN, hours, make_clinic, make_referral

MSK = ZoneInfo("Europe/Moscow")
NOVEMBER = dict(first=date(2026, 11, 1), last=date(2026, 11, 30))
ESTIMATE = sum(i.price for i in PLAN.items)


async def send_one(clinic, phone: str, price: int, specialization="implantology"):
    sent = await send_referral(
        patient=PatientIn(phone=phone),
        clinic_id=clinic,
        plan=PlanIn(items=[PlanItemIn(specialization=specialization, price=price)]),
        actor="test",
        now=NOW,
    )
    return sent.referral_id


def booked_at(hours_later: float) -> Contacted:
    return Contacted(outcome="booked", appointment_at=hours(hours_later))


async def revise(referral_id, prices: list[int], reason: str, at) -> None:
    items = [
        PlanItemIn(specialization="implantology" if p > 10_000_00 else "therapy", price=p)
        for p in prices
    ]
    await revise_plan(
        referral_id,
        PlanIn(items=items),
        reason=reason,
        source=Source.clinic_panel,
        actor="staff:1",
        occurred_at=at,
        now=at,
    )


def clinic_says(body, at):
    return Statement(body=body, source=Source.clinic_panel, actor="staff:1", occurred_at=at)


async def test_a_transfer_counts_its_money_in_once_exchange_wide(db):
    a, b = await make_clinic("A"), await make_clinic("B")
    sent = await make_referral(a)
    rid = sent.referral_id
    booked = Contacted(outcome="booked", appointment_at=hours(26))
    await record(rid, clinic_says(booked, hours(1)), now=hours(1))
    first_item = fold_referral(await ledger.events_of(rid)).plan.lines[0].item_id
    await record(rid, clinic_says(ItemDone(item_id=first_item), hours(27)), now=hours(27))
    moved = await transfer_referral(
        rid, to_clinic_id=b, reason="переезд", actor="exchange:1", now=hours(48)
    )
    assert moved.moved_money == PLAN.items[1].price

    everyone = await reports.funnel(None, **NOVEMBER)
    assert (everyone.in_count, everyone.in_money) == (1, ESTIMATE)
    assert (everyone.transferred_in_count, everyone.transferred_in_money) == (1, moved.moved_money)
    # Each clinic sees its side of the move: B got it, A gave it away.
    at_b = await reports.funnel([b], **NOVEMBER)
    assert (at_b.in_count, at_b.in_money) == (0, 0)
    assert (at_b.transferred_in_count, at_b.transferred_in_money) == (1, moved.moved_money)
    at_a = await reports.funnel([a], **NOVEMBER)
    assert (at_a.in_count, at_a.in_money) == (1, ESTIMATE)
    assert (at_a.transferred_out_count, at_a.transferred_out_money) == (1, moved.moved_money)
    # The definition (folding the raw events) says the same.
    histories = await ledger.histories([a, b])
    folded = [(r, events, MSK) for r, events in histories.items()]
    defined = period_funnel(folded, **NOVEMBER, now=NOW + timedelta(days=3))
    assert (defined.in_count, defined.in_money) == (1, ESTIMATE)


async def test_plan_vs_estimate_compares_the_same_referrals(db):
    # Two implantology cases sent in November: a small one the patient booked (the
    # clinic kept the estimate), a big one nobody booked. The clinic's plans match the
    # estimates exactly, so the over-/under-run is 0 — not "−50 %" from comparing the
    # booked case's plan with the average estimate of both.
    clinic = await make_clinic()
    small = await send_one(clinic, "+79160000001", 100_000_00)
    await send_one(clinic, "+79160000002", 300_000_00)
    booked = Contacted(outcome="booked", appointment_at=hours(26))
    await record(small, clinic_says(booked, hours(1)), now=hours(1))

    [row] = await plan_fact.by_specialization([clinic], first="2026-11", last="2026-11")
    out = specialization_out(row)
    assert (out.referrals, out.estimate_average) == (2, 200_000_00)
    assert out.plan_vs_estimate == 0.0
    assert (out.accepted, out.plan_average, out.accepted_estimate_average) == (
        1,
        100_000_00,
        100_000_00,
    )


def receipt_qr(at, rubles: str, fd: int) -> str:
    stamp = at.astimezone(MSK).strftime("%Y%m%dT%H%M")
    return f"t={stamp}&s={rubles}&fn=9960440300000001&i={fd}&fp=28401{fd:05d}&n=1"


async def test_receipts_that_do_not_match_a_reported_payment_are_disputes(db):
    clinic = await make_clinic()
    sent = await make_referral(clinic)
    rid, patient = sent.referral_id, sent.patient_id
    booked = Contacted(outcome="booked", appointment_at=hours(26))
    await record(rid, clinic_says(booked, hours(1)), now=hours(1))
    await record(rid, clinic_says(Payment(amount=6_500_00), hours(27)), now=hours(27))
    await record(rid, clinic_says(Payment(amount=10_000_00), hours(29)), now=hours(29))

    # A receipt of the same amount backs the first payment; one of another amount
    # contradicts the second; one with no payment reported near it is the clinic's silence.
    same = await attach_receipt(patient, rid, qr=receipt_qr(hours(27), "6500.00", 1), now=hours(30))
    other = await attach_receipt(
        patient, rid, qr=receipt_qr(hours(29), "12000.00", 2), now=hours(30)
    )
    unreported = await attach_receipt(
        patient, rid, qr=receipt_qr(hours(28 + 24 * 8), "3000.00", 3), now=hours(28 + 24 * 8)
    )
    assert [r.match.outcome for r in (same, other, unreported)] == [
        "matches",
        "amount_differs",
        "no_payment_reported",
    ]
    states = {v.milestone: v.state for v in await verifications.of_referral(rid)}
    assert states[receipt_milestone(same.recorded.event.id)] == "verified"
    assert states[receipt_milestone(other.recorded.event.id)] == "disputed"
    assert states[receipt_milestone(unreported.recorded.event.id)] == "clinic_silent"
    # Both go to the exchange's dispute queue.
    queue = await desk.disputes(clinic_id=None, limit=10)
    assert sorted(d.milestone for d in queue) == sorted(
        receipt_milestone(r.recorded.event.id) for r in (other, unreported)
    )

    # Paid money is split like executed money.
    funnel = await reports.funnel([clinic], **NOVEMBER)
    assert funnel.paid_money == 16_500_00
    assert (
        funnel.paid_split.verified,
        funnel.paid_split.unverified,
        funnel.paid_split.disputed,
    ) == (6_500_00, 0, 10_000_00)


async def test_lost_money_and_plan_revisions_by_reason_per_clinic(db):
    a, b = await make_clinic("A"), await make_clinic("B")
    # A: two declined for price (71 500 ₽ each, nothing done), one closed "moved away"
    # after the first item (65 000 ₽ left); a revision up by 5 000 ₽, "цены клиники".
    price = [await make_referral(a, phone=f"+7916000100{n}") for n in range(2)]
    for sent in price:
        await record(
            sent.referral_id,
            clinic_says(Contacted(outcome="declined", reason="дорого"), hours(2)),
            now=hours(2),
        )
    moved = (await make_referral(a, phone="+79160001009")).referral_id
    await record(moved, clinic_says(booked_at(26), hours(1)), now=hours(1))
    first_item = fold_referral(await ledger.events_of(moved)).plan.lines[0].item_id
    await record(moved, clinic_says(ItemDone(item_id=first_item), hours(27)), now=hours(27))
    await record(moved, clinic_says(Closed(reason="переехал"), hours(30)), now=hours(30))
    revised = (await make_referral(a, phone="+79160001010")).referral_id
    await revise(revised, [6_500_00, 70_000_00], "цены клиники", hours(5))
    # B: one revision down by 6 500 ₽ and one with the same reason up by 1 000 ₽.
    at_b = (await make_referral(b, phone="+79160001011")).referral_id
    await revise(at_b, [65_000_00], "зуб не лечим", hours(3))
    await revise(at_b, [66_000_00], "зуб не лечим", hours(4))

    rows = await reasons.reasons_by_clinic(None, **NOVEMBER)
    got = [(r.clinic_id, r.kind, r.reason, r.count, r.money) for r in rows]
    want = [
        (a, "lost", "дорого", 2, 2 * ESTIMATE),
        (a, "lost", "переехал", 1, 65_000_00),
        (a, "revision", "цены клиники", 1, 5_000_00),
        (b, "revision", "зуб не лечим", 2, -6_500_00 + 1_000_00),
    ]
    assert sorted(got, key=str) == sorted(want, key=str)
    # One clinic asked: only its rows; the definition (folding the ledgers) agrees.
    assert [r.clinic_id for r in await reasons.reasons_by_clinic([b], **NOVEMBER)] == [b]
    histories = await ledger.histories([a, b])
    folded = [(r, events, MSK) for r, events in histories.items()]
    defined = reasons_by_clinic(folded, **NOVEMBER)
    assert msgspec.to_builtins(defined) == msgspec.to_builtins(rows)
