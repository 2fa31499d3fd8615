"""Alerts to staff, end to end: each kind of event reaches a real SMTP server (aiosmtpd on
loopback, spoken to by aiosmtplib) and, for CRM clinics, a task in the clinic's CRM (the
local Bitrix24 and amoCRM fakes), through the outbox, once."""

from datetime import timedelta
from uuid import UUID

import msgspec
import pytest

from backend.domain import integration_settings
from backend.domain.events import NoShow, Source, Visited
from backend.domain.roles import Role
from backend.domain.staff_alerts import AlertKind
from backend.messages.email import SmtpMailer
from backend.outbox.worker import handlers, run_once
from backend.services import alert_texts, inbox, integration_setup, staff_alerts
from backend.services.answers import answer_question
from backend.services.patient_statements import respond_to_appointment
from backend.services.recording import Statement, record
from backend.services.staff_alerts import Channels
from backend.store import outbox, parties, questions
from backend.store.tables import Appointment, Referral, StaffAlert
from tests.factories import NOW, book, hours, make_clinic, make_referral
from tests.fakes.crm_tasks import FakeAmoCrmTasks, FakeBitrix24Tasks
from tests.fakes.server import Running
from tests.http.staff_client import make_staff
from tests.mail_server import smtp_server


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


def channels(db, url: str) -> Channels:
    return Channels(
        public_url="https://plantrack.example",
        secret_key=db.secret_key,
        mailer=SmtpMailer(url, "plantrack <alerts@plantrack.example>"),
    )


async def work(db, url: str, now, rounds: int = 10) -> int:
    topics = handlers(None, db.secret_key, channels(db, url))
    done = 0
    for _ in range(rounds):
        n = await run_once(topics, worker="alerts-test", now=now)
        done += n
        if n == 0:
            break
    return done


def kind_of(message) -> AlertKind:
    subject = message["Subject"]
    for kind, words in alert_texts.SUBJECTS.items():
        if subject.startswith(words["ru"]) or subject.startswith(words["en"]):
            return kind
    raise AssertionError(f"no alert kind in {subject!r}")


async def open_question(referral_id: UUID, kind: str):
    [q] = [q for q in await questions.asked_for(referral_id) if q.kind == kind and q.open]
    return q


async def live_through_every_alert(db, url: str, clinic_id: UUID, crm=None) -> UUID:
    """One referral that meets every kind of event that needs a person."""
    sent = await make_referral(clinic_id, at=NOW)
    rid = sent.referral_id
    await work(db, url, NOW)  # new referral (and, for a CRM clinic, its deal or lead)
    await work(db, url, hours(1.5))  # 75 % of the 2-hour SLA
    await work(db, url, hours(2))  # the SLA passed; the patient is asked
    q = await open_question(rid, "contact_check")
    await answer_question(patient_id=sent.patient_id, question_id=q.id, answer="no", now=hours(2.2))
    await work(db, url, hours(2.2))  # nobody called
    await book(rid, hours(27), now=hours(3))
    appt = await Appointment.select().where(Appointment.referral == rid).first()
    await respond_to_appointment(
        sent.patient_id, appt["id"], response="reschedule", note=None, now=hours(4)
    )
    await work(db, url, hours(4))  # the patient asks to move it
    await record(
        rid,
        Statement(
            body=NoShow(), source=Source.clinic_panel, actor="staff:test", occurred_at=hours(28)
        ),
        now=hours(29),
    )
    await work(db, url, hours(27 + 72 + 1))  # no-show, not rebooked within 3 days
    await book(rid, hours(125), now=hours(101))
    await record(
        rid,
        Statement(body=Visited(), source=Source.clinic_panel, actor="staff:test"),
        now=hours(125.5),
    )
    q = await open_question(rid, "confirm_visit")
    await answer_question(patient_id=sent.patient_id, question_id=q.id, answer="no", now=hours(126))
    await work(db, url, hours(126))  # a new dispute
    later = hours(126 + 24 * 200)  # the plan's stages long overdue
    await work(db, url, later)
    assert (await Referral.select(Referral.schedule).where(Referral.id == rid).first())[
        "schedule"
    ] == "behind"
    await work(db, url, later + timedelta(minutes=1))
    return rid


EVERY_KIND = set(AlertKind)


async def people(clinic_id: UUID):
    coordinator = await make_staff(Role.clinic_coordinator, clinic_id)
    manager = await make_staff(Role.clinic_manager, clinic_id)
    operator = await make_staff(Role.exchange_operator)
    return coordinator, manager, operator


