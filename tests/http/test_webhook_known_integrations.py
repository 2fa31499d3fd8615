"""The ingest route keeps integrations in memory; a change made elsewhere (another
process: here the service and the store called directly, past this process's copy)
still holds from the very next delivery."""

from uuid import uuid4

import msgspec

from backend.domain.integration_settings import IntegrationIn
from backend.integrations.mis_webhooks import new_secret
from backend.services import inbox as inbox_service
from backend.services.connections import connection
from backend.services.integration_setup import configure
from backend.store import integrations as integration_store
from tests.factories import make_clinic
from tests.http.integration_client import inbound_path, inbox
from tests.http.test_mis_webhooks import event, setup, signed


async def deliver(client, path: str, secret: str, referral_id: str) -> int:
    body, headers = signed(secret, event("payment.received", referral_id, amount=100))
    return (await client.post(path, content=body, headers=headers)).status_code


async def test_a_token_rotated_on_another_process_is_refused_on_the_next_delivery(client, db):
    ex, clinic_id, path, secret = await setup(client)
    rid = str(uuid4())  # the route stores before it reads: any referral id will do
    assert await deliver(client, path, secret, rid) == 202
    assert await deliver(client, path, secret, rid) == 202  # from the copy in memory

    rotated = await configure(
        clinic_id,
        msgspec.convert({"system": "webhook"}, IntegrationIn),
        secret_key=db.secret_key,
        public_url="http://testserver",
        rotate=True,
    )
    new_path = inbound_path({"integration": {"inbound_url": rotated.integration.inbound_url}})
    assert new_path != path

    assert await deliver(client, path, secret, rid) == 403  # the old URL, its old secret
    assert await deliver(client, new_path, secret, rid) == 403  # the new URL, the old secret
    assert await deliver(client, new_path, rotated.signing_secret, rid) == 202
    assert await deliver(client, path, secret, rid) == 403
    statuses = [d["status"] for d in await inbox(client, ex, clinic_id=str(clinic_id))]
    assert sorted(statuses) == ["received"] * 3 + ["rejected"]  # unknown URLs store nothing


async def test_a_secret_rotated_on_another_process_is_checked_on_the_next_delivery(client, db):
    ex, clinic_id, path, secret = await setup(client)
    rid = str(uuid4())
    assert await deliver(client, path, secret, rid) == 202  # now known to this process

    # Another process saves a new signing secret under the same URL (as an adapter
    # saving refreshed secrets does), past this process's copy.
    row = await integration_store.of_clinic(clinic_id)
    assert row is not None
    elsewhere = await connection(row, db.secret_key)
    new = new_secret()
    await elsewhere.save_secrets({**elsewhere.secrets, "signing_secret": new})

    assert await deliver(client, path, secret, rid) == 403  # the old secret no longer holds
    assert await deliver(client, path, new, rid) == 202  # the new one does at once
    assert await deliver(client, path, new, rid) == 202
    assert await deliver(client, path, secret, rid) == 403
    statuses = [d["status"] for d in await inbox(client, ex, clinic_id=str(clinic_id))]
    assert sorted(statuses) == ["received"] * 3 + ["rejected"] * 2


async def test_a_repeat_and_a_malformed_delivery_answer_as_before_from_memory(client, db):
    ex, clinic_id, path, secret = await setup(client)
    rid = str(uuid4())
    body, headers = signed(secret, event("payment.received", rid, amount=100))
    assert (await client.post(path, content=body, headers=headers)).status_code == 202
    again = await client.post(path, content=body, headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"]
    bad, bad_headers = signed(secret, {"type": "payment.received"})
    assert (await client.post(path, content=bad, headers=bad_headers)).status_code == 400
    statuses = [d["status"] for d in await inbox(client, ex, clinic_id=str(clinic_id))]
    assert sorted(statuses) == ["failed", "received"]


def test_integrations_kept_in_memory_are_bounded():
    known = inbox_service.KnownIntegrations(size=2)

    def entry(n: int) -> inbox_service._Known:
        kept = integration_store.KnownIntegration(uuid4(), f"hash{n}", 0)
        return inbox_service._Known(kept, "webhook", "key", None)  # type: ignore[arg-type]

    known.keep("hash0", entry(0))
    known.keep("hash1", entry(1))
    assert known.get("hash0", "key") is not None
    known.keep("hash2", entry(2))
    assert len(known) == 2
    # hash0 was used last before hash2 came: hash1 is the one forgotten.
    assert known.get("hash1", "key") is None
    assert known.get("hash0", "key") is not None and known.get("hash2", "key") is not None
    assert known.get("hash0", "another key") is None  # unsealed with another key: not ours
    assert inbox_service.KNOWN.size <= 10_000


async def test_this_process_keeps_no_more_integrations_than_its_bound(client, db, monkeypatch):
    monkeypatch.setattr(inbox_service, "KNOWN", inbox_service.KnownIntegrations(size=2))
    for _ in range(3):
        made = await configure(
            await make_clinic(),
            msgspec.convert({"system": "webhook"}, IntegrationIn),
            secret_key=db.secret_key,
            public_url="http://testserver",
        )
        path = inbound_path({"integration": {"inbound_url": made.integration.inbound_url}})
        assert await deliver(client, path, made.signing_secret, str(uuid4())) == 202
    assert len(inbox_service.KNOWN) == 2
