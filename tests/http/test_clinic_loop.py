"""Over HTTP: the coordinator's worklist and its outcomes, the clinic's disputes and its
answers, alert preferences, and the exchange's management of staff accounts (sessions
end at once, every change in the audit log, nothing deleted)."""

from datetime import timedelta

from backend.domain.claims import VisitedIn
from backend.domain.events import Source
from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.services.answers import answer_question
from backend.services.claims import record_clinic_claim
from backend.services.patient_statements import attach_receipt
from backend.store import questions
from backend.store.tables import AuditLog, CallNote, StaffUser
from tests.factories import make_clinic, make_referral
from tests.http.problems import assert_problem
from tests.http.staff_client import PASSWORD, make_staff, sign_in

API = "/api/v1"


async def test_the_worklist_orders_by_urgency_and_outcomes_take_items_off(client, db):
    now = utcnow()
    clinic = await make_clinic()
    late = await make_referral(clinic, phone="+79160000101", at=now - timedelta(days=3))
    fresh = await make_referral(clinic, phone="+79160000102", at=now - timedelta(minutes=1))
    other = await make_referral(await make_clinic("Чужая"), phone="+79160000103", at=now)
    coord = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic))

    listed = (await client.get(f"{API}/clinic/worklist", headers=coord.headers)).json()
    ids = [i["referral_id"] for i in listed["items"]]
    assert ids == [str(late.referral_id), str(fresh.referral_id)]  # SLA passed first
    assert listed["items"][0]["reason"] == "sla_passed"
    assert listed["items"][1]["reason"] in ("new_referral", "sla_due", "sla_passed")
    # A page at a time.
    first = (await client.get(f"{API}/clinic/worklist?limit=1", headers=coord.headers)).json()
    assert len(first["items"]) == 1 and first["next_cursor"] == 1
    second = await client.get(f"{API}/clinic/worklist?limit=1&cursor=1", headers=coord.headers)
    assert second.json()["items"][0]["referral_id"] == str(fresh.referral_id)

    # Booked in one click: a claim, a note, off the list.
    booked = await client.post(
        f"{API}/clinic/referrals/{late.referral_id}/outcomes",
        headers=coord.headers,
        json={
            "outcome": "booked",
            "appointment_at": (now + timedelta(days=1)).isoformat(),
            "note": "Записали к терапевту",
            "key": "sla_passed",
        },
    )
    assert booked.status_code == 200, booked.text
    assert booked.json()["step"] == "booked" and booked.json()["event_id"]
    # No answer: back later, as a call-back at +2 h.
    missed = await client.post(
        f"{API}/clinic/referrals/{fresh.referral_id}/outcomes",
        headers=coord.headers,
        json={"outcome": "unreachable"},
    )
    assert missed.status_code == 200
    assert missed.json()["callback_at"] is not None
    listed = (await client.get(f"{API}/clinic/worklist", headers=coord.headers)).json()
    assert listed["items"] == []
    assert [c["referral_id"] for c in listed["later"]] == [str(fresh.referral_id)]

    calls = (
        await client.get(f"{API}/clinic/referrals/{late.referral_id}/calls", headers=coord.headers)
    ).json()["items"]
    assert [(c["outcome"], c["note"]) for c in calls] == [("booked", "Записали к терапевту")]

    # Bad input is a clear 4xx; another clinic's referral is missing.
    for body in (
        {"outcome": "callback"},  # no time
        {"outcome": "callback", "callback_at": (now - timedelta(hours=1)).isoformat()},
        {"outcome": "let_go"},  # which entry?
        {"outcome": "booked"},  # no appointment time
        {"outcome": "teleport"},
    ):
        answer = await client.post(
            f"{API}/clinic/referrals/{late.referral_id}/outcomes", headers=coord.headers, json=body
        )
        assert_problem(answer, None, body)
    foreign = await client.post(
        f"{API}/clinic/referrals/{other.referral_id}/outcomes",
        headers=coord.headers,
        json={"outcome": "note", "note": "x"},
    )
    assert foreign.status_code == 404
    assert await CallNote.count().where(CallNote.referral == other.referral_id) == 0


