"""Every patient POST can be retried safely with an Idempotency-Key: the retry gets the
first answer again (status and body, marked Idempotent-Replayed) and the ledger does
not change; the same key with another body is a 422 naming the key; a retry while the
first is still being answered is a 409. Without the header nothing changes."""

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from backend.outbox.worker import run_forever
from backend.routes.patient import router
from backend.runtime.clock import utcnow
from backend.services import idempotency
from backend.store.tables import Event, IdempotencyKey
from tests.factories import make_clinic, make_referral
from tests.http.patient_client import sign_in
from tests.http.patient_world import ME, World, patient_world


@dataclass(frozen=True)
class Post:
    path: str
    body: Any  # a callable of the world, or the body itself
    other: Any  # another body for the same route
    status: int = 200
    paid: bool = True  # the world has a paid procedure (the receipt's); the visit code wants none

    def first(self, world: World) -> Any:
        return self.body(world) if callable(self.body) else self.body

    def second(self, world: World) -> Any:
        return self.other(world) if callable(self.other) else self.other


POSTS = {
    "answer": Post("/questions/{question_id}/answer", {"answer": "yes"}, {"answer": "no"}),
    "variant": Post("/referrals/{referral_id}/variant", {"variant": "B"}, {"variant": "A"}),
    "contact-rating": Post(
        "/referrals/{referral_id}/contact-rating",
        {"called": True, "stars": 5, "comment": "Позвонили быстро"},
        {"called": True, "stars": 2},
    ),
    "appointment": Post(
        "/appointments/{appointment_id}/response", {"response": "confirm"}, {"response": "decline"}
    ),
    "visit-code": Post(
        "/referrals/{referral_id}/visit-code",
        lambda w: {"code": w.visit_code},
        {"code": "000000"},
        paid=False,
    ),
    "reports": Post(
        "/referrals/{referral_id}/reports",
        {"kind": "contacted", "note": "Звонили, записали"},
        {"kind": "contacted"},
    ),
    "receipts": Post(
        "/referrals/{referral_id}/receipts",
        lambda w: {"qr": w.receipt_qr},
        lambda w: {"qr": w.receipt_qr.replace("s=6500.00", "s=6400.00")},
    ),
    # Not confirmed: a 400 with the explanation, kept like any final answer (the erasure
    # itself ends the session: see test_a_retried_erasure_meets_its_ended_session).
    "erasure": Post("/erasure", {"confirm": "no"}, {"confirm": "yes"}, status=400),
}


def test_every_patient_post_is_here():
    posts = {
        route.path_format.removeprefix(ME)
        for route in router.routes
        if "POST" in getattr(route, "methods", ())
    }
    assert posts == {post.path for post in POSTS.values()}


@pytest.mark.parametrize("name", sorted(POSTS))
async def test_a_retry_gets_the_first_answer_and_changes_nothing(client, db, name):
    post = POSTS[name]
    world = await patient_world(client, db, paid=post.paid)
    url, key = world.path(post.path), str(uuid4())
    headers = {**world.me.headers, "Idempotency-Key": key}

    first = await client.post(url, headers=headers, json=post.first(world))
    assert first.status_code == post.status, first.text
    assert "idempotent-replayed" not in first.headers
    events = await Event.count()

    # The same request again, its JSON spelled another way: the first answer, replayed.
    spelled_otherwise = json.dumps(post.first(world), indent=2, sort_keys=True)
    again = await client.post(
        url,
        headers={**headers, "Content-Type": "application/json"},
        content=spelled_otherwise.encode(),
    )
    assert again.status_code == first.status_code
    assert again.content == first.content
    assert again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replayed"] == "true"
    assert await Event.count() == events

    # The same key with another body: refused, naming the key; still nothing recorded.
    reused = await client.post(url, headers=headers, json=post.second(world))
    assert reused.status_code == 422, reused.text
    problem = reused.json()
    assert problem["idempotency_key"] == key and key in problem["detail"]
    assert reused.headers["content-type"].startswith("application/problem+json")
    assert await Event.count() == events


async def test_without_a_key_a_retry_is_a_new_request(client, db):
    world = await patient_world(client, db)
    url = world.path(POSTS["answer"].path)
    first = await client.post(url, headers=world.me.headers, json={"answer": "yes"})
    again = await client.post(url, headers=world.me.headers, json={"answer": "yes"})
    assert first.status_code == 200 and again.status_code == 409  # answered once


async def test_keys_are_each_patients_own(client, db):
    """The same key from another patient is theirs: no answer of the first is given."""
    world = await patient_world(client, db)
    key = {"Idempotency-Key": "shared-key-0001"}
    url = world.path(POSTS["answer"].path)
    mine = await client.post(url, headers={**world.me.headers, **key}, json={"answer": "yes"})
    assert mine.status_code == 200
    await make_referral(await make_clinic("Другая"), phone="+79169990011")
    other = await sign_in(client, "+79169990011")
    theirs = await client.post(url, headers={**other.headers, **key}, json={"answer": "yes"})
    assert theirs.status_code == 404 and "idempotent-replayed" not in theirs.headers


async def test_a_retry_while_the_first_is_answered_is_a_409(client, db):
    world = await patient_world(client, db)
    url = world.path(POSTS["answer"].path)
    body = json.dumps({"answer": "yes"}).encode()
    key = "in-flight-key-1"
    # The first request has taken the key and not answered yet (as another process would).
    taken = await idempotency.begin(
        UUID(world.me.patient_id), key, idempotency.fingerprint("POST", url, "", body), utcnow()
    )
    assert taken is None
    events = await Event.count()
    retry = await client.post(
        url, headers={**world.me.headers, "Idempotency-Key": key}, content=body
    )
    assert retry.status_code == 409, retry.text
    assert retry.json()["idempotency_key"] == key
    assert 1 <= int(retry.headers["retry-after"]) <= idempotency.LEASE.total_seconds() + 1
    assert await Event.count() == events


