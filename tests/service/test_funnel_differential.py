"""The funnel reports (sums of funnel facts in the database) against their definitions
(folding every raw event in plain Python), on random ledgers: equal to the kopeck, on
SQLite and PostgreSQL. Covers the period funnel (all, one clinic, one specialization),
inflow vs throughput, cohorts, plan vs fact, the specializations table, lost money
and plan revisions by clinic and reason, and the conversion with forecast."""

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from backend.domain.conversion import NO_TREATMENT, period_conversion
from backend.domain.events import (
    Closed,
    Completed,
    Contacted,
    Correction,
    ItemDone,
    NoShow,
    PatientAnswer,
    Payment,
    ReceiptAttached,
    Source,
    Visited,
)
from backend.domain.funnel import fold_referral
from backend.domain.money_funnel import (
    estimate_as_sent,
    is_transfer,
    main_specialization,
    period_funnel,
)
from backend.domain.plan_fact import by_specialization, plan_vs_fact
from backend.domain.reasons import reasons_by_clinic
from backend.services import conversion, plan_fact, reasons, reports
from backend.services.errors import ServiceError
from backend.services.exchange_admin import transfer_referral
from backend.services.recording import Statement, record
from backend.services.referrals import PatientIn, PlanIn, PlanItemIn, revise_plan, send_referral
from backend.store import ledger
from tests.factories import make_clinic

SPECS = ["therapy", "implantology", "orthopedics"]
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)  # every fact is derived as of this moment
ZONES = [ZoneInfo("Europe/Moscow"), ZoneInfo("Asia/Novosibirsk")]
BASE = date(2026, 10, 1)

# One step of a story: what, how many days and which hour after the referral was sent
# (local; hour 23 puts events on the last evening of a month), and a choice.
step = st.tuples(
    st.sampled_from(
        [
            "booked",
            "declined",
            "visited",
            "no_show",
            "item",
            "item",
            "item",
            "pay",
            "completed",
            "closed",
            "yes",
            "no",
            "correct",
            "revise",
            "transfer",
            "receipt",
            "no_treatment",
        ]
    ),
    st.integers(min_value=-1, max_value=90),
    st.sampled_from([0, 9, 15, 23]),
    st.integers(min_value=0, max_value=9),
)
story = st.tuples(
    st.integers(min_value=0, max_value=1),  # clinic
    st.integers(min_value=0, max_value=100),  # sent, days after BASE
    st.sampled_from([9, 23]),
    st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=1, max_size=3),
    st.lists(step, max_size=10),
)


def local(day: date, hour: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=tz)


def plan_item(n: int, price: int) -> PlanItemIn:
    # Varied specializations (so cases differ in kind and in course length) and stages.
    return PlanItemIn(specialization=SPECS[price % 3], price=price, stage=1 + n % 2)


async def play(
    clinic_id: UUID,
    tz: ZoneInfo,
    phone: str,
    sent_day: int,
    hour: int,
    prices,
    steps,
    other_clinic: UUID | None = None,
):
    sent_at = local(BASE + timedelta(days=sent_day), hour, tz)
    sent = await send_referral(
        patient=PatientIn(phone=phone),
        clinic_id=clinic_id,
        plan=PlanIn(items=[plan_item(n, p) for n, p in enumerate(prices)]),
        actor="test",
        sent_at=sent_at,
        now=NOW,
    )
    rid = sent.referral_id
    ids: list[int] = []
    for kind, days, at_hour, choice in steps:
        at = min(local(sent_at.astimezone(tz).date() + timedelta(days=days), at_hour, tz), NOW)
        items = [line.item_id for line in fold_referral(await ledger.events_of(rid)).plan.lines]
        item = items[choice % len(items)]
        try:
            if kind == "transfer":
                # The rest of the plan moves to the other clinic (today: the transfer is
                # the exchange's act, dated when it is made).
                assert other_clinic is not None
                await transfer_referral(
                    rid, to_clinic_id=other_clinic, reason="переезд", actor="exchange:t", now=NOW
                )
                continue
            if kind == "revise":
                await revise_plan(
                    rid,
                    PlanIn(
                        items=[
                            plan_item(n, 1000 * (choice + 1) * (n + 1)) for n in range(len(items))
                        ]
                    ),
                    reason="цены клиники",
                    source=Source.clinic_panel,
                    actor="staff:t",
                    occurred_at=at,
                    now=NOW,
                )
                continue
            body, source = {
                "booked": (
                    Contacted(outcome="booked", appointment_at=at + timedelta(days=1)),
                    None,
                ),
                "declined": (Contacted(outcome="declined", reason=f"r{choice % 3}"), None),
                "visited": (Visited(), None),
                "no_show": (NoShow(), None),
                "item": (ItemDone(item_id=item), None),
                "pay": (Payment(amount=100 * (choice + 1)), None),
                # A receipt that backs a payment, says another sum, or backs none.
                "receipt": (
                    ReceiptAttached(
                        amount=100 * (choice % 5 + 1),
                        issued_at=at,
                        fn="9960440300000001",
                        fd=str(len(ids) + 1),
                        fp=str(choice),
                    ),
                    Source.patient_app,
                ),
                "completed": (Completed(), None),
                "closed": (Closed(reason=f"r{choice % 3}"), None),
                "no_treatment": (Closed(reason=NO_TREATMENT), None),
                "yes": (
                    PatientAnswer(question_id=uuid4(), milestone=f"item:{item}", answer="yes"),
                    Source.patient_app,
                ),
                "no": (
                    PatientAnswer(question_id=uuid4(), milestone=f"item:{item}", answer="no"),
                    Source.patient_app,
                ),
                "correct": (
                    Correction(retracts=ids[choice % len(ids)] if ids else 0, reason="x"),
                    None,
                ),
            }[kind]
            done = await record(
                rid,
                Statement(
                    body=body,
                    source=source or Source.clinic_panel,
                    actor="staff:t",
                    occurred_at=at,
                ),
                now=NOW,
            )
            ids.append(done.event.id)
        except ServiceError:
            pass  # refused by the rules (e.g. a correction of nothing): nothing recorded
    return rid