async def test_every_alert_reaches_the_smtp_server(db, smtp):
    box, url = smtp
    clinic_id = await make_clinic()
    coordinator, manager, operator = await people(clinic_id)
    await live_through_every_alert(db, url, clinic_id)

    got = {kind_of(m) for m in box.messages}
    # A panel clinic has no CRM to fail: every other kind arrived.
    assert got == EVERY_KIND - {AlertKind.crm_failed}
    coordinator_kinds = [kind_of(m) for m in box.to(coordinator.email)]
    assert AlertKind.sla_due in coordinator_kinds and AlertKind.new_dispute not in coordinator_kinds
    assert AlertKind.new_dispute in {kind_of(m) for m in box.to(manager.email)}
    assert {kind_of(m) for m in box.to(operator.email)} == {AlertKind.new_dispute}
    # Once each: nothing was sent twice although the worker ran many times.
    for person in (coordinator, manager, operator):
        ids = [m["Message-ID"] for m in box.to(person.email)]
        assert len(ids) == len(set(ids))
    # No patient data in mail: no name, no phone, no procedure.
    for m in box.messages:
        text = m.get_body().get_content() + m["Subject"]
        assert "Анна" not in text and "1234567" not in text and "Имплант" not in text
        assert "https://plantrack.example/admin/" in text
    first = box.to(coordinator.email)[0]
    assert first["Subject"].startswith("Новое направление · Улыбка")


async def test_sla_alerts_wait_for_working_hours_and_others_for_the_morning(db, smtp):
    box, url = smtp
    clinic_id = await make_clinic()
    coordinator, _, _ = await people(clinic_id)
    saturday_evening = NOW + timedelta(days=5, hours=9)  # Sat 19:00 in Moscow
    sent = await make_referral(clinic_id, at=saturday_evening)
    await work(db, url, saturday_evening)
    assert [kind_of(m) for m in box.messages] == [AlertKind.new_referral]  # 19:00: not night
    # The SLA's 2 working hours: Saturday 19:00–20:00, then Monday 09:00–10:00.
    [due] = [
        m for m in await outbox.of_topic(staff_alerts.TIMER) if m.dedupe_key.endswith("sla_due")
    ]
    monday = saturday_evening + timedelta(days=1, hours=14)  # Mon 09:00
    assert due.available_at == monday + timedelta(minutes=30)
    await work(db, url, monday)
    assert len(box.messages) == 1
    await work(db, url, monday + timedelta(minutes=30))
    await work(db, url, monday + timedelta(hours=1))
    assert {kind_of(m) for m in box.messages} == {
        AlertKind.new_referral,
        AlertKind.sla_due,
        AlertKind.sla_passed,
    }
    # A patient who says "nobody called" at 23:00 is heard of at 08:00.
    q = await open_question(sent.referral_id, "contact_check")
    night = monday + timedelta(hours=14)  # Mon 23:00
    await answer_question(patient_id=sent.patient_id, question_id=q.id, answer="no", now=night)
    await work(db, url, night)
    assert len(box.to(coordinator.email)) == 3
    await work(db, url, night + timedelta(hours=9))
    assert len(box.to(coordinator.email)) == 4
    assert kind_of(box.to(coordinator.email)[-1]) is AlertKind.nobody_called


async def test_a_digest_instead_and_preferences_per_person(db, smtp):
    box, url = smtp
    clinic_id = await make_clinic()
    coordinator, manager, _ = await people(clinic_id)
    c_row = await parties.staff_by_email(coordinator.email)
    await staff_alerts.set_preferences(
        c_row.id,
        staff_alerts.AlertPrefs(digest=True, lang="en"),
        role=Role.clinic_coordinator,
    )
    m_row = await parties.staff_by_email(manager.email)
    # The manager wants only new referrals.
    saved = await staff_alerts.set_preferences(
        m_row.id,
        staff_alerts.AlertPrefs(kinds=frozenset({AlertKind.new_referral})),
        role=Role.clinic_manager,
    )
    assert saved.kinds == frozenset({AlertKind.new_referral})
    await make_referral(clinic_id, at=NOW)
    await make_referral(clinic_id, phone="+79161234568", at=NOW + timedelta(minutes=5))
    await work(db, url, NOW + timedelta(minutes=5))
    assert [m["To"] for m in box.messages] == [manager.email, manager.email]
    # SLA alerts are never held for a digest: a missed call cannot wait for tomorrow.
    await work(db, url, hours(1.6))
    assert {m["To"] for m in box.messages[2:]} == {coordinator.email}
    assert {kind_of(m) for m in box.messages[2:]} == {AlertKind.sla_due}
    # Next morning, 08:30 in Moscow: one e-mail with both new referrals, in English.
    await work(db, url, NOW + timedelta(days=1, hours=-1, minutes=30))
    [digest] = [m for m in box.messages if "Daily digest" in m["Subject"]]
    assert digest["To"] == coordinator.email and "Daily digest · 2 alerts" in digest["Subject"]
    assert digest.get_body().get_content().count("New referral") == 2
    await work(db, url, NOW + timedelta(days=2))
    assert len([m for m in box.messages if "Daily digest" in m["Subject"]]) == 1  # once


