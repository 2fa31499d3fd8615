"""A load that writes to a real server over HTTP (tests/live_server.py), for the tests
that break things underneath it: the database going away, the process being killed.

The load is two kinds of write, each with a mark of its own so that the ledger can be
searched for it afterwards: signed MIS webhooks (stored raw, then turned into a ledger
event by the worker; the mark is the webhook-id) and a patient's contact ratings (a
ledger event in the request's transaction; the mark is the comment).
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID, uuid4

import httpx
import msgspec

from backend.domain.roles import Role
from backend.services.inbox import INBOX
from backend.store.tables import ContactRating, Event, Inbox, Outbox
from tests.factories import make_clinic
from tests.http.integration_client import connect, inbound_path, send
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff
from tests.http.staff_client import sign_in as staff_sign_in
from tests.http.test_mis_webhooks import event, signed

# The server under load runs the worker inside it; a killed server's claimed messages
# come back after this lease, not two minutes.
WORKER_ENV = {
    "PLANTRACK_EMBEDDED_WORKER": "1",
    "PLANTRACK_WORKER_LEASE_SECONDS": "3",
    "PLANTRACK_LOG_LEVEL": "INFO",
}


@dataclass
class Scene:
    """What the load writes to: a clinic's MIS webhook and a patient's referral there."""

    clinic_id: UUID
    webhook_path: str
    secret: str
    referral_ids: list[str]
    patient_headers: dict[str, str]


async def set_scene(client: httpx.AsyncClient, referrals: int = 3) -> Scene:
    operator = await staff_sign_in(client, await make_staff(Role.exchange_operator))
    clinic_id = await make_clinic()
    configured = await connect(client, operator.headers, clinic_id, {"system": "webhook"})
    phone = "+79161230001"
    sent = [
        await send(client, operator.headers, clinic_id, phone, "Анна Иванова")
        for _ in range(referrals)
    ]
    patient = await patient_sign_in(client, phone, sent[0]["invite_code"])
    return Scene(
        clinic_id=clinic_id,
        webhook_path=inbound_path(configured),
        secret=configured["signing_secret"],
        referral_ids=[s["id"] for s in sent],
        patient_headers=patient.headers,
    )


@dataclass
class Tally:
    """Every request sent, by kind and mark, with what came back (an HTTP status, or
    0 when no answer came: the connection was refused or cut)."""

    webhooks: dict[str, int] = field(default_factory=dict)
    ratings: dict[str, int] = field(default_factory=dict)
    answered_at: list[tuple[float, int]] = field(default_factory=list)
    bad_503: list[str] = field(default_factory=list)  # 503s without Retry-After or problem

    def acked(self, kind: str) -> set[str]:
        return {mark for mark, status in getattr(self, kind).items() if 200 <= status < 300}

    def statuses(self) -> Counter:
        return Counter([*self.webhooks.values(), *self.ratings.values()])


async def write_load(
    client: httpx.AsyncClient, scene: Scene, tally: Tally, stop: asyncio.Event, writers: int = 4
) -> None:
    """`writers` clients each alternating a webhook and a rating, as fast as answered,
    until `stop`."""

    async def one(mark: str, request) -> int:
        try:
            answer = await request
        except httpx.TransportError:
            await asyncio.sleep(0.05)  # a dead server refuses at once: do not spin
            return 0
        if answer.status_code == 503 and not (
            answer.headers.get("retry-after") == "5"
            and answer.headers.get("content-type", "").startswith("application/problem+json")
            and "Traceback" not in answer.text
        ):
            tally.bad_503.append(f"{mark}: {answer.headers} {answer.text[:200]}")
        tally.answered_at.append((time.monotonic(), answer.status_code))
        return answer.status_code

    async def writer(w: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            rid = scene.referral_ids[n % len(scene.referral_ids)]
            msg_id = f"msg_{w}_{n}_{uuid4().hex[:8]}"
            body, headers = signed(
                scene.secret, event("payment.received", rid, amount=100 + n), msg_id=msg_id
            )
            tally.webhooks[msg_id] = await one(
                msg_id, client.post(scene.webhook_path, content=body, headers=headers)
            )
            comment = f"rating {w}-{n}-{uuid4().hex[:8]}"
            tally.ratings[comment] = await one(
                comment,
                client.post(
                    f"/api/v1/me/referrals/{scene.referral_ids[0]}/contact-rating",
                    headers=scene.patient_headers,
                    json={"called": True, "stars": 1 + n % 5, "comment": comment},
                ),
            )

    await asyncio.gather(*(writer(w) for w in range(writers)))


@dataclass
class Ledger:
    """What the database holds for the marks of a load."""

    deliveries: Counter  # webhook-id -> inbox rows with it
    webhook_events: Counter  # webhook-id -> ledger events recorded from it
    rating_events: Counter  # comment -> ledger events
    unfinished_inbox: int  # deliveries not yet turned into events
    open_outbox: int  # inbox messages pending or in flight
    half_written: list[str]


async def until_writes_answer_again(tally: Tally, since: float, seconds: float) -> None:
    """Keep the load going until the server has acknowledged 20 writes sent after `since`
    (a monotonic time), or `seconds` after it: the load has seen the recovery."""
    deadline = since + seconds
    while time.monotonic() < deadline:
        recovered = [t for t, s in tally.answered_at if t > since and s < 300]
        if len(recovered) >= 20:
            break
        await asyncio.sleep(0.2)


async def read_ledger(scene: Scene) -> Ledger:
    prefix = f"{scene.clinic_id}:"
    deliveries = Counter(
        r["delivery_key"]
        for r in await Inbox.select(Inbox.delivery_key).where(Inbox.clinic == scene.clinic_id)
    )
    events = await Event.select(
        Event.id, Event.referral, Event.kind, Event.idempotency_key, Event.payload
    )
    webhook_events: Counter = Counter()
    rating_events: Counter = Counter()
    last_rating: dict[UUID, int] = {}
    for e in events:
        key = e["idempotency_key"] or ""
        if key.startswith(prefix):
            webhook_events[key.removeprefix(prefix)] += 1
        if e["kind"] == "contact_rating":
            payload = e["payload"]
            payload = msgspec.json.decode(payload) if isinstance(payload, str) else payload
            rating_events[payload["comment"]] += 1
            last_rating[e["referral"]] = max(last_rating.get(e["referral"], 0), e["id"])
    half: list[str] = []
    # A delivery still waiting for the worker must have its outbox message.
    waiting = await Inbox.select(Inbox.id).where(
        (Inbox.clinic == scene.clinic_id) & (Inbox.status == "received")
    )
    queued = {
        r["dedupe_key"] for r in await Outbox.select(Outbox.dedupe_key).where(Outbox.topic == INBOX)
    }
    half += [
        f"delivery {r['id']} has no outbox message"
        for r in waiting
        if f"inbox:{r['id']}" not in queued
    ]
    # The shown rating is the last one recorded: the row and its event went in together.
    for row in await ContactRating.select(ContactRating.referral, ContactRating.event_id):
        if row["event_id"] != last_rating.get(row["referral"]):
            half.append(f"rating row of {row['referral']} points at event {row['event_id']}")
    open_outbox = await Outbox.count().where(
        (Outbox.topic == INBOX) & Outbox.status.is_in(["pending", "in_flight"])
    )
    return Ledger(
        deliveries=deliveries,
        webhook_events=webhook_events,
        rating_events=rating_events,
        unfinished_inbox=len(waiting),
        open_outbox=open_outbox,
        half_written=half,
    )


async def drained(scene: Scene, within: float = 25) -> Ledger:
    """The ledger once the worker has turned every delivery into events (or `within`
    seconds have passed: the caller's assertions then say what is missing)."""
    deadline = time.monotonic() + within
    while True:
        ledger = await read_ledger(scene)
        if (
            ledger.unfinished_inbox == 0 and ledger.open_outbox == 0
        ) or time.monotonic() > deadline:
            return ledger
        await asyncio.sleep(0.3)
