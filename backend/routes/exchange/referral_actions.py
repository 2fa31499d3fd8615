"""What an operator does to a sent referral: attach a picture, move the patient to
another clinic, revoke the patient's SMS links."""

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from backend.routes import staff_bodies as b
from backend.routes import staff_examples as ex
from backend.routes import staff_schemas as s
from backend.routes.docs import PictureForm, example_body, responds
from backend.routes.exchange import exchange_router
from backend.routes.media import MAX_UPLOAD, PictureUpload, picture_form, store_picture
from backend.routes.staff_security import OPERATOR, roles
from backend.runtime.clock import utcnow
from backend.services import (
    exchange_admin,
    patient_links,
)
from backend.services.staff_auth import StaffPrincipal


@post(
    "/referrals/{referral_id:uuid}/media",
    summary="Attach a picture",
    description="An X-ray or photo (JPEG, PNG or WebP, up to 15 MB) as multipart form data. "
    "It is re-encoded: metadata such as GPS position never reaches the record.",
    opt=roles(OPERATOR),
    operation_class=PictureForm,
    request_max_body_size=MAX_UPLOAD + 64 * 1024,
    responses=responds(
        s.MediaCreated, ex.MEDIA_OUT, "Stored", status=201, errors=(400, 401, 403, 404, 413, 422)
    ),
)
async def upload_media(
    request: Request,
    staff: NamedDependency[StaffPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[
        PictureUpload, picture_form({"kind": "xray", "phase": "before", "caption": "ОПТГ"})
    ],
) -> s.MediaCreated:
    return s.MediaCreated(
        id=await store_picture(request, referral_id, data, uploaded_by=staff.actor)
    )


@post(
    "/referrals/{referral_id:uuid}/transfer",
    summary="Move a patient to another clinic",
    description="Mid-plan: the items not done, and their money, go to a new referral at the "
    "other clinic, linked to this one.",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(
        s.TransferOut, ex.TRANSFER_OUT, "Transferred", errors=(400, 401, 403, 404, 409, 422)
    ),
)
async def transfer(
    staff: NamedDependency[StaffPrincipal],
    referral_id: FromPath[UUID],
    data: Annotated[b.TransferIn, example_body(ex.TRANSFER_IN)],
) -> s.TransferOut:
    t = await exchange_admin.transfer_referral(
        referral_id, to_clinic_id=data.clinic_id, reason=data.reason, actor=staff.actor
    )
    return s.TransferOut(**msgspec.structs.asdict(t))


@post(
    "/referrals/{referral_id:uuid}/patient-links/revoke",
    summary="Revoke the patient's SMS links",
    description="Every personal link to this referral's web page stops working at once (a "
    "link forwarded, or a text sent to someone else's phone); the page answers 404 like for "
    "a link that never existed. An SMS sent later carries a new link.",
    status_code=200,
    opt=roles(OPERATOR),
    responses=responds(s.LinksRevoked, ex.LINKS_REVOKED, "Revoked", errors=(401, 403, 404)),
)
async def revoke_patient_links(referral_id: FromPath[UUID]) -> s.LinksRevoked:
    revoked = await patient_links.revoke(referral_id, utcnow())
    return s.LinksRevoked(revoked_links=revoked.links)


router = exchange_router(upload_media, transfer, revoke_patient_links)
