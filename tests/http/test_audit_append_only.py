"""The audit log and the ledger are append-only on the database itself, whoever asks:
UPDATE, DELETE and (on PostgreSQL) TRUNCATE are refused by triggers; the one UPDATE the
ledger takes is a patient's free text set to null, for erasure. Staff reads of a patient
are written to the audit log."""

from datetime import timedelta

import msgspec
import pytest

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.store.engine import current_engine, is_postgres
from backend.store.tables import AuditLog, Event
from tests.factories import book, make_clinic, make_referral
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in

PHONE = "+79161230001"
REFUSED = "append-only"


async def _journey(client):
    """A referral, a booking, a patient's answer with a note, two staff reads."""
    now = utcnow()
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE, at=now - timedelta(hours=3))
    await book(sent.referral_id, now + timedelta(days=1), occurred_at=now - timedelta(hours=1))
    patient = await patient_sign_in(client, PHONE)
    questions = (await client.get("/api/v1/me/questions", headers=patient.headers)).json()
    answered = await client.post(
        f"/api/v1/me/questions/{questions['items'][0]['id']}/answer",
        headers=patient.headers,
        json={"answer": "no", "note": "Никто не звонил"},
    )
    assert answered.status_code == 200, answered.text
    coordinator = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic))
    listed = await client.get("/api/v1/clinic/referrals", headers=coordinator.headers)
    card = await client.get(
        f"/api/v1/clinic/referrals/{sent.referral_id}", headers=coordinator.headers
    )
    assert listed.status_code == card.status_code == 200
    return sent, patient, coordinator


async def test_staff_reads_of_a_patient_are_audited(client, db):
    sent, patient, _ = await _journey(client)
    rows = await AuditLog.select().order_by(AuditLog.id)
    staff_rows = [r for r in rows if r["actor_role"] == "clinic_coordinator"]
    assert [r["action"] for r in staff_rows] == ["list_referrals", "view_referral"]
    card_row = staff_rows[1]
    assert card_row["object_kind"] == "patient" and card_row["object_id"] == patient.patient_id
    assert card_row["actor"].startswith("staff:") and card_row["ip"]
    details = card_row["details"]
    details = msgspec.json.decode(details) if isinstance(details, str | bytes) else details
    assert details == {"referral_id": str(sent.referral_id)}
    # The patient's own reads are not staff access and leave no audit row.
    assert all(r["actor_role"] != "patient" for r in rows)


async def test_audit_log_refuses_update_delete_and_truncate(client, db):
    await _journey(client)
    before = await AuditLog.select().order_by(AuditLog.id)
    assert before
    first = before[0]["id"]
    with pytest.raises(Exception, match=REFUSED):
        await AuditLog.update({AuditLog.actor: "staff:nobody"}).where(AuditLog.id == first)
    with pytest.raises(Exception, match=REFUSED):
        await AuditLog.delete().where(AuditLog.id == first)
    with pytest.raises(Exception, match=REFUSED):
        await AuditLog.delete(force=True)
    if is_postgres():
        with pytest.raises(Exception, match=REFUSED):
            await current_engine().run_ddl('TRUNCATE "audit_log"')
    assert await AuditLog.select().order_by(AuditLog.id) == before


async def test_ledger_refuses_update_delete_and_truncate(client, db):
    await _journey(client)
    before = await Event.select().order_by(Event.id)
    clinic_claim = next(r for r in before if r["kind"] == "contacted")
    with pytest.raises(Exception, match=REFUSED):
        await Event.update({Event.kind: "visited"}).where(Event.id == clinic_claim["id"])
    with pytest.raises(Exception, match=REFUSED):
        await Event.delete().where(Event.id == clinic_claim["id"])
    with pytest.raises(Exception, match=REFUSED):
        await Event.delete(force=True)
    if is_postgres():
        with pytest.raises(Exception, match=REFUSED):
            await current_engine().run_ddl('TRUNCATE "event"')
        with pytest.raises(Exception, match=REFUSED):  # nor through a cascade
            await current_engine().run_ddl('TRUNCATE "referral" CASCADE')
    assert await Event.select().order_by(Event.id) == before


def _payload(row) -> dict:
    return msgspec.json.decode(row["payload"])


async def _set_payload(event_id: int, payload: dict) -> None:
    await Event.update({Event.payload: msgspec.json.encode(payload).decode()}).where(
        Event.id == event_id
    )


async def test_ledger_takes_only_the_erasure_of_patient_free_text(client, db):
    await _journey(client)
    rows = await Event.select().order_by(Event.id)
    answer = next(r for r in rows if r["kind"] == "patient_answer")
    claim = next(r for r in rows if r["kind"] == "contacted")
    said = _payload(answer)
    assert said["note"] == "Никто не звонил"

    refused = [
        (answer, {**said, "note": "другой текст"}),  # rewording is not erasing
        (answer, {**said, "note": None, "answer": "yes"}),  # nor is changing the answer
        (claim, {**_payload(claim), "reason": None}),  # a clinic's words are not erasable
    ]
    for row, payload in refused:
        with pytest.raises(Exception, match=REFUSED):
            await _set_payload(row["id"], payload)
    with pytest.raises(Exception, match=REFUSED):
        await Event.update(
            {Event.payload: msgspec.json.encode({**said, "note": None}).decode(), Event.actor: "x"}
        ).where(Event.id == answer["id"])

    await _set_payload(answer["id"], {**said, "note": None})
    after = await Event.select().order_by(Event.id)
    assert _payload(after[rows.index(answer)]) == {**said, "note": None}
    assert len(after) == len(rows)
    unchanged = ("id", "referral", "kind", "source", "side", "actor", "occurred_at")
    assert [{k: r[k] for k in unchanged} for r in after] == [
        {k: r[k] for k in unchanged} for r in rows
    ]