async def test_the_clinic_answers_a_dispute_about_itself(client, db):
    now = utcnow()
    clinic = await make_clinic()
    sent = await make_referral(clinic, at=now - timedelta(days=1))
    await record_clinic_claim(
        sent.referral_id,
        VisitedIn(occurred_at=now - timedelta(hours=2)),
        source=Source.clinic_panel,
        actor="staff:test",
    )
    [q] = [q for q in await questions.asked_for(sent.referral_id) if q.kind == "confirm_visit"]
    await answer_question(patient_id=sent.patient_id, question_id=q.id, answer="no")
    coord = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic))
    stranger = await sign_in(
        client, await make_staff(Role.clinic_coordinator, await make_clinic("Другая"))
    )
    operator = await sign_in(client, await make_staff(Role.exchange_operator))

    [dispute] = (await client.get(f"{API}/clinic/disputes", headers=coord.headers)).json()["items"]
    assert dispute["milestone"] == "visited" and dispute["clinic_answers"] == []
    assert (await client.get(f"{API}/clinic/disputes", headers=stranger.headers)).json()[
        "items"
    ] == []
    path = f"{API}/clinic/disputes/{dispute['id']}/answer"
    assert (
        await client.post(path, headers=stranger.headers, json={"note": "x"})
    ).status_code == 404
    assert (await client.post(path, headers=coord.headers, json={"note": ""})).status_code == 400
    answered = await client.post(path, headers=coord.headers, json={"note": "Был, есть подпись"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["step"] == "visited"  # an answer moves nothing

    stamp = now - timedelta(hours=1)
    qr = f"t={stamp:%Y%m%dT%H%M}&s=6500.00&fn=9960440300000001&i=1234&fp=2840123456&n=1"
    await attach_receipt(sent.patient_id, sent.referral_id, qr=qr)
    listed = (await client.get(f"{API}/exchange/disputes", headers=operator.headers)).json()
    [seen] = [d for d in listed["items"] if d["milestone"] == "visited"]
    assert [a["note"] for a in seen["clinic_answers"]] == ["Был, есть подпись"]
    # Both sides' words and the evidence, key by key (nulls included), as the desk's pages
    # and the API's users read them.
    stamps = ("event_id", "occurred_at", "recorded_at")
    word = ["event_id", "kind", "source", "actor", "occurred_at", "recorded_at", "note"]
    assert list(seen["clinic_claim"]) == list(seen["patient_word"]) == [*word, "answer", "amount"]
    assert {k: v for k, v in seen["clinic_claim"].items() if k not in stamps} == {
        "kind": "visited",
        "source": "clinic_panel",
        "actor": "staff:test",
        "note": None,
        "answer": None,
        "amount": None,
    }
    assert {k: v for k, v in seen["patient_word"].items() if k not in stamps} == {
        "kind": "patient_answer",
        "source": "patient_app",
        "actor": f"patient:{sent.patient_id}",
        "note": None,
        "answer": "no",
        "amount": None,
    }
    [receipt] = seen["receipts"]
    assert list(receipt) == ["amount", "issued_at", "fn", "fd"]
    assert (receipt["amount"], receipt["fn"], receipt["fd"]) == (
        6500_00,
        "9960440300000001",
        "1234",
    )
    assert receipt["issued_at"] == f"{stamp:%Y-%m-%dT%H:%M}:00+03:00"  # the QR's time, Moscow
    assert list(seen["clinic_answers"][0]) == ["note", "actor", "recorded_at"]
    timeline = (
        await client.get(
            f"{API}/clinic/referrals/{sent.referral_id}/timeline", headers=coord.headers
        )
    ).json()["items"]
    assert timeline[-1]["kind"] == "dispute_answer" and timeline[-1]["side"] == "clinic"


async def test_alert_preferences_are_each_persons_own(client, db):
    clinic = await make_clinic()
    coord = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic))
    analyst = await sign_in(client, await make_staff(Role.exchange_analyst))
    got = (await client.get(f"{API}/staff/alert-preferences", headers=coord.headers)).json()
    assert got["defaults"] is True and "sla_due" in got["kinds"]
    put = await client.put(
        f"{API}/staff/alert-preferences",
        headers=coord.headers,
        json={"kinds": ["nobody_called", "crm_failed"], "digest": True, "lang": "en"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["kinds"] == ["crm_failed", "nobody_called"] and put.json()["digest"]
    # An analyst sees no patient's case, so no alert is for them.
    got = (await client.get(f"{API}/staff/alert-preferences", headers=analyst.headers)).json()
    assert got["available"] == [] and got["kinds"] == []
    bad = await client.put(
        f"{API}/staff/alert-preferences", headers=coord.headers, json={"kinds": ["gossip"]}
    )
    assert bad.status_code == 400
    assert await AuditLog.count().where(AuditLog.action == "alert_preferences_changed") == 1


async def test_staff_accounts_deactivate_rekey_and_reassign(client, db):
    clinic = await make_clinic()
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    person = await make_staff(Role.clinic_coordinator, clinic)
    await sign_in(client, person)
    row = await StaffUser.select().where(StaffUser.email == person.email).first()
    staff_id = row["id"]
    base = f"{API}/exchange/staff/{staff_id}"

    listed = await client.get(f"{API}/exchange/staff?limit=1", headers=operator.headers)
    assert listed.status_code == 200 and listed.json()["next_cursor"]
    listed = await client.get(
        f"{API}/exchange/staff", headers=operator.headers, params={"clinic_id": str(clinic)}
    )
    assert [a["email"] for a in listed.json()["items"]] == [person.email]

    # Deactivated: the session ends at once and sign-in is refused.
    assert (await client.get(f"{API}/clinic/worklist", headers=person.headers)).status_code == 200
    done = await client.post(f"{base}/deactivate", headers=operator.headers)
    assert done.status_code == 200 and done.json()["active"] is False
    assert (await client.get(f"{API}/clinic/worklist", headers=person.headers)).status_code == 401
    refused = await client.post(
        f"{API}/auth/staff",
        json={"email": person.email, "password": PASSWORD, "totp": "000000"},
    )
    assert refused.status_code == 401
    assert (await client.post(f"{base}/reactivate", headers=operator.headers)).json()["active"]
    await sign_in(client, person)

    # A new password: the old one and the session end.
    new = await client.post(
        f"{base}/password", headers=operator.headers, json={"password": "another long secret"}
    )
    assert new.status_code == 200
    assert (await client.get(f"{API}/clinic/worklist", headers=person.headers)).status_code == 401
    short = await client.post(f"{base}/password", headers=operator.headers, json={"password": "x"})
    # The document states the 12 characters, so the schema check answers first.
    assert short.status_code == 400 and "password" in short.text

    # A new authenticator: a key to enrol, the old codes stop working.
    rekeyed = await client.post(f"{base}/authenticator", headers=operator.headers)
    assert rekeyed.status_code == 200
    assert rekeyed.json()["totp_uri"].startswith("otpauth://totp/")
    assert "<svg" in rekeyed.json()["totp_qr_svg"]
    assert rekeyed.json()["account"]["authenticator_set"] is False
    row = await StaffUser.select().where(StaffUser.id == staff_id).first()
    assert row["totp_secret"] != person.secret and row["totp_confirmed_at"] is None

    # Another role: a clinic role needs a clinic, an exchange role none.
    wrong = await client.patch(base, headers=operator.headers, json={"role": "clinic_manager"})
    assert wrong.status_code == 422
    moved = await client.patch(
        base, headers=operator.headers, json={"role": "clinic_manager", "clinic_id": str(clinic)}
    )
    assert moved.status_code == 200 and moved.json()["role"] == "clinic_manager"
    # Nobody locks themselves out.
    me = await StaffUser.select().where(StaffUser.email == operator.email).first()
    own = await client.post(f"{API}/exchange/staff/{me['id']}/deactivate", headers=operator.headers)
    assert own.status_code == 409
    missing = await client.post(
        f"{API}/exchange/staff/{clinic}/deactivate", headers=operator.headers
    )
    assert missing.status_code == 404

    actions = [
        r["action"]
        for r in await AuditLog.select(AuditLog.action, AuditLog.object_id)
        .where(AuditLog.object_kind == "staff")
        .order_by(AuditLog.id)
    ]
    assert actions == [
        "staff_deactivated",
        "staff_reactivated",
        "staff_password_reset",
        "staff_authenticator_reset",
        "staff_role_changed",
    ]
    assert await StaffUser.count() == 2  # nothing deleted


def test_the_documented_examples_match_their_schemas():
    import msgspec

    from backend.routes import alert_preferences, clinic_desk
    from backend.routes import clinic_loop_examples as ex
    from backend.routes import staff_bodies as sb
    from backend.routes import staff_schemas as ss
    from backend.routes.exchange import staff as staff_accounts
    from backend.services import worklist

    pairs = [
        (ex.WORKLIST, clinic_desk.WorklistOut),
        (ex.OUTCOME_IN, worklist.OutcomeIn),
        (ex.OUTCOME_OUT, worklist.OutcomeRecorded),
        (ex.CALLS, clinic_desk.CallList),
        (ex.CLINIC_DISPUTES, ss.DisputeList),
        (ex.ANSWER_IN, sb.AnswerIn),
        (ex.ANSWER_OUT, ss.ClaimRecorded),
        (ex.SCORECARD, ss.ScorecardOut),
        (ex.ALERTS, clinic_desk.AlertList),
        (ex.ACCOUNT, staff_accounts.StaffAccount),
        (ex.ACCOUNTS, staff_accounts.AccountList),
        (ex.ROLE_IN, sb.RoleIn),
        (ex.PASSWORD_IN, sb.PasswordIn),
        (ex.ENROLMENT, staff_accounts.EnrolmentOut),
        (ex.PREFS, sb.AlertPrefsIn),
        (ex.PREFS_OUT, alert_preferences.AlertPrefsOut),
    ]
    for example, schema in pairs:
        msgspec.convert(example, schema, strict=False)


async def test_erasure_blanks_the_coordinators_notes_about_the_patient(client, db):
    from backend.services.privacy import CONFIRM_WORD, erase

    clinic = await make_clinic()
    sent = await make_referral(clinic)
    coord = await sign_in(client, await make_staff(Role.clinic_coordinator, clinic))
    noted = await client.post(
        f"{API}/clinic/referrals/{sent.referral_id}/outcomes",
        headers=coord.headers,
        json={"outcome": "note", "note": "Анна просила звонить после работы, тел. мужа …"},
    )
    assert noted.status_code == 200
    erased = await erase(sent.patient_id, confirm=CONFIRM_WORD)
    assert erased.call_notes == 1
    [row] = await CallNote.select().where(CallNote.referral == sent.referral_id)
    assert row["note"] == "" and row["outcome"] == "note"  # the line stays, the words go
