"""Picture files, served only to holders of a fresh signed URL (see backend.runtime.media_files)."""

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Request, get
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, KwargDefinition, QueryParameter
from litestar.response import File

from backend.domain.teeth import Tooth
from backend.routes.docs import responds
from backend.runtime.clock import utcnow
from backend.runtime.media_files import CACHE_CONTROL, ORIGINAL, LocalMediaFiles, check_signature
from backend.services import patient_reads
from backend.services.errors import Invalid
from backend.services.media import attach_media, served_key
from backend.services.picture_formats import MAX_BYTES

MAX_UPLOAD = MAX_BYTES  # a picture's own limit; the request's body limit adds the form's


@dataclass
class PictureUpload:
    """A picture as multipart form data: the file, what it is, which tooth (none: the
    whole mouth), which phase of treatment."""

    file: UploadFile
    kind: Literal["xray", "photo", "scan"]
    phase: Literal["before", "after", "progress"]
    tooth: Tooth | None = None
    # Litestar reads a form's constraints from its own definitions (services.media checks it).
    caption: Annotated[str, KwargDefinition(max_length=300)] = ""


async def read_upload(upload: PictureUpload) -> bytes:
    content = await upload.file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise Invalid("the picture is over 15 MB")
    return content


def picture_form(example: dict[str, Any]) -> Body:
    """The multipart body of a picture upload, with the example the document shows."""
    return Body(
        media_type=RequestEncodingType.MULTI_PART,
        examples=[Example(summary="example", value=example)],
    )


async def store_picture(
    request: Request, referral_id: UUID, upload: PictureUpload, *, uploaded_by: str
) -> UUID:
    """Attach an uploaded picture to a referral (the caller has checked the referral is
    the uploader's to touch)."""
    return await attach_media(
        request.app.state.media_files,
        referral_id=referral_id,
        data=await read_upload(upload),
        kind=upload.kind,
        phase=upload.phase,
        tooth=upload.tooth,
        caption=upload.caption,
        uploaded_by=uploaded_by,
    )


@get(
    "/media/{media_id:uuid}",
    summary="A picture file",
    description="The bytes of one size of a picture kept in the media directory. Needs the "
    "v, exp and sig of a signed URL from the API; an expired or wrong signature is answered "
    "as missing. (With the object store the API's URLs point at the store instead.)",
    responses=responds(bytes, "(binary image)", "The picture", media_type="image/*", errors=(404,)),
    tags=["media"],
)
async def media_file(
    request: Request,
    media_id: FromPath[UUID],
    exp: Annotated[int, QueryParameter(description="expiry, Unix seconds")],
    sig: Annotated[str, QueryParameter(max_length=64, description="signature")],
    v: Annotated[
        str,
        QueryParameter(
            max_length=20, description="the size: thumb.webp, thumb.jpeg, screen.webp, …"
        ),
    ] = ORIGINAL,
) -> File:
    settings = request.app.state.settings
    missing = NotFoundException(detail="no such picture (or the link has expired)")
    if not check_signature(settings.secret_key, media_id, exp, sig, utcnow(), v):
        raise missing
    row = await patient_reads.served_media(media_id)
    found = None if row is None else served_key(row, v)
    files = request.app.state.media_files
    if found is None or not isinstance(files, LocalMediaFiles):
        raise missing
    key, content_type = found
    return File(
        path=files.path(key),
        media_type=content_type,
        content_disposition_type="inline",
        headers={
            "Cache-Control": CACHE_CONTROL,
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
        },
    )