@pytest.mark.parametrize("system", ["bitrix24", "amocrm"])
async def test_every_alert_reaches_the_clinics_crm_as_a_task(db, smtp, system):
    box, url = smtp
    fake = FakeBitrix24Tasks() if system == "bitrix24" else FakeAmoCrmTasks()
    with Running(fake):
        clinic_id = await make_clinic()
        _, manager, operator = await people(clinic_id)
        if system == "bitrix24":
            config = {
                "system": "bitrix24",
                "rest_url": fake.rest_url,
                "application_token": fake.application_token,
                "stage_map": {"NEW": {"kind": "received"}},
            }
        else:
            config = {
                "system": "amocrm",
                "base_url": fake.base_url,
                "account_id": str(fake.account_id),
                "access_token": fake.access_token,
                "pipeline_id": str(fake.pipeline_id),
                "stage_map": {f"{fake.pipeline_id}:{fake.first_status}": {"kind": "received"}},
            }
        await integration_setup.configure(
            clinic_id,
            msgspec.convert(config, integration_settings.IntegrationIn),
            secret_key=db.secret_key,
            public_url="https://plantrack.example",
            now=NOW,
        )
        rid = await live_through_every_alert(db, url, clinic_id)

        # The CRM refuses us now: a delivery from it fails, and people are told.
        if system == "bitrix24":
            fake.secret = "rotated-by-the-clinic"
            deal_id = next(int(d["ID"]) for d in fake.deals.values())
            body = fake.event("ONCRMDEALUPDATE", deal_id)
        else:
            fake.access_token = "revoked"
            lead_id = next(iter(fake.leads))
            body = fake.webhook((lead_id, fake.first_status))
        token = (
            await integration_setup.describe(
                clinic_id, secret_key=db.secret_key, public_url="http://x"
            )
        ).inbound_url.rsplit("/", 1)[1]
        accepted = await inbox.accept(
            system, token, {}, body, secret_key=db.secret_key, now=hours(5000)
        )
        assert accepted.status == 202
        await work(db, url, hours(5000))

    tasks = list(fake.tasks.values())
    if system == "bitrix24":
        deal = next(d for d in fake.deals.values() if d["ORIGIN_ID"] == str(rid))
        assert {t["ufCrmTask"][0] for t in tasks} == {f"D_{deal['ID']}"}
        titles = [t["title"] for t in tasks]
        assert all(t["responsibleId"] == fake.user for t in tasks)  # the webhook's user
    else:
        lead_id = next(iter(fake.leads))
        assert {t["entity_id"] for t in tasks} == {lead_id}
        assert {t["entity_type"] for t in tasks} == {"leads"}
        titles = [t["text"] for t in tasks]
    task_kinds = set()
    for title in titles:
        for kind, words in alert_texts.SUBJECTS.items():
            if title.startswith(words["ru"]):
                task_kinds.add(kind)
    # Every alert about the referral is a task in the CRM; the CRM's own failure is not
    # (it is about no referral, and the CRM is what failed): that one came by e-mail.
    assert task_kinds == EVERY_KIND - {AlertKind.crm_failed}
    # One task per alert and person, each marked, none twice.
    markers = [t.rsplit("(plantrack #", 1)[1].split(")")[0] for t in titles]
    assert len(markers) == len(set(markers))
    assert AlertKind.crm_failed in {kind_of(m) for m in box.to(manager.email)}
    assert AlertKind.crm_failed in {kind_of(m) for m in box.to(operator.email)}
    failed = await StaffAlert.select().where(StaffAlert.kind == "crm_failed")
    keys = sorted(r["dedupe_key"].split(":", 2)[2].split(":")[0] for r in failed)
    # The delivery, once; and the scheduled re-read of its deals or leads (once a day).
    assert keys == ["delivery", "reconcile"]
