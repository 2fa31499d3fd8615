"""A patient with one of everything the patient API can be asked about: a referral at a
clinic with a plan of two options, a booked appointment and its questions, a visit code
at reception, a paid procedure and its receipt, a picture; signed in over HTTP."""

import io
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import msgspec
from PIL import Image

from backend.domain.events import ItemDone, Payment
from backend.runtime.clock import utcnow
from backend.runtime.media_files import LocalMediaFiles
from backend.services.media import attach_media
from backend.services.recording import record
from backend.services.referrals import PlanItemIn
from backend.services.visit_codes import issue_code
from backend.settings import Settings
from backend.store import plans
from tests.factories import PLAN, book, clinic_says, make_clinic, make_referral
from tests.http.patient_client import SignedIn, sign_in

PHONE = "+79161230044"
ME = "/api/v1/me"
# The factories' plan, its implant as option A and a bridge as option B.
TWO_OPTIONS = msgspec.structs.replace(
    PLAN,
    items=[
        PLAN.items[0],
        msgspec.structs.replace(PLAN.items[1], variant="A"),
        PlanItemIn(
            specialization="orthopedics",
            price=48_000_00,
            title_ru="Мостовидный протез",
            title_en="Bridge",
            tooth=36,
            stage=2,
            variant="B",
        ),
    ],
)


@dataclass
class World:
    me: SignedIn
    referral_id: UUID
    question_id: str
    appointment_id: str
    visit_code: str
    receipt_qr: str
    media_id: UUID

    def path(self, template: str) -> str:
        return ME + template.format(
            referral_id=self.referral_id,
            question_id=self.question_id,
            appointment_id=self.appointment_id,
            media_id=self.media_id,
        )


def _picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (120, 90, 60)).save(out, format="PNG")
    return out.getvalue()


async def patient_world(client: httpx.AsyncClient, db: Settings, *, paid: bool = True) -> World:
    now = utcnow()
    clinic = await make_clinic()
    sent = await make_referral(clinic, PHONE, at=now - timedelta(hours=3), plan=TWO_OPTIONS)
    rid = sent.referral_id
    await book(rid, (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0))
    code = await issue_code(rid, secret=db.secret_key, issued_by="staff:test")
    qr = ""
    if paid:
        filling = (await plans.items_of((await plans.versions_of(rid))[0].id))[0]
        paid_at = now - timedelta(minutes=30)
        await record(rid, clinic_says(ItemDone(item_id=filling.item_id)))
        await record(rid, clinic_says(Payment(amount=6_500_00), occurred_at=paid_at))
        stamp = paid_at.astimezone(ZoneInfo("Europe/Moscow"))
        qr = f"t={stamp:%Y%m%dT%H%M}&s=6500.00&fn=9960440300000001&i=1234&fp=2840123456&n=1"
    media_id = await attach_media(
        LocalMediaFiles(db.media_dir),
        referral_id=rid,
        data=_picture(),
        kind="xray",
        phase="before",
    )
    me = await sign_in(client, PHONE, invite_code=sent.invite_code)
    screen = await client.get(f"{ME}/referrals/{rid}", headers=me.headers)
    assert screen.status_code == 200, screen.text
    return World(
        me=me,
        referral_id=rid,
        question_id=screen.json()["questions"][0]["id"],
        appointment_id=screen.json()["appointments"][0]["id"],
        visit_code=code.code,
        receipt_qr=qr,
        media_id=media_id,
    )