def periods(first_sent: date) -> list[tuple[date, date]]:
    months = []
    month = first_sent.replace(day=1)
    for _ in range(6):
        end = reports.month_end(month)
        months.append((month, end))
        month = end + timedelta(days=1)
    days = [
        (BASE + timedelta(days=20), BASE + timedelta(days=75)),
        (BASE, BASE + timedelta(days=4)),
    ]
    return [*months, *days]


def cohorts_by_fold(folded, first: str, current: str) -> list[tuple]:
    """The cohort table straight from the folds: money in by the month each referral
    was sent, and its items' money by the month they were done (not before sending)."""
    money_in: dict[str, list[int]] = {}
    executed: dict[tuple[str, str], int] = {}
    for _, events, tz in folded:
        fold = fold_referral(events)
        cohort = fold.sent_at.astimezone(tz).strftime("%Y-%m")
        entry = money_in.setdefault(cohort, [0, 0])
        if not is_transfer(fold):  # a transfer's money came in with the original
            entry[0] += 1
            entry[1] += estimate_as_sent(fold)
        for item_id, done_at in fold.done_items.items():
            month = max(done_at, fold.sent_at).astimezone(tz).strftime("%Y-%m")
            executed[(cohort, month)] = executed.get((cohort, month), 0) + fold.item_prices.get(
                item_id, 0
            )
    rows, cohort = [], first
    while cohort <= current:
        count, amount = money_in.get(cohort, [0, 0])
        months, k = [], 0
        while reports.add_months(cohort, k) <= current:
            months.append(executed.get((cohort, reports.add_months(cohort, k)), 0))
            k += 1
        rows.append((cohort, count, amount, months))
        cohort = reports.add_months(cohort, 1)
    return rows


