"""A referral that ends asks nothing it made moot (docs/domain.md, "Patient questions"):
closing withdraws the booking's question, keeps those about what the clinic reports as
done, sends the plan screen nowhere, and no reminder fires after it; reopening asks again
what is still due."""

from datetime import datetime, timedelta
from uuid import UUID

import httpx

from backend.domain.clinic_settings import SettingValues
from backend.domain.events import ItemDone, Reopened, Source
from backend.domain.roles import Role
from backend.outbox.worker import handlers, run_once
from backend.runtime.clock import utcnow
from backend.services.recording import Statement, record
from backend.store import clinic_settings, outbox, plans, questions
from tests.factories import book, make_clinic, make_referral
from tests.http.patient_client import SignedIn
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.problems import assert_problem
from tests.http.staff_client import make_staff
from tests.http.staff_client import sign_in as staff_sign_in

ME = "/api/v1/me"
PHONE = "+79161230077"
CLOSED_TEXT = {"ru": "Направление закрыто", "en": "This referral is closed"}
ANSWER_TEXT = {"ru": "Ответьте на вопрос о лечении", "en": "Answer a question about your treatment"}


class Booked:
    """A patient booked in two days, one procedure done, each claim asked of them; the
    clinic's answer window is ten days, so the questions outlive the week after which
    unanswered ones are nudged."""

    def __init__(self, client: httpx.AsyncClient, me: SignedIn, referral_id: UUID, clinic: UUID):
        self.client, self.me, self.referral_id, self.clinic = client, me, referral_id, clinic

    async def questions(self) -> dict[str, dict]:
        listed = await self.client.get(f"{ME}/questions", headers=self.me.headers)
        assert listed.status_code == 200, listed.text
        items = [q for q in listed.json()["items"] if q["referral_id"] == str(self.referral_id)]
        return {q["kind"]: q for q in items}

    async def screen(self) -> dict:
        got = await self.client.get(f"{ME}/referrals/{self.referral_id}", headers=self.me.headers)
        assert got.status_code == 200, got.text
        return got.json()

    async def close(self, reason: str = "moved away") -> None:
        coordinator = await staff_sign_in(
            self.client, await make_staff(Role.clinic_coordinator, self.clinic)
        )
        closed = await self.client.post(
            f"/api/v1/clinic/referrals/{self.referral_id}/claims",
            headers=coordinator.headers,
            json={"kind": "closed", "reason": reason},
        )
        assert closed.status_code == 200, closed.text


async def booked(client: httpx.AsyncClient) -> Booked:
    now = utcnow()
    clinic = await make_clinic()
    await clinic_settings.save(
        clinic, SettingValues(answer_window_hours=10 * 24), actor="test", now=now
    )
    sent = await make_referral(clinic, phone=PHONE, at=now - timedelta(hours=3))
    rid = sent.referral_id
    await book(rid, (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0))
    filling = (await plans.items_of((await plans.versions_of(rid))[0].id))[0]
    await record(
        rid,
        Statement(
            body=ItemDone(item_id=filling.item_id), source=Source.clinic_panel, actor="staff:t"
        ),
    )
    me = await patient_sign_in(client, PHONE, invite_code=sent.invite_code)
    world = Booked(client, me, rid, clinic)
    assert set(await world.questions()) == {"confirm_contact", "confirm_booking", "confirm_item"}
    assert (await world.screen())["progress"]["next_step"] == ANSWER_TEXT["ru"]
    return world


