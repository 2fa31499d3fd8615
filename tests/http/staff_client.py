"""Staff accounts for HTTP tests: made through the service, signed in over HTTP with TOTP."""

from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import httpx
import pyotp

from backend.domain.roles import Role
from backend.runtime.clock import utcnow
from backend.services.staff import add_staff
from backend.store import parties

PASSWORD = "correct horse battery staple"


@dataclass
class Staff:
    email: str
    role: Role
    clinic_id: UUID | None
    secret: str
    token: str = ""
    used_steps: set[int] = field(default_factory=set)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def code(self) -> str:
        """A code for a time step not used yet (the server refuses a replayed one)."""
        totp = pyotp.TOTP(self.secret)
        for drift in (0, 1):
            at = utcnow() + timedelta(seconds=30 * drift)
            step = int(at.timestamp()) // 30
            if step not in self.used_steps:
                self.used_steps.add(step)
                return totp.at(at)
        raise RuntimeError("signed in too often within a minute")


async def make_staff(role: Role, clinic_id: UUID | None = None, email: str | None = None) -> Staff:
    email = email or f"{role.value}.{str(clinic_id)[-6:] if clinic_id else 'x'}@example.org"
    await add_staff(email=email, role=role, password=PASSWORD, clinic_id=clinic_id)
    row = await parties.staff_by_email(email)
    return Staff(email=email, role=role, clinic_id=clinic_id, secret=row.totp_secret)


async def sign_in(client: httpx.AsyncClient, staff: Staff) -> Staff:
    response = await client.post(
        "/api/v1/auth/staff",
        json={"email": staff.email, "password": PASSWORD, "totp": staff.code()},
    )
    assert response.status_code == 200, response.text
    staff.token = response.json()["token"]
    return staff
