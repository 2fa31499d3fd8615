"""Figures that mean what they say (issue 20): each test pins a figure that measured the
wrong thing before, through the services and the reports, on SQLite and PostgreSQL."""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from backend.domain.events import Contacted, ItemDone, Payment, Source
from backend.domain.funnel import fold_referral, receipt_milestone
from backend.domain.money_funnel import period_funnel
from backend.routes.funnel_tables import specialization_out
from backend.services import plan_fact, reports
from backend.services.exchange_admin import transfer_referral
from backend.services.patient_statements import attach_receipt
from backend.services.recording import Statement, record
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, send_referral
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
    states = {v["milestone"]: v["state"] for v in await verifications.of_referral(rid)}
    assert states[receipt_milestone(same.recorded.event.id)] == "verified"
    assert states[receipt_milestone(other.recorded.event.id)] == "disputed"
    assert states[receipt_milestone(unreported.recorded.event.id)] == "clinic_silent"
    # Both go to the exchange's dispute queue.
    queue = await desk.disputes(clinic_id=None, limit=10)
    assert sorted(d["milestone"] for d in queue) == sorted(
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
