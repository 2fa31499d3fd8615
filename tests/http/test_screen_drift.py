"""A stored plan screen can never drift from the ledger: after every kind of event, every
edit that shows in a screen, and the clock passing a deadline, the screen the patient
is served (backend.services.screens, stored and reused) equals the screen built from
the ledger at the same moment — and once served, it is stored fresh, so the next read
costs no rebuild.

Most steps change what the screen shows (checked, so a step that silently changed
nothing would not make the comparison vacuous); a writer that forgot to note its change
would leave the old screen served and fail here."""

import json
from datetime import datetime, timedelta
from uuid import UUID

import msgspec

from backend.domain.events import (
    AppointmentCancelled,
    Closed,
    Completed,
    Contacted,
    Correction,
    DisputeAnswer,
    EventBody,
    ItemDone,
    NoShow,
    Payment,
    Received,
    Reopened,
    Source,
    Visited,
)
from backend.domain.norms import DurationNorm, Specialization
from backend.routes.patient import _render
from backend.runtime.clock import utcnow
from backend.runtime.ids import new_id
from backend.services import exchange_admin, recording, screens
from backend.services.errors import NotFound
from backend.services.patient_reads import referral_bundle
from backend.services.recording import Statement, record
from backend.services.referrals import revise_plan
from backend.store import clinic_settings, ledger, parties, plans, referrals, verifications
from backend.store import screens as stored_screens
from backend.store.tables import Referral
from tests.factories import make_clinic
from tests.http.patient_world import ME, TWO_OPTIONS, patient_world

CLINIC = {"source": Source.clinic_panel, "actor": "staff:test"}
EXCHANGE = {"source": Source.exchange, "actor": "exchange:test"}
EVERY_KIND = {t.__struct_config__.tag for t in EventBody.__args__}


class Screens:
    def __init__(self, patient_id: UUID, referral_id: UUID):
        self.patient_id, self.referral_id = patient_id, referral_id
        self.last: dict | None = None

    async def check(self, what: str, *, changes: bool | None, now: datetime | None = None) -> dict:
        """The served screen equals the one built from the ledger now; it changed (or
        not) as `changes` says (None: either); it is stored fresh for the next read."""
        now = now or utcnow()
        served = json.loads(
            await screens.plan_screen(self.patient_id, self.referral_id, now, _render)
        )
        bundle = await referral_bundle(self.patient_id, self.referral_id, now)
        built = json.loads(_render(bundle)[0])
        assert served == built, f"the served screen drifted from the ledger after: {what}"
        if self.last is not None and changes is not None:
            assert (served != self.last) is changes, f"{what}: changed is not {changes}"
        stored = await stored_screens.one(self.patient_id, self.referral_id)
        assert stored is not None and screens.fresh(stored, now), what
        self.last = served
        return served