def as_dict(funnel) -> dict:
    out = msgspec.to_builtins(funnel)
    out.pop("currency")  # the fold takes it from its referrals, the sums do not
    return out


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(story, min_size=1, max_size=5))
@example(  # a revised plan, two of its items done (one on a month's last evening), one
    # confirmed, one denied, then closed; an item reported done before the sending
    [
        (
            0,
            30,
            23,
            [1_000_00, 2_000_00, 3_000_00],
            [
                ("revise", 0, 9, 2),
                ("booked", 0, 15, 0),
                ("visited", 2, 9, 0),
                ("item", 2, 15, 0),
                ("yes", 3, 9, 0),
                ("item", 0, 23, 1),
                ("no", 5, 9, 1),
                ("pay", 6, 9, 4),
                ("receipt", 6, 9, 4),
                ("pay", 7, 9, 1),
                ("receipt", 7, 15, 2),
                ("receipt", 9, 9, 0),
                ("closed", 40, 9, 1),
            ],
        ),
        (1, 60, 9, [5_000_00], [("declined", 1, 23, 2)]),
        (
            1,
            61,
            9,
            [5_000_00],
            [("booked", 0, 9, 0), ("visited", 1, 9, 0), ("no_treatment", 1, 15, 0)],
        ),
        (
            1,
            5,
            23,
            [7_000_00, 1_00],
            [
                ("booked", 0, 23, 0),
                ("item", -1, 9, 1),
                ("item", 10, 9, 0),
                ("completed", 70, 9, 0),
            ],
        ),
        (
            0,
            80,
            9,
            [3_000_00, 4_000_00],
            [("booked", 0, 9, 0), ("item", 3, 9, 1), ("transfer", 5, 9, 0)],
        ),
    ]
)
async def test_reports_agree_with_folding_the_raw_events(db, stories):
    clinics = [await make_clinic("A", ZONES[0].key), await make_clinic("B", ZONES[1].key)]
    for clinic, sent_day, hour, prices, steps in stories:
        phone = f"+7916{uuid4().int % 10**7:07d}"
        await play(
            clinics[clinic],
            ZONES[clinic],
            phone,
            sent_day,
            hour,
            prices,
            steps,
            clinics[1 - clinic],
        )

    for scope in (clinics, clinics[:1]):
        histories = await ledger.histories(scope)
        tz_of = {}
        for rid, events in histories.items():
            clinic_id = next(e.body.clinic_id for e in events if e.kind == "sent")
            tz_of[rid] = ZONES[clinics.index(clinic_id)]
        folded = [(rid, events, tz_of[rid]) for rid, events in histories.items()]
        for first, last in periods(BASE):
            expected = period_funnel(folded, first=first, last=last, now=NOW)
            got = await reports.funnel(scope, first=first, last=last)
            assert as_dict(got) == as_dict(expected), (first, last)
        flow = await reports.monthly_flow(scope, months=6, tz=ZONES[0], now=NOW)
        expected_flow = []
        for month in [reports.add_months("2026-10", k) for k in range(6)]:
            first = date.fromisoformat(month + "-01")
            f = period_funnel(folded, first=first, last=reports.month_end(first), now=NOW)
            expected_flow.append((month, f.in_money, f.executed_money, f.lost_money))
        assert [(m.month, m.inflow, m.executed, m.lost) for m in flow] == expected_flow
        table = await reports.cohorts(scope, first="2026-09", last="2027-12", now=NOW, tz=ZONES[0])
        assert [(r.cohort, r.referrals, r.in_money, r.executed) for r in table] == cohorts_by_fold(
            folded, "2026-09", "2027-03"
        )

        months = [reports.add_months("2026-09", k) for k in range(14)]
        got_months = await plan_fact.plan_vs_fact(scope, first=months[0], last=months[-1])
        want_months = plan_vs_fact(folded, months, now=NOW)
        assert msgspec.to_builtins(got_months) == msgspec.to_builtins(want_months)
        for first_month, last_month in (("2026-10", "2027-03"), ("2026-11", "2026-12")):
            got_specs = await plan_fact.by_specialization(scope, first=first_month, last=last_month)
            want_specs = by_specialization(folded, first_month, last_month)
            assert msgspec.to_builtins(got_specs) == msgspec.to_builtins(want_specs)

        # Lost money and plan revisions by clinic and reason.
        for first, last in periods(BASE):
            got_reasons = await reasons.reasons_by_clinic(scope, first=first, last=last)
            want_reasons = reasons_by_clinic(folded, first=first, last=last)
            assert msgspec.to_builtins(got_reasons) == msgspec.to_builtins(want_reasons)

        # Conversion with forecast: the total and rows per clinic, coordinator, kind.
        for first, last in periods(BASE)[:3] + periods(BASE)[-2:]:
            for by in ("clinic", "coordinator", "specialization"):
                got_conv = await conversion.conversion(scope, first=first, last=last, by=by)
                assert msgspec.to_builtins(got_conv.rows) == msgspec.to_builtins(
                    period_conversion(folded, first=first, last=last, by=by)
                ), (by, first, last)
                assert msgspec.to_builtins([got_conv.total] if got_conv.total else []) == (
                    msgspec.to_builtins(period_conversion(folded, first=first, last=last))
                )
            narrowed_conv = await conversion.conversion(
                scope, first=first, last=last, specialization=SPECS[1]
            )
            assert msgspec.to_builtins(narrowed_conv.rows) == msgspec.to_builtins(
                period_conversion(
                    folded, first=first, last=last, by="clinic", specialization=SPECS[1]
                )
            )

        # One kind of case: the same reports narrowed to referrals of that specialization.
        spec = SPECS[1]
        narrowed = [h for h in folded if main_specialization(fold_referral(h[1])) == spec]
        for first, last in periods(BASE)[:3]:
            expected = period_funnel(narrowed, first=first, last=last, now=NOW)
            got = await reports.funnel(scope, first=first, last=last, specialization=spec)
            assert as_dict(got) == as_dict(expected), (spec, first, last)
        got_months = await plan_fact.plan_vs_fact(
            scope, first=months[0], last=months[-1], specialization=spec
        )
        assert msgspec.to_builtins(got_months) == msgspec.to_builtins(
            plan_vs_fact(narrowed, months, now=NOW)
        )
