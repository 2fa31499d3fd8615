"""OpenAPI helpers: an example for every request and response, problem documents for errors."""

from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import Body


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An error, as application/problem+json (RFC 9457)."""

    status: int
    title: str
    detail: str
    request_id: str
    errors: list[dict[str, Any]] | None = None


_PROBLEM_TEXT = {
    400: "Bad Request: the body or a parameter is malformed",
    401: "Unauthorized: no valid access token",
    403: "Forbidden: not allowed for this account",
    404: "Not Found: no such object, or not yours",
    409: "Conflict: does not fit the current state",
    413: "Content Too Large: the body is over this route's limit",
    422: "Unprocessable content: well-formed but not acceptable",
    429: "Too Many Requests: wait for Retry-After seconds",
    502: "Bad Gateway: the other system refused",
    503: "Service Unavailable: try again later",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    return {
        status: ResponseSpec(
            data_container=Problem,
            description=_PROBLEM_TEXT[status],
            media_type="application/problem+json",
            generate_examples=False,
            examples=[
                Example(
                    summary=_PROBLEM_TEXT[status].split(":")[0],
                    value={
                        "status": status,
                        "title": _PROBLEM_TEXT[status].split(":")[0],
                        "detail": _PROBLEM_TEXT[status].split(": ")[-1],
                        "request_id": "3f2b6c0e9a7d4e1b8c5a2f0d6e9b1c4a",
                    },
                )
            ],
        )
        for status in statuses
    }


def responds(
    data_container: Any,
    example: Any,
    description: str,
    *,
    status: int = 200,
    media_type: str = "application/json",
    errors: tuple[int, ...] = (),
) -> dict[int, ResponseSpec]:
    """The success response with its example, and the problems this route can answer."""
    return {
        status: ResponseSpec(
            data_container=data_container,
            description=description,
            media_type=media_type,
            generate_examples=False,
            examples=[Example(summary="example", value=example)],
        ),
        **problems(*errors),
    }


def example_body(value: dict[str, Any], summary: str = "example") -> Any:
    return Body(examples=[Example(summary=summary, value=value)])
