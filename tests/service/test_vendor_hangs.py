"""Vendors that accept the connection and never answer: FCM (its send endpoint and its
OAuth token endpoint), amoCRM and Bitrix24, each behind a loopback link (tests/fakes/
link.py) that holds every connection without a byte back.

The worker cuts each call at its timeout and closes the connection, the messages wait
for their retry, the event loop is never blocked, a hung vendor costs the batch one
timeout (not one per message), and the other vendors' messages go out in the same
round. When the vendor answers again, everything arrives exactly once — also when a
CRM carried out a request whose answer was lost (the retry finds the lead or deal it
made instead of making a second). The MIS webhooks call nothing of ours out: their
senders call us, and a delivery is stored before it is answered.
"""

import asyncio
import time
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import pytest

from backend.domain.roles import Role
from backend.outbox.worker import handlers, run_once
from backend.push.fcm import FcmSender
from backend.runtime.clock import utcnow
from backend.services.crm_outbound import OUTBOUND
from backend.store import outbox
from tests.factories import make_clinic
from tests.fakes import amocrm, bitrix24
from tests.fakes.fcm import RunningFake
from tests.fakes.link import Link
from tests.fakes.service_account import write_key
from tests.http import test_amocrm, test_bitrix24
from tests.http.integration_client import connect, send
from tests.http.staff_client import make_staff, sign_in
from tests.service.test_push_workers import enqueue_pushes

TIMEOUT = 1.5  # the worker's vendor timeout in these tests (production: 15 s)
PUSHES = 120  # three of the sender's chunks of 50
REFERRALS = 4


async def watched(work: Awaitable[Any]) -> tuple[Any, float, float]:
    """Run `work`; (its result, seconds taken, the longest the event loop went without
    running a 20 ms ticker — a blocked loop is a frozen worker)."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.monotonic()
        while not done.is_set():
            await asyncio.sleep(0.02)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        result = await work
    finally:
        took = time.monotonic() - started
        done.set()
        await ticker
    return result, took, max(gaps, default=0.0)


async def until_delivered(topics, topic: str, *, rounds: int = 30) -> None:
    """Rounds of the worker, each a minute later on its clock, until nothing of `topic`
    is pending."""
    now = utcnow()
    for _ in range(rounds):
        now += timedelta(minutes=1)
        await run_once(topics, worker="w", now=now)
        if all(r.status != "pending" for r in await outbox.of_topic(topic)):
            return
    raise AssertionError(f"{topic} still pending: {await outbox.of_topic(topic)}")


async def pushes_pending() -> list[outbox.OutboxRow]:
    return [r for r in await outbox.of_topic("push") if r.status == "pending"]


@pytest.mark.parametrize("hangs", ["send", "oauth token"])
async def test_a_hung_fcm_costs_one_timeout_and_every_push_arrives_once(
    client, db, tmp_path, hangs
):
    with RunningFake() as fcm, Link(fcm.port) as link, amocrm.running() as crm:
        ex, clinic_id, _ = await test_amocrm.setup(client, crm)
        token_uri = f"{link.url if hangs == 'oauth token' else fcm.base_url}/token"
        sender = FcmSender(
            credentials_path=str(write_key(tmp_path / "key.json", token_uri=token_uri)),
            project_id="plantrack-test",
            endpoint=fcm.base_url if hangs == "oauth token" else link.url,
            timeout=TIMEOUT,
        )
        topics = handlers(sender, db.secret_key, vendor_timeout=TIMEOUT)
        try:
            await enqueue_pushes(PUSHES, "ok")
            sent = [
                await send(client, ex, clinic_id, f"+7916123480{i}", f"Пациент {i}")
                for i in range(REFERRALS)
            ]
            link.mode = "hang"
            _, took, gap = await watched(run_once(topics, worker="w", now=utcnow()))
            await asyncio.sleep(0.2)  # the link notices our side hanging up

            # Cut at the timeout, the connection closed by us; one chunk tried, not three
            # (or, for the token, one attempt for the whole batch); nothing delivered.
            assert 1 <= link.hung <= (1 if hangs == "oauth token" else 50), link.hung
            assert link.cut == link.hung
            assert gap < TIMEOUT / 2, f"the event loop stood still for {gap:.2f} s"
            pending = await pushes_pending()
            assert len(pending) == PUSHES and {r.attempts for r in pending} == {1}
            assert fcm.received == []
            # The CRM's messages went out in the same round.
            for s in sent:
                test_amocrm.lead_of(crm, s["invite_code"])
            assert {r.status for r in await outbox.of_topic(OUTBOUND)} == {"done"}

            link.mode = "pass"
            await until_delivered(topics, "push")
        finally:
            await sender.aclose()
    print(
        f"\nFCM {hangs} hung: the round took {took:.1f} s with a {TIMEOUT} s timeout, "
        f"{link.hung} connections held and cut, the loop never still for more than "
        f"{gap * 1000:.0f} ms; every push delivered once after"
    )
    assert {r.status for r in await outbox.of_topic("push")} == {"done"}
    tags = sorted(m["android"]["notification"]["tag"] for m in fcm.received)
    assert tags == sorted(f"n{i}" for i in range(PUSHES))  # each once, none twice


CREATES = {"amocrm": ("POST", "/api/v4/leads/complex"), "bitrix24": "crm.deal.add"}


async def connect_through(client, system: str, crm, link: Link) -> tuple[dict, Any]:
    """The clinic's CRM integration, its API reached through the link."""
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    clinic_id = await make_clinic()
    if system == "amocrm":
        config = test_amocrm.config(crm, base_url=link.url)
    else:
        config = test_bitrix24.config(crm, rest_url=f"{link.url}/rest/{crm.user}/{crm.secret}/")
    await connect(client, operator.headers, clinic_id, config)
    return operator.headers, clinic_id


