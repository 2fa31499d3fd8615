"""The app's sync feed (/api/v1/me/changes): what changed since a cursor, each object
once, paged without losing a change, and the cursor in push messages."""

from datetime import timedelta

import pytest

from backend.runtime.clock import utcnow
from backend.services import changes
from tests.factories import book, make_clinic, make_referral
from tests.http.patient_client import sign_in

PHONE = "+79161234567"
OTHER = "+79169990000"


async def feed(client, me, since: int = 0, limit: int | None = None) -> dict:
    query = f"since={since}" + (f"&limit={limit}" if limit else "")
    answer = await client.get(f"/api/v1/me/changes?{query}", headers=me.headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def kinds(page: dict) -> set[tuple[str, str]]:
    return {(c["kind"], c["id"]) for c in page["changes"]}


async def test_a_sync_lists_what_changed_since_the_cursor_once_each(client, db):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE, at=utcnow() - timedelta(days=2))
    rid = str(sent.referral_id)
    me = await sign_in(client, PHONE)

    first = await feed(client, me)
    assert ("referral", rid) in kinds(first) and not first["more"]
    assert all(c["referral_id"] == rid for c in first["changes"])
    cursor = first["cursor"]
    assert (await feed(client, me, cursor))["changes"] == []  # nothing new: nothing listed

    # The clinic books: the referral, the new appointment and the questions it raises.
    await book(sent.referral_id, utcnow() + timedelta(days=3))
    after_booking = await feed(client, me, cursor)
    listed = kinds(after_booking)
    assert ("referral", rid) in listed
    assert {k for k, _ in listed} >= {"referral", "appointment", "question"}
    assert len(after_booking["changes"]) == len(listed)  # each object once
    assert after_booking["cursor"] > cursor

    # Answering a question lists it (and the referral it moved) after the new cursor.
    questions = (await client.get("/api/v1/me/questions", headers=me.headers)).json()["items"]
    question = questions[0]
    answered = await client.post(
        f"/api/v1/me/questions/{question['id']}/answer", headers=me.headers, json={"answer": "yes"}
    )
    assert answered.status_code == 200
    after_answer = await feed(client, me, after_booking["cursor"])
    assert ("question", question["id"]) in kinds(after_answer)
    assert ("referral", rid) in kinds(after_answer)

    # Another patient sees none of it: only their own referral.
    theirs = await make_referral(clinic, phone=OTHER)
    other = await sign_in(client, OTHER)
    assert {c["referral_id"] for c in (await feed(client, other))["changes"]} == {
        str(theirs.referral_id)
    }


async def test_pages_never_split_one_change_and_miss_nothing(client, db):
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE, at=utcnow() - timedelta(days=2))
    await book(sent.referral_id, utcnow() + timedelta(days=3))
    me = await sign_in(client, PHONE)
    everything = await feed(client, me)
    assert not everything["more"]

    seen, cursor, pages = [], 0, 0
    while True:
        page = await feed(client, me, cursor, limit=1)
        pages += 1
        seen += page["changes"]
        versions = {c["version"] for c in page["changes"]}
        assert len(versions) == 1, page  # one change number per page here, never half of one
        cursor = page["cursor"]
        if not page["more"]:
            break
        assert pages < 20
    assert {(c["kind"], c["id"]) for c in seen} == kinds(everything)
    assert cursor == everything["cursor"]


@pytest.mark.parametrize("query", ["since=-1", "since=x", "limit=0", "limit=1000"])
async def test_a_bad_cursor_or_limit_is_a_400(client, db, query):
    clinic = await make_clinic()
    await make_referral(clinic, phone=PHONE)
    me = await sign_in(client, PHONE)
    answer = await client.get(f"/api/v1/me/changes?{query}", headers=me.headers)
    assert answer.status_code == 400


async def test_the_feed_needs_a_signed_in_patient(client, db):
    assert (await client.get("/api/v1/me/changes")).status_code == 401


async def test_the_cursor_follows_commit_order_per_patient(db):
    """Each note takes the patient's next number under the patient's row lock."""
    clinic = await make_clinic()
    sent = await make_referral(clinic, phone=PHONE)
    before = await changes.latest(sent.patient_id)
    from backend.store.engine import write_transaction

    async with write_transaction():
        first = await changes.note(
            sent.patient_id, [(changes.REFERRAL, sent.referral_id, sent.referral_id)], utcnow()
        )
    async with write_transaction():
        second = await changes.note(
            sent.patient_id, [(changes.REFERRAL, sent.referral_id, sent.referral_id)], utcnow()
        )
    assert (first, second) == (before + 1, before + 2)
    assert await changes.latest(sent.patient_id) == second