async def test_a_retried_erasure_meets_its_ended_session(client, db):
    """Erasure ends every session: its retry is answered 401 (sign in again), and the
    answer kept for the key holds nothing of the patient."""
    world = await patient_world(client, db)
    headers = {**world.me.headers, "Idempotency-Key": "erase-once"}
    erased = await client.post(f"{ME}/erasure", headers=headers, json={"confirm": "erase"})
    assert erased.status_code == 200, erased.text
    again = await client.post(f"{ME}/erasure", headers=headers, json={"confirm": "erase"})
    assert again.status_code == 401
    kept = await IdempotencyKey.select(IdempotencyKey.body, IdempotencyKey.state)
    assert [row["state"] for row in kept] == ["done"]
    assert "Анна" not in kept[0]["body"] and "+7916" not in kept[0]["body"]


@pytest.mark.parametrize(
    "key",
    ["", "a" * 256, "ключ".encode(), "two words", "tab\there"],
    ids=["empty", "long", "cyr", "sp", "tab"],
)
async def test_a_malformed_key_is_a_400(client, db, key):
    world = await patient_world(client, db)
    url = world.path(POSTS["answer"].path)
    headers = {**world.me.headers, "Idempotency-Key": key}
    refused = await client.post(url, headers=headers, json={"answer": "yes"})
    assert refused.status_code == 400 and "Idempotency-Key" in refused.json()["detail"]


async def test_a_key_on_a_get_changes_nothing(client, db):
    world = await patient_world(client, db)
    got = await client.get(f"{ME}/questions", headers={**world.me.headers, "Idempotency-Key": "k"})
    assert got.status_code == 200 and await IdempotencyKey.count() == 0


async def test_a_key_needs_a_signed_in_patient(client, db):
    refused = await client.post(
        f"{ME}/questions/{uuid4()}/answer", headers={"Idempotency-Key": "k1"}, json={}
    )
    assert refused.status_code == 401 and await IdempotencyKey.count() == 0


async def test_keys_last_a_day_and_the_worker_forgets_them(db):
    patient, now = uuid4(), utcnow()
    first = idempotency.fingerprint("POST", "/x", "", b'{"a": 1}')
    other = idempotency.fingerprint("POST", "/x", "", b'{"a": 2}')
    assert await idempotency.begin(patient, "k", first, now - timedelta(hours=25)) is None
    answer = idempotency.Answer(200, "application/json", b'{"ok":true}')
    await idempotency.finish(patient, "k", answer, now - timedelta(hours=25))
    # Past its 24 hours the key is free again, for any request.
    assert await idempotency.begin(patient, "k", other, now) is None
    await idempotency.finish(patient, "k", answer, now)
    assert await idempotency.begin(patient, "k", other, now) == answer
    await idempotency.begin(patient, "old", first, now - timedelta(hours=25))
    assert await idempotency.sweep(now) == 1
    assert await IdempotencyKey.count() == 1


async def test_a_failed_or_abandoned_first_try_runs_again(db):
    patient, now = uuid4(), utcnow()
    same = idempotency.fingerprint("POST", "/x", "", b"{}")
    assert await idempotency.begin(patient, "failed", same, now) is None
    await idempotency.finish(patient, "failed", None, now)  # a 5xx: released
    assert await idempotency.begin(patient, "failed", same, now) is None
    # A claim whose process died: after its lease, the same request may take it over;
    # another request with the key is still refused.
    assert await idempotency.begin(patient, "dead", same, now) is None
    with pytest.raises(idempotency.StillRunning):
        await idempotency.begin(patient, "dead", same, now + timedelta(seconds=5))
    later = now + idempotency.LEASE + timedelta(seconds=1)
    with pytest.raises(idempotency.KeyReused):
        await idempotency.begin(
            patient, "dead", idempotency.fingerprint("GET", "/", "", b""), later
        )
    assert await idempotency.begin(patient, "dead", same, later) is None


async def test_the_worker_sweeps_keys_past_their_day(db):
    patient, now = uuid4(), utcnow()
    same = idempotency.fingerprint("POST", "/x", "", b"{}")
    await idempotency.begin(patient, "old", same, now - timedelta(hours=25))
    await idempotency.begin(patient, "new", same, now)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_forever({}, interval=0.01, stop=stop))
    try:
        for _ in range(6000):  # a bound on a hang, not a measure of speed
            if await IdempotencyKey.count() == 1:
                break
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await worker
    left = await IdempotencyKey.select(IdempotencyKey.key)
    assert left == [{"key": "new"}]


async def test_two_answers_to_one_question_at_once_record_one(client, db):
    """A double tap: "yes" and "no" to one question at the same moment, without keys.
    One is recorded; the other is told the question is answered (409), never a 200 for
    an answer the ledger does not hold."""
    world = await patient_world(client, db)
    url = world.path("/questions/{question_id}/answer")
    events = await Event.count()
    answers = await asyncio.gather(
        client.post(url, headers=world.me.headers, json={"answer": "yes"}),
        client.post(url, headers=world.me.headers, json={"answer": "no"}),
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    assert await Event.count() == events + 1
