"""Settings a clinic and the exchange change (issue 20): "overdue" counted in the
clinic's working hours and holidays, every change in the audit log, reports restated."""

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from backend.domain.roles import Role
from backend.outbox.worker import handlers, run_once
from backend.services import clinic_settings, plan_fact
from backend.services.audit import Viewer
from backend.services.clinic_settings import NormChange
from backend.services.errors import Forbidden, Invalid
from backend.services.recording import reevaluate_due
from backend.services.staff_auth import StaffPrincipal
from backend.store import desk, outbox, referrals, verifications
from tests.factories import book, make_clinic, make_referral

MSK = ZoneInfo("Europe/Moscow")
FRIDAY_5PM = datetime(2026, 11, 6, 17, tzinfo=MSK)  # Friday; Monday the 9th a holiday here


def viewer(role: Role, clinic_id: UUID | None = None) -> Viewer:
    staff_id = UUID(int=41 if clinic_id else 42)
    return Viewer(
        principal=StaffPrincipal(
            staff_id=staff_id,
            session_id=UUID(int=1),
            email="x@example.org",
            name="",
            role=role,
            clinic_id=clinic_id,
        ),
        ip="127.0.0.1",
        request_id="r1",
    )


async def contact_due(referral_id: UUID) -> datetime:
    [v] = [v for v in await verifications.of_referral(referral_id) if v.milestone == "contacted"]
    return v.due_at


async def restate_everything(now: datetime) -> None:
    while await run_once(handlers(None), worker="w", now=now):
        pass


async def test_overdue_is_counted_in_the_clinics_working_hours_and_holidays(db):
    clinic = await make_clinic()
    manager, operator = viewer(Role.clinic_manager, clinic), viewer(Role.exchange_operator)
    before = await make_referral(clinic, phone="+79160002001", at=FRIDAY_5PM.astimezone(UTC))
    # The defaults: two working hours, 09:00-20:00 Monday to Saturday: 19:00 on Friday.
    assert await contact_due(before.referral_id) == datetime(2026, 11, 6, 19, tzinfo=MSK)

    # The clinic works 10:00-18:00 Monday to Friday and is closed on Monday the 9th; the
    # exchange gives it three working hours.
    changed_at = FRIDAY_5PM + timedelta(minutes=5)
    await clinic_settings.change_settings(
        manager,
        clinic,
        {
            "opens": time(10),
            "closes": time(18),
            "weekdays": (0, 1, 2, 3, 4),
            "holidays": (date(2026, 11, 9),),
        },
        now=changed_at,
    )
    with pytest.raises(Forbidden):  # the SLA is the exchange's term, not the clinic's
        await clinic_settings.change_settings(
            manager, clinic, {"first_contact_sla_minutes": 600}, now=changed_at
        )
    view = await clinic_settings.change_settings(
        operator, clinic, {"first_contact_sla_minutes": 180}, now=changed_at
    )
    assert view.effective.source["first_contact_sla_minutes"] == "clinic"

    # Friday 17:00-18:00 is one working hour; the weekend and the holiday are not; two
    # more on Tuesday from 10:00: due at 12:00 on Tuesday the 10th.
    due = datetime(2026, 11, 10, 12, tzinfo=MSK)
    after = await make_referral(clinic, phone="+79160002002", at=FRIDAY_5PM.astimezone(UTC))
    assert await contact_due(after.referral_id) == due
    # The referral recorded before the change is restated by the worker: same deadline.
    assert await contact_due(before.referral_id) != due
    await restate_everything(changed_at)
    assert await contact_due(before.referral_id) == due
    latest = (await clinic_settings.settings_of(clinic)).restatement
    assert latest.done == latest.total == 2 and latest.finished_at is not None

    # Overdue comes at that moment, not a minute before; and the patient's question too.
    assert await reevaluate_due(now=due - timedelta(minutes=1)) == 0
    assert await reevaluate_due(now=due) == 2
    row = await referrals.get(after.referral_id)
    assert row.overdue_count == 1
    timers = [
        t
        for t in await outbox.of_topic("timer")
        if t.status == "pending" and t.referral == after.referral_id
    ]
    assert [t.available_at for t in timers] == [due]

    # The staff alerts and the coordinator's worklist keep the same clock.
    from backend.services import staff_alerts
    from backend.store import parties

    row = await parties.clinic(clinic)
    _, hours = await staff_alerts.clinic_calendar(row)
    assert (hours.opens, hours.closes, hours.holidays) == (
        time(10),
        time(18),
        frozenset({date(2026, 11, 9)}),
    )
    assert await staff_alerts.sla_of(row) == timedelta(minutes=180)

    # Every change is in the audit log, with what it was and what it became.
    entries = await desk.audit_entries(limit=10, object_id=str(clinic))
    actions = [(e.action, e.actor_role) for e in entries]
    assert actions == [
        ("change_settings", "exchange_operator"),
        ("change_settings", "clinic_manager"),
    ]
    details = entries[1].details
    assert details["opens"] == {"from": None, "to": "10:00:00"}
    assert details["holidays"] == {"from": None, "to": ["2026-11-09"]}