async def test_closing_withdraws_the_booking_question_and_the_screen_points_at_none(client, db):
    world = await booked(client)
    booking = (await world.questions())["confirm_booking"]

    await world.close()

    # The booking to come is off: its question is gone from the list and the screen. The
    # call and the procedure are the clinic's word on what happened: still asked.
    left = await world.questions()
    assert set(left) == {"confirm_contact", "confirm_item"}
    # Its notice, not sent yet, is not sent; the kept questions' still are.
    notices = {n.dedupe_key: n.status for n in await outbox.of_topic("notify")}
    assert notices[f"notify:question:{booking['id']}"] == "cancelled"
    assert notices[f"notify:question:{left['confirm_item']['id']}"] == "pending"
    screen = await world.screen()
    assert screen["step"] == "closed" and screen["progress"]["schedule"] == "stopped"
    assert {q["kind"] for q in screen["questions"]} == {"confirm_contact", "confirm_item"}
    assert screen["progress"]["next_step"] == CLOSED_TEXT["ru"]
    listing = (await client.get(f"{ME}/referrals", headers=world.me.headers)).json()
    [row] = listing["items"]
    assert row["next_step"] == CLOSED_TEXT["ru"] and row["open_questions"] == 2
    patched = await client.patch(ME, headers=world.me.headers, json={"locale": "en"})
    assert patched.status_code == 200
    assert (await world.screen())["progress"]["next_step"] == CLOSED_TEXT["en"]

    # Answering the withdrawn question is a clear conflict, not a 500.
    late = await client.post(
        f"{ME}/questions/{booking['id']}/answer", headers=world.me.headers, json={"answer": "yes"}
    )
    assert_problem(late, 409)
    assert "withdrawn" in late.json()["detail"]

    # A question kept open is answered as any other; the referral stays closed.
    item = left["confirm_item"]
    answered = await client.post(
        f"{ME}/questions/{item['id']}/answer", headers=world.me.headers, json={"answer": "yes"}
    )
    assert answered.status_code == 200, answered.text
    screen = await world.screen()
    assert screen["step"] == "closed" and screen["progress"]["next_step"] == CLOSED_TEXT["en"]
    assert set(await world.questions()) == {"confirm_contact"}

    # Reopened by the exchange: the booking is due again, and its question asked again.
    await record(
        world.referral_id,
        Statement(body=Reopened(reason="came back"), source=Source.exchange, actor="x:t"),
    )
    again = await world.questions()
    assert set(again) == {"confirm_contact", "confirm_booking"}
    assert again["confirm_booking"]["id"] == booking["id"]
    notices = [n.dedupe_key for n in await outbox.of_topic("notify")]
    assert sum(k.startswith(f"notify:question:{booking['id']}:") for k in notices) == 1
    assert (await world.screen())["progress"]["next_step"] == ANSWER_TEXT["en"]
    answered = await client.post(
        f"{ME}/questions/{booking['id']}/answer", headers=world.me.headers, json={"answer": "yes"}
    )
    assert answered.status_code == 200, answered.text
    milestones = {m["milestone"]: m["state"] for m in (await world.screen())["milestones"]}
    assert milestones["booked"] == "confirmed"


async def test_no_reminder_fires_after_closing(client, db):
    world = await booked(client)
    rid = world.referral_id
    asked_before = {q.id for q in await questions.asked_for(rid)}
    [appointment] = (await world.screen())["appointments"]
    starts_at = datetime.fromisoformat(appointment["starts_at"])
    timers = {t.dedupe_key for t in await outbox.of_topic("timer") if str(rid) in t.dedupe_key}
    # Reminders before the appointment, "did you go?" after it, the nudge a week after the
    # questions — all wanted while the referral is open.
    assert {key.split(":")[2] for key in timers if key.split(":")[1] == str(rid)} >= {
        "remind_24h",
        "remind_2h",
        "visit_check",
        "inactive",
    }

    await world.close()
    notices_before = {n.dedupe_key for n in await outbox.of_topic("notify")}

    # Let the clock run past every moment a timer was set for.
    now = utcnow()
    for moment in (
        starts_at - timedelta(hours=24),
        starts_at - timedelta(hours=2),
        starts_at + timedelta(hours=4),
        now + timedelta(days=7, hours=1),
        now + timedelta(days=8),
    ):
        await run_once(handlers(None), worker="w", now=moment)

    notices_after = {n.dedupe_key for n in await outbox.of_topic("notify")}
    assert notices_after == notices_before, "a reminder was sent after the closing"
    assert {q.id for q in await questions.asked_for(rid)} == asked_before, "asked after closing"
    fired = [
        t.dedupe_key
        for t in await outbox.of_topic("timer")
        if t.dedupe_key in timers and t.status not in ("cancelled",)
    ]
    assert fired == [], f"timers still wanted after the closing: {fired}"
