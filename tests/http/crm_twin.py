"""A referral worked through the clinic panel, step for step as a CRM worked its twin, and
the two clinics' money funnels side by side: what the CRM tests hold equal to the kopeck."""

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx

from backend.domain.events import Source
from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.services.referrals import PlanIn, PlanItemIn, revise_plan
from tests.http.integration_client import send
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import Staff, make_staff, sign_in

MSK = ZoneInfo("Europe/Moscow")


def seconds(at: datetime) -> datetime:
    """CRMs keep times to the second."""
    return at.replace(microsecond=0)


class PanelTwin:
    """The same referral at a clinic whose coordinator uses the panel."""

    def __init__(self, client: httpx.AsyncClient, clinic_id: UUID) -> None:
        self.client = client
        self.clinic_id = clinic_id
        self.coordinator: Staff | None = None
        self.manager: Staff | None = None
        self.referral: dict[str, Any] = {}

    async def start(self, exchange: dict, phone: str, name: str) -> dict[str, Any]:
        self.coordinator = await sign_in(
            self.client, await make_staff(Role.clinic_coordinator, self.clinic_id)
        )
        self.manager = await sign_in(
            self.client, await make_staff(Role.clinic_manager, self.clinic_id)
        )
        self.referral = await send(self.client, exchange, self.clinic_id, phone, name)
        return self.referral

    async def claim(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.coordinator is not None
        body = {
            **body,
            **(
                {"occurred_at": body["occurred_at"].isoformat()}
                if isinstance(body.get("occurred_at"), datetime)
                else {}
            ),
        }
        if isinstance(body.get("appointment_at"), datetime):
            body["appointment_at"] = body["appointment_at"].isoformat()
        response = await self.client.post(
            f"/api/v1/clinic/referrals/{self.referral['id']}/claims",
            headers=self.coordinator.headers,
            json=body,
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def card(self) -> dict[str, Any]:
        assert self.coordinator is not None
        response = await self.client.get(
            f"/api/v1/clinic/referrals/{self.referral['id']}", headers=self.coordinator.headers
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def revise(self, items: list[PlanItemIn], reason: str, at: datetime) -> int:
        """The clinic's plan, by the door the panel's plan editor uses (the service, so
        that its time can be the CRM twin's)."""
        return await revise_plan(
            UUID(self.referral["id"]),
            PlanIn(items=items),
            reason=reason,
            source=Source.clinic_panel,
            actor=f"staff:{self.clinic_id}",
            occurred_at=at,
        )


async def answer_like_a_patient(
    client: httpx.AsyncClient, phone: str, invite_code: str, answers: dict[str, str]
) -> int:
    """Answer the patient's open questions: the first of `answers` whose key is in the
    question's text gives the answer ("" leaves it open); others are answered yes."""
    patient = await patient_sign_in(client, phone, invite_code)
    listing = await client.get("/api/v1/me/questions", headers=patient.headers)
    assert listing.status_code == 200, listing.text
    answered = 0
    for question in listing.json()["items"]:
        answer = next((a for k, a in answers.items() if k in question["text"]), "yes")
        if not answer:
            continue
        done = await client.post(
            f"/api/v1/me/questions/{question['id']}/answer",
            headers=patient.headers,
            json={"answer": answer},
        )
        assert done.status_code == 200, done.text
        answered += 1
    return answered


async def funnel_of(client: httpx.AsyncClient, manager: Staff) -> dict[str, Any]:
    """The clinic's funnel in money as its manager sees it (without the clinic's id)."""
    today = utcnow().astimezone(MSK).date()
    response = await client.get(
        "/api/v1/clinic/funnel",
        headers=manager.headers,
        params={"from": (today - timedelta(days=40)).isoformat(), "to": today.isoformat()},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    body.pop("clinics", None)
    return body


# --- the scenario both CRMs play: an estimate of a filling and hygiene (14 000 ₽ sent), the
# clinic's plan adds an extraction (18 500 ₽), all of it done and paid.


def assert_the_clinics_plan(card: dict[str, Any], reason: str) -> None:
    """The CRM's plan on the referral's card: the estimate's lines, the extraction added."""
    (clinic_plan,) = [p for p in card["plans"] if p["origin"] == "actual"]
    assert clinic_plan["reason"] == reason
    assert sorted((i["title_ru"], i["tooth"], i["price"]) for i in clinic_plan["items"]) == [
        ("Гигиена", None, 7_500_00),
        ("Пломба", 16, 7_000_00),
        ("Удаление", 38, 4_000_00),
    ]


def twin_items(card: dict[str, Any]) -> list[PlanItemIn]:
    """The plan the CRM makes, for the panel twin: the estimate's lines kept, the
    extraction added as the CRM adds it."""
    (estimate,) = [p for p in card["plans"] if p["origin"] == "estimated"]
    ids = {i["title_ru"]: UUID(i["item_id"]) for i in estimate["items"]}
    return [
        PlanItemIn(
            item_id=ids["Пломба"], specialization="therapy", price=7_000_00, title_ru="Пломба"
        ),
        PlanItemIn(
            item_id=ids["Гигиена"], specialization="hygiene", price=7_500_00, title_ru="Гигиена"
        ),
        PlanItemIn(
            specialization="surgery",
            price=4_000_00,
            title_ru="Удаление",
            code="A16.07.001",
            tooth=38,
        ),
    ]


async def the_twins_funnel(
    client: httpx.AsyncClient,
    patients: tuple[tuple[str, str], ...],
    answers: dict[str, str],
    crm_manager: Staff,
    panel_manager: Staff,
) -> dict[str, Any]:
    """Each (phone, invite code) answers its questions alike (`answer_like_a_patient`);
    then the CRM clinic's funnel is the panel twin's, to the figure. That funnel."""
    for phone, invite in patients:
        await answer_like_a_patient(client, phone, invite, answers)
    funnel = await funnel_of(client, crm_manager)
    assert funnel == await funnel_of(client, panel_manager)
    return funnel


def assert_the_whole_plan_done_and_paid(funnel: dict[str, Any]) -> None:
    assert funnel["in_money"] == 14_000_00  # the estimate as sent
    assert funnel["accepted_money"] == 18_500_00  # the clinic's plan
    assert (funnel["executed_money"], funnel["paid_money"]) == (18_500_00, 18_500_00)
    assert funnel["executed_split"] == {
        "verified": 7_000_00,
        "unverified": 4_000_00,
        "disputed": 7_500_00,
    }
    assert (funnel["reserve_money"], funnel["lost_money"]) == (0, 0)


async def referral_money(client: httpx.AsyncClient, ex: dict[str, str], referral_id: str) -> dict:
    """The money block of the referral's card, as the exchange reads it."""
    card = await client.get(f"/api/v1/exchange/referrals/{referral_id}", headers=ex)
    assert card.status_code == 200, card.text
    return card.json()["money"]
