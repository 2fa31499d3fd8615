"""The patient says when the clinic called, and the scorecard uses that, not the tap
(issue 20)."""

from datetime import timedelta

import pytest

from backend.domain.events import Contacted, Source
from backend.runtime.clock import utcnow
from backend.services import reports
from backend.services.recording import Statement, record
from tests.factories import make_clinic, make_referral
from tests.http.patient_client import sign_in
from tests.http.problems import assert_problem


async def test_the_patient_says_when_they_were_called(client, db):
    now = utcnow().replace(microsecond=0)
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone="+79161230001", at=now - timedelta(hours=30))
    booked = Contacted(outcome="booked", appointment_at=now + timedelta(days=3))
    await record(
        sent.referral_id,
        Statement(
            body=booked,
            source=Source.clinic_panel,
            actor="staff:test",
            occurred_at=now - timedelta(hours=28),
        ),
    )
    me = await sign_in(client, "+79161230001", invite_code=sent.invite_code)
    questions = (await client.get("/api/v1/me/questions", headers=me.headers)).json()["items"]
    call = next(q for q in questions if q["kind"] == "confirm_contact")
    assert [o["value"] for o in call["when"]["options"]] == ["today", "yesterday", "earlier"]
    assert call["when"]["text"] == "Когда вам позвонили?" and call["when"]["or_time"]
    booking = next(q for q in questions if q["kind"] == "confirm_booking")
    assert booking["when"] is None
    url = f"/api/v1/me/questions/{call['id']}/answer"

    # Bad combinations are refused with a reason; the question stays open.
    for bad in (
        {"answer": "no", "called_on": "today"},
        {"answer": "yes", "called_on": "today", "called_at": now.isoformat()},
        {"answer": "yes", "called_at": (now + timedelta(hours=1)).isoformat()},
    ):
        refused = await client.post(url, headers=me.headers, json=bad)
        assert_problem(refused, 422, bad)
    wrong_question = await client.post(
        f"/api/v1/me/questions/{booking['id']}/answer",
        headers=me.headers,
        json={"answer": "yes", "called_on": "today"},
    )
    assert wrong_question.status_code == 422

    # The call came two hours after sending; the patient answers a day later.
    called_at = now - timedelta(hours=28)
    answered = await client.post(
        url, headers=me.headers, json={"answer": "yes", "called_at": called_at.isoformat()}
    )
    assert answered.status_code == 200
    [score] = await reports.scorecards([clinic], now=now)
    assert score.card.first_contact_hours_patient == pytest.approx(2.0)

    # A rating may say it too; with "nobody called" it may not.
    rated = await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/contact-rating",
        headers=me.headers,
        json={"called": False, "called_on": "yesterday"},
    )
    assert rated.status_code == 422
    rated = await client.post(
        f"/api/v1/me/referrals/{sent.referral_id}/contact-rating",
        headers=me.headers,
        json={"called": True, "stars": 4, "called_on": "yesterday"},
    )
    assert rated.status_code == 200
