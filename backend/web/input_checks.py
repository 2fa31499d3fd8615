"""Checks on raw input that every route shares, before any handler runs."""

from litestar import Request
from litestar.exceptions import ValidationException


async def refuse_nul_in_query(request: Request) -> None:
    """No parameter of ours can hold a NUL character, and PostgreSQL cannot compare or
    store one: refused the same way on both engines. (PostgreSQL also refuses one in a
    body, which backend.web.errors answers with a 400.)"""
    if any("\x00" in value for _, value in request.query_params.multi_items()):
        raise ValidationException(detail="a query parameter holds a NUL character")