def creations(system: str, crm) -> int:
    if system == "amocrm":
        return sum(1 for r in crm.requests if r == CREATES["amocrm"])
    return crm.methods_called().count("crm.deal.add")


def made_once(system: str, crm, sent: dict) -> None:
    if system == "amocrm":
        test_amocrm.lead_of(crm, sent["invite_code"])  # asserts exactly one
    else:
        crm.deal_of(sent["id"])  # asserts exactly one


@pytest.mark.parametrize("system", ["amocrm", "bitrix24"])
async def test_a_hung_crm_costs_one_timeout_and_each_referral_is_made_once(
    client, db, tmp_path, system
):
    running = amocrm.running() if system == "amocrm" else bitrix24.running()
    with RunningFake() as fcm, running as crm, Link(crm.port) as link:
        ex, clinic_id = await connect_through(client, system, crm, link)
        sender = FcmSender(
            credentials_path=str(
                write_key(tmp_path / "key.json", token_uri=f"{fcm.base_url}/token")
            ),
            project_id="plantrack-test",
            endpoint=fcm.base_url,
            timeout=TIMEOUT,
        )
        topics = handlers(sender, db.secret_key, vendor_timeout=TIMEOUT)
        try:
            await enqueue_pushes(20, "ok")
            sent = [
                await send(client, ex, clinic_id, f"+7916123490{i}", f"Пациент {i}")
                for i in range(REFERRALS)
            ]
            link.mode = "hang"
            _, took, gap = await watched(run_once(topics, worker="w", now=utcnow()))
            await asyncio.sleep(0.2)
            # One call held and cut; the other referrals were not sent into the silence
            # (each would have waited its own timeout), all wait for their retry.
            assert link.hung == 1 and link.cut == 1
            assert gap < TIMEOUT / 2, f"the event loop stood still for {gap:.2f} s"
            rows = await outbox.of_topic(OUTBOUND)
            assert [r.status for r in rows] == ["pending"] * REFERRALS
            assert all("did not answer" in (r.last_error or "") for r in rows), rows
            # The pushes went out in the same round.
            assert len(fcm.received) == 20

            # The CRM takes the first create but its answer is lost on the way back.
            link.mode = "pass"
            crm.answers_lost = {CREATES[system]}
            await asyncio.sleep(TIMEOUT)  # the host's silence ends
            await run_once(topics, worker="w", now=utcnow() + timedelta(minutes=1))
            assert creations(system, crm) == 1
            assert all(r.status == "pending" for r in await outbox.of_topic(OUTBOUND))

            crm.answers_lost = set()
            await asyncio.sleep(TIMEOUT)
            await until_delivered(topics, OUTBOUND)
        finally:
            await sender.aclose()
    print(
        f"\n{system} hung: the round took {took:.1f} s with a {TIMEOUT} s timeout, one "
        f"connection held and cut, {REFERRALS - 1} messages put off without a call; after "
        f"a lost answer and the return, {creations(system, crm)} creations for "
        f"{REFERRALS} referrals"
    )
    assert {r.status for r in await outbox.of_topic(OUTBOUND)} == {"done"}
    for s in sent:
        made_once(system, crm, s)
    assert creations(system, crm) == REFERRALS  # the lost answer's lead was found, not remade
