"""Keyset pagination: an opaque cursor that names the last row seen."""

import base64
from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec
from litestar.exceptions import ValidationException
from litestar.params import PathParameter, QueryParameter

from backend.services.desk import WORKLIST_MAX

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_LIST = WORKLIST_MAX
# Numeric ids are BIGINT: a larger number names nothing, and the database would refuse
# it with an overflow rather than an answer. The bound is JSON's largest exact integer
# (2^53 - 1), far beyond any row count, so the document states it exactly: 2^63 - 1
# written as a JSON number rounds up to 2^63, a bound the API would refuse.
MAX_ROW_ID = 2**53 - 1

Limit = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_LIMIT, description=f"page size, at most {MAX_LIMIT}", examples=[]),
]
ListLimit = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_LIST, description=f"at most {MAX_LIST} rows", examples=[]),
]
RowId = Annotated[int, PathParameter(ge=1, le=MAX_ROW_ID, description="the row's number")]
IdCursor = Annotated[
    int | None,
    QueryParameter(ge=1, le=MAX_ROW_ID, description="next_cursor of the last page", examples=[]),
]
Cursor = Annotated[
    str | None, QueryParameter(description="from the previous page's next_cursor", max_length=200)
]


class _Key(msgspec.Struct, array_like=True):
    at: datetime
    id: UUID


def encode_cursor(at: datetime, row_id: UUID) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(_Key(at, row_id))).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = msgspec.json.decode(raw, type=_Key)
    except (ValueError, msgspec.DecodeError) as exc:
        raise ValidationException(detail="cursor: not a cursor from this API") from exc
    return key.at, key.id