async def test_bad_settings_are_refused_with_the_reason(db):
    clinic = await make_clinic()
    manager = viewer(Role.clinic_manager, clinic)
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    for change, words in (
        ({"opens": time(18), "closes": time(10)}, "closes: must be after opens"),
        ({"weekdays": ()}, "weekdays: at least one"),
        ({"sender_name": "Улыбка"}, "sender_name"),
        ({"sender_name": "12345"}, "sender_name"),
        ({"opens": time(9)}, "give both"),
    ):
        with pytest.raises(Invalid, match=words):
            await clinic_settings.change_settings(manager, clinic, change, now=now)
    other = await make_clinic("B")
    with pytest.raises(Forbidden):  # a manager changes their own clinic only
        await clinic_settings.change_settings(manager, other, {"sender_name": "Dent"}, now=now)
    view = await clinic_settings.change_settings(
        manager, clinic, {"sender_name": "Ulybka-1"}, now=now
    )
    assert (
        view.effective.sender_name == "Ulybka-1" and view.restatement is None
    )  # nothing to restate
    assert await desk.audit_entries(limit=5, object_id=str(other)) == []


async def test_duration_norms_restate_expected_money(db):
    clinic = await make_clinic()
    manager = viewer(Role.clinic_manager, clinic)
    sent = await make_referral(clinic)
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)

    appointment = datetime(2026, 11, 3, 10, tzinfo=MSK)
    await book(sent.referral_id, appointment, occurred_at=now, now=now)
    months = ("2026-11", "2027-06")

    async def expected_by_month() -> dict[str, int]:
        rows = await plan_fact.plan_vs_fact([clinic], first=months[0], last=months[1])
        return {r.month: r.expected for r in rows if r.expected}

    # The plan: caries (therapy, stage 1: 7 days) then an implant (stage 2: 180 days).
    assert await expected_by_month() == {"2026-11": 6_500_00, "2027-05": 65_000_00}
    view = await clinic_settings.change_norms(
        manager,
        clinic,
        [NormChange(specialization="implantology", chair_minutes=480, course_days=90)],
        now=now,
    )
    implants = next(n for n in view.norms if n.specialization == "implantology")
    assert (implants.course_days, implants.source) == (90, "clinic")
    await restate_everything(now)
    assert await expected_by_month() == {"2026-11": 6_500_00, "2027-02": 65_000_00}
    [entry] = await desk.audit_entries(limit=5, object_id=str(clinic))
    assert entry.action == "change_norms"
    # Back to the exchange's norm: restated again.
    await clinic_settings.change_norms(
        manager, clinic, [NormChange(specialization="implantology")], now=now
    )
    await restate_everything(now)
    assert await expected_by_month() == {"2026-11": 6_500_00, "2027-05": 65_000_00}


async def test_the_sla_changed_on_the_clinic_record_is_audited_and_restated_too(db):
    from backend.services.exchange_admin import ClinicChange, update_clinic

    clinic = await make_clinic()
    operator = viewer(Role.exchange_operator)
    await update_clinic(clinic, ClinicChange(first_contact_sla_minutes=240), viewer=operator)
    [entry] = await desk.audit_entries(limit=5, object_id=str(clinic))
    assert entry.details == {"first_contact_sla_minutes": {"from": None, "to": 240}}
    view = await clinic_settings.settings_of(clinic)
    assert view.effective.first_contact_sla == timedelta(minutes=240)
    assert view.restatement.reason == "settings: first_contact_sla_minutes"
    await update_clinic(clinic, ClinicChange(name="Улыбка-2"), viewer=operator)
    assert len(await desk.audit_entries(limit=5, object_id=str(clinic))) == 1  # no SLA change


async def test_a_clinics_rules_are_kept_per_process_until_an_edit_raises_the_epoch(db):
    """The recording reads its clinic's rules for every claim: they are kept under the
    screens' epoch the lock row carries, and any edit of the settings or norms raises
    it, so the next recording reads them afresh."""
    from backend.services.recording import rules_of
    from backend.store.engine import write_transaction

    clinic = await make_clinic()
    manager = viewer(Role.clinic_manager, clinic)
    sent = await make_referral(clinic, phone="+79160002101")

    async def rules():
        async with write_transaction():
            locked = await referrals.lock(sent.referral_id)
            return locked.rules_epoch, await rules_of(locked)

    epoch, first = await rules()
    again_epoch, again = await rules()
    assert (again_epoch, again) == (epoch, first) and again is first  # kept, not read

    await clinic_settings.change_norms(
        manager,
        clinic,
        [NormChange(specialization="implantology", chair_minutes=480, course_days=90)],
    )
    norm_epoch, after_norms = await rules()
    assert norm_epoch > epoch
    assert after_norms.norms["implantology"].course_days == 90

    await clinic_settings.change_settings(manager, clinic, {"opens": time(10), "closes": time(18)})
    settings_epoch, after_settings = await rules()
    assert settings_epoch > norm_epoch
    assert after_settings.settings.hours.opens == time(10)