async def test_a_served_screen_equals_the_ledgers_after_every_kind_of_change(client, db):
    world = await patient_world(client, db)
    rid, headers = world.referral_id, world.me.headers
    row = await referrals.get(rid)
    assert row is not None
    s = Screens(row.patient, rid)
    first = await s.check("the first read", changes=False)
    assert first["questions"], "the world has an open question"

    async def post(path: str, body: dict, what: str, changes: bool = True) -> None:
        r = await client.post(world.path(path), headers=headers, json=body)
        assert r.status_code in (200, 201), (what, r.text)
        await s.check(what, changes=changes)

    async def claim(body, what: str, *, by=CLINIC, changes: bool = True, **kw) -> int:
        done = await record(rid, Statement(body=body, **by, **kw))
        await s.check(what, changes=changes)
        return done.event.id

    # The patient's own statements, over HTTP as the app sends them.
    await post("/questions/{question_id}/answer", {"answer": "yes"}, "an answer")
    await post("/referrals/{referral_id}/variant", {"variant": "B"}, "a variant chosen")
    await post(
        "/referrals/{referral_id}/contact-rating",
        {"called": True, "stars": 4},
        "a contact rating",
        changes=False,  # the clinic's rating is not on the patient's screen
    )
    await post("/appointments/{appointment_id}/response", {"response": "confirm"}, "a reply")
    await post("/referrals/{referral_id}/visit-code", {"code": world.visit_code}, "a visit code")
    await post("/referrals/{referral_id}/receipts", {"qr": world.receipt_qr}, "a receipt")
    # Already confirmed by the answer: the patient's report adds nothing to the screen.
    await post("/referrals/{referral_id}/reports", {"kind": "contacted"}, "a report", False)

    # The clinic's claims.
    await claim(Received(), "received", changes=False)
    await claim(Visited(), "visited", changes=False)  # the visit code had said so
    version = (await plans.versions_of(rid))[-1]
    items = await plans.items_of(version.id)
    item_done = await claim(ItemDone(item_id=items[-1].item_id), "an item done")
    # Money paid is the clinic's books: the screen counts the plan's items done.
    await claim(Payment(amount=10_000_00), "a payment", changes=False)
    await claim(DisputeAnswer(milestone="contacted", note="we called"), "a note", changes=False)
    # The exchange's: a ruling on a dispute, a correction.
    assert s.last is not None and s.last["questions"], "the clinic's claims asked the patient"
    asked = s.last["questions"][0]
    denied = await client.post(
        f"{ME}/questions/{asked['id']}/answer", headers=headers, json={"answer": "no"}
    )
    assert denied.status_code == 200, denied.text
    await s.check(f"a denial ({asked['kind']})", changes=True)
    disputed = [v for v in await verifications.of_referral(rid) if v.state == "disputed"]
    assert disputed, "the patient's no put a milestone in dispute"
    await exchange_admin.resolve_dispute(
        disputed[0].id, outcome="happened", note="the call log", actor="exchange:test"
    )
    await s.check("a ruling", changes=True)
    await claim(Correction(retracts=item_done, reason="wrong item"), "a correction", by=EXCHANGE)

    await revise_plan(
        rid,
        msgspec.structs.replace(TWO_OPTIONS, chosen_variant="A"),
        reason="prices of 2027",
        **CLINIC,
    )
    await s.check("the clinic's plan", changes=True)
    later = (utcnow() + timedelta(days=9)).replace(minute=0, second=0, microsecond=0)
    await claim(Contacted(outcome="booked", appointment_at=later), "a new booking")
    await claim(AppointmentCancelled(reason="ill"), "a cancelled appointment")
    await claim(Contacted(outcome="booked", appointment_at=later), "booked again")
    await claim(NoShow(), "a no-show")

    # Edits that show in many screens: the clinic, its prices, norms, settings.
    await parties.update_clinic(row.clinic, {"phone": "+74950000000"})
    await s.check("the clinic's phone", changes=True)
    await parties.set_show_prices(row.clinic, False)
    await s.check("prices hidden", changes=True)
    await parties.set_show_prices(row.clinic, True)
    await s.check("prices shown", changes=True)
    await clinic_settings.set_norm(
        row.clinic,
        DurationNorm(
            specialization=Specialization.implantology,
            chair_minutes=90,
            course_days=20,
            source="test",
        ),
        now=utcnow(),
    )
    await s.check("a duration norm", changes=True)
    _, own = await clinic_settings.layers(row.clinic)
    await clinic_settings.save(
        row.clinic, msgspec.structs.replace(own, answer_window_hours=1), actor="t", now=utcnow()
    )
    await s.check("the answer window", changes=False)
    patched = await client.patch(ME, headers=headers, json={"locale": "en"})
    assert patched.status_code == 200
    await s.check("the patient's language", changes=True)

    # The clock: deadlines pass and timers fire, with nothing recorded.
    now = utcnow()
    for days in (1, 3, 8, 40):
        await s.check(f"{days} days later", changes=None, now=now + timedelta(days=days))
    assert s.last is not None and s.last["progress"]["schedule"] == "behind"
    await recording.reevaluate_due(now=now + timedelta(days=40))
    await s.check("the timers fired", changes=None, now=now + timedelta(days=40))

    # Closed: nothing expected any more, and nothing moves with the clock.
    await claim(Closed(reason="moved away"), "closed")
    closed = s.last
    assert closed is not None and closed["progress"]["schedule"] == "stopped"
    assert closed["progress"]["expected_finish"] is None
    assert all(st["expected_start"] is None for st in closed["stages"])
    for days in (1, 30):
        # (questions may still expire: only what is planned must stand still)
        later = await s.check("closed, later", changes=None, now=now + timedelta(days=days))
        assert later["stages"] == closed["stages"]
        assert {**later["progress"], "next_step": ""} == {**closed["progress"], "next_step": ""}
    await claim(Reopened(reason="came back"), "reopened", by=EXCHANGE)
    await claim(Completed(), "completed")

    # Moved to another clinic (the old screen stays readable), then archived: a 404.
    await claim(Reopened(reason="again"), "reopened again", by=EXCHANGE)
    other = await make_clinic("Другая")
    await exchange_admin.transfer_referral(rid, to_clinic_id=other, reason="moved", actor="x")
    await s.check("transferred", changes=True)

    kinds = {e.body.__struct_config__.tag for e in await ledger.events_of(rid)}
    assert kinds == EVERY_KIND, f"kinds of event not tried here: {EVERY_KIND - kinds}"

    await Referral.update({Referral.archived_at: utcnow()}).where(Referral.id == rid)
    try:
        await screens.plan_screen(row.patient, rid, utcnow(), _render)
    except NotFound:
        pass
    else:
        raise AssertionError("an archived referral's screen was served")
    gone = await client.get(f"{ME}/referrals/{rid}", headers=headers)
    assert gone.status_code == 404


async def test_the_app_gets_the_stored_screen_and_a_304_for_it(client, db):
    world = await patient_world(client, db)
    url = f"{ME}/referrals/{world.referral_id}"
    first = await client.get(url, headers=world.me.headers)
    again = await client.get(
        url, headers={**world.me.headers, "If-None-Match": first.headers["etag"]}
    )
    assert first.status_code == 200 and again.status_code == 304
    row = await referrals.get(world.referral_id)
    assert row is not None
    stored = await stored_screens.one(row.patient, world.referral_id)
    assert stored is not None and stored.screen == first.content


async def test_a_stored_screen_is_not_served_once_the_session_has_ended(client, db):
    """The screen's read checks the sign-in in its own statement: logging out ends it at
    once, however fresh the stored screen."""
    world = await patient_world(client, db)
    url = f"{ME}/referrals/{world.referral_id}"
    assert (await client.get(url, headers=world.me.headers)).status_code == 200
    out = await client.post("/api/v1/auth/logout", headers=world.me.headers)
    assert out.status_code == 204
    ended = await client.get(url, headers=world.me.headers)
    assert ended.status_code == 401 and "session has ended" in ended.json()["detail"]
    assert ended.headers["www-authenticate"].startswith("Bearer")
    # Not someone else's either: a missing referral with an ended session is still a 401.
    missing = await client.get(f"{ME}/referrals/{new_id()}", headers=world.me.headers)
    assert missing.status_code == 401
