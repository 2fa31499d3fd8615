"""Signing patients in over HTTP, the way the app does."""

from dataclasses import dataclass
from uuid import uuid4

import httpx

from backend.auth.emulator import emulator_id_token
from backend.runtime.clock import utcnow


@dataclass
class SignedIn:
    access: str
    refresh: str
    patient_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}


def firebase_token(phone: str | None, uid: str | None = None) -> str:
    return emulator_id_token(
        project_id="plantrack-dev", uid=uid or f"uid-{uuid4().hex[:12]}", phone=phone, now=utcnow()
    )


async def sign_in(
    client: httpx.AsyncClient, phone: str, invite_code: str | None = None, uid: str | None = None
) -> SignedIn:
    response = await client.post(
        "/api/v1/auth/patient",
        json={"firebase_id_token": firebase_token(phone, uid), "invite_code": invite_code},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return SignedIn(
        access=body["access_token"], refresh=body["refresh_token"], patient_id=body["patient_id"]
    )
