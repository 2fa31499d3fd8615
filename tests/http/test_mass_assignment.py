"""Property-level authorisation: a patient can never set a clinic-side field, a clinic
never a patient's answer. Each body below is a real route's valid body plus a field
(or a kind) that belongs to the other side; every one is a 400 that writes nothing,
and what the valid bodies record carries the caller's own source, whatever was sent."""

from datetime import timedelta
from typing import Any

from backend.domain.events import Source
from backend.domain.roles import Role
from backend.routes import patient_examples as pex
from backend.runtime.clock import utcnow
from backend.store.tables import ContactRating, Device, Event, Patient, Plan, Question, Referral
from tests.factories import book, make_clinic, make_referral
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in

PHONE = "+79161110077"
API = "/api/v1"

# Fields of the other side, or of nobody's to set: ledger provenance, ownership, money.
SMUGGLED: dict[str, Any] = {
    "source": "clinic_panel",
    "actor": "staff:someone",
    "patient_id": "00000000-0000-0000-0000-000000000009",
    "clinic_id": "00000000-0000-0000-0000-000000000008",
    "referral_id": "00000000-0000-0000-0000-000000000007",
    "verified": True,
    "state": "confirmed",
    "amount": 100_00,
    "phone": "+79160000000",
}


async def snapshot() -> dict[str, Any]:
    """Everything either side's writes could change."""
    return {
        "events": await Event.count(),
        "ratings": await ContactRating.count(),
        "devices": await Device.select(Device.token, Device.patient).order_by(Device.token),
        "patients": await Patient.select(
            Patient.id, Patient.phone, Patient.name, Patient.locale
        ).order_by(Patient.id),
        "referrals": await Referral.select(Referral.id, Referral.clinic, Referral.patient),
        "plans": await Plan.count(),
        "questions": await Question.select(Question.id, Question.status),
    }


async def test_a_patient_cannot_set_clinic_side_fields(client, db):
    now = utcnow()
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE, at=now - timedelta(hours=3))
    await book(sent.referral_id, now + timedelta(days=1))
    patient = await patient_sign_in(client, PHONE)
    h = patient.headers
    screen = (await client.get(f"{API}/me/referrals/{sent.referral_id}", headers=h)).json()
    rid, question = sent.referral_id, screen["questions"][0]["id"]
    appointment = screen["appointments"][0]["id"]
    writes = [
        ("PATCH", f"{API}/me", pex.PROFILE_CHANGE),
        ("PUT", f"{API}/me/devices", pex.DEVICE_IN),
        ("POST", f"{API}/me/questions/{question}/answer", pex.ANSWER_IN),
        ("POST", f"{API}/me/referrals/{rid}/contact-rating", pex.RATING_IN),
        ("POST", f"{API}/me/appointments/{appointment}/response", pex.APPOINTMENT_IN),
        ("POST", f"{API}/me/referrals/{rid}/reports", pex.REPORT_IN),
        ("POST", f"{API}/me/referrals/{rid}/receipts", pex.RECEIPT_IN),
    ]
    before = await snapshot()
    refused = 0
    for method, path, body in writes:
        for field, value in SMUGGLED.items():
            answer = await client.request(method, path, headers=h, json={**body, field: value})
            assert answer.status_code == 400, (path, field, answer.status_code, answer.text)
            problem = answer.json()
            assert f"unknown field `{field}`" in str(problem.get("errors")), (path, problem)
            refused += 1
    # Clinic-side kinds of statement are not the patient's to make.
    for kind in ("payment", "item_done", "completed", "closed", "received", "no_show"):
        answer = await client.post(
            f"{API}/me/referrals/{rid}/reports", headers=h, json={"kind": kind}
        )
        assert answer.status_code == 400, (kind, answer.text)
        refused += 1
    assert refused == len(writes) * len(SMUGGLED) + 6
    assert await snapshot() == before

    # The same answer without the smuggled fields is recorded as the patient's word.
    ok = await client.post(f"{API}/me/questions/{question}/answer", headers=h, json=pex.ANSWER_IN)
    assert ok.status_code == 200, ok.text
    newest = await Event.select(Event.source, Event.actor).order_by(Event.id, ascending=False)
    assert newest[0]["source"] == Source.patient_app.value
    assert newest[0]["actor"] == f"patient:{patient.patient_id}"


async def test_a_clinic_cannot_set_a_patients_answer_or_another_source(client, db):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE)
    staff = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic))
    h = staff.headers
    rid = sent.referral_id
    claim = f"{API}/clinic/referrals/{rid}/claims"
    plan = f"{API}/clinic/referrals/{rid}/plan"
    plan_body = {"reason": "x", "items": [{"specialization": "therapy", "price": 100_00}]}
    before = await snapshot()
    refused = 0
    for path, method, body in ((claim, "POST", {"kind": "received"}), (plan, "PUT", plan_body)):
        for field in ("source", "actor", "patient_id", "clinic_id", "answer", "verified"):
            answer = await client.request(
                method, path, headers=h, json={**body, field: SMUGGLED.get(field, "yes")}
            )
            assert answer.status_code == 400, (path, field, answer.status_code, answer.text)
            refused += 1
    # The patient's kinds of statement are not the clinic's to make.
    for kind in ("answer", "confirm_item", "contact_rating", "appointment_response", "receipt"):
        answer = await client.post(claim, headers=h, json={"kind": kind})
        assert answer.status_code == 400, (kind, answer.text)
        refused += 1
    # Nor can a clinic answer the patient's questions through the patient's routes.
    for path in (f"{API}/me/questions", f"{API}/me/referrals/{rid}"):
        assert (await client.get(path, headers=h)).status_code == 401
        refused += 1
    assert refused == 12 + 5 + 2
    assert await snapshot() == before

    ok = await client.post(claim, headers=h, json={"kind": "received"})
    assert ok.status_code == 200, ok.text
    newest = await Event.select(Event.source, Event.actor).order_by(Event.id, ascending=False)
    assert newest[0]["source"] == Source.clinic_panel.value
    assert newest[0]["actor"].startswith("staff:")
    assert newest[0]["actor"] != SMUGGLED["actor"]
