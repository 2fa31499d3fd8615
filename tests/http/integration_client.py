"""Helpers for integration tests: connect a clinic's system over the exchange API, send
referrals, deliver what a vendor would, run the worker, look at what followed."""

from datetime import datetime
from typing import Any
from urllib.parse import urlparse
from uuid import UUID

import httpx

from backend.domain.roles import Role
from backend.outbox.worker import handlers, run_once
from backend.runtime.clock import utcnow
from backend.settings import Settings
from backend.store.tables import Event
from tests.factories import make_clinic
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in

FORM = {"content-type": "application/x-www-form-urlencoded"}


async def work(db: Settings, now: datetime | None = None, rounds: int = 8) -> int:
    """Run the outbox worker until it finds nothing due; how many messages it handled."""
    topics = handlers(None, db.secret_key)
    handled = 0
    for _ in range(rounds):
        n = await run_once(topics, worker="test-worker", now=now or utcnow())
        handled += n
        if n == 0:
            break
    return handled


async def connect(
    client: httpx.AsyncClient, headers: dict, clinic_id: UUID, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.put(
        f"/api/v1/exchange/clinics/{clinic_id}/integration", headers=headers, json=body
    )
    assert response.status_code == 200, response.text
    return response.json()


def inbound_path(configured: dict[str, Any]) -> str:
    return urlparse(configured["integration"]["inbound_url"]).path


async def connect_new_clinic(
    client: httpx.AsyncClient, config: dict[str, Any], **clinic: Any
) -> tuple[dict, UUID, str]:
    """An exchange operator connects a new clinic (`clinic`: as `make_clinic` takes it) to
    its system: the operator's headers, the clinic and the path its system delivers to."""
    operator = await sign_in(client, await make_staff(Role.exchange_operator))
    clinic_id = await make_clinic(**clinic)
    configured = await connect(client, operator.headers, clinic_id, config)
    return operator.headers, clinic_id, inbound_path(configured)


async def send(
    client: httpx.AsyncClient, headers: dict, clinic_id: UUID, phone: str, name: str
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/exchange/referrals",
        headers=headers,
        json={
            "patient": {"phone": phone, "name": name},
            "clinic_id": str(clinic_id),
            "plan": {
                "items": [
                    {
                        "specialization": "therapy",
                        "price": 650000,
                        "title_ru": "Пломба",
                        "tooth": 16,
                    },
                    {"specialization": "hygiene", "price": 750000, "title_ru": "Гигиена"},
                ],
                "teeth": [{"tooth": 16, "phase": "before", "condition": "caries"}],
            },
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def step_of(client: httpx.AsyncClient, headers: dict, referral_id: str) -> str:
    card = await client.get(f"/api/v1/exchange/referrals/{referral_id}", headers=headers)
    assert card.status_code == 200, card.text
    return card.json()["step"]


async def event_count(referral_id: str | UUID) -> int:
    return await Event.count().where(Event.referral == UUID(str(referral_id)))


async def question_kinds(client: httpx.AsyncClient, phone: str, invite_code: str) -> set[str]:
    """The open questions the patient sees in the app."""
    patient = await patient_sign_in(client, phone, invite_code)
    listing = await client.get("/api/v1/me/questions", headers=patient.headers)
    assert listing.status_code == 200, listing.text
    return {q["kind"] for q in listing.json()["items"]}


async def inbox(client: httpx.AsyncClient, headers: dict, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/exchange/inbox", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]
