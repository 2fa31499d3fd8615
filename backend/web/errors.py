"""Every error as application/problem+json (RFC 9457), never a stack trace or SQL."""

import logging
from http import HTTPStatus
from typing import Any

from litestar.exceptions import HTTPException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from backend.runtime.logs import request_id
from backend.services.errors import ServiceError
from backend.store.unavailable import RETRY_AFTER_S, UNSTORABLE_TEXT, is_unavailable

log = logging.getLogger("plantrack.errors")


def _problem(status: int, detail: str, extra: Any = None, headers=None) -> ProblemDetailsException:
    fields: dict[str, Any] = {"request_id": request_id.get()}
    if isinstance(extra, dict):
        fields.update(extra)
    elif extra:
        fields["errors"] = extra  # e.g. the list of validation errors
    return ProblemDetailsException(
        status_code=status,
        title=HTTPStatus(status).phrase,
        detail=detail,
        extra=fields,
        headers=headers,
    )


def _from_http(exc: HTTPException) -> ProblemDetailsException:
    return _problem(exc.status_code, exc.detail, exc.extra, exc.headers)


def _from_service(exc: ServiceError) -> ProblemDetailsException:
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return _problem(exc.status, exc.detail, exc.extra or None, headers)


def _from_undecodable(exc: UnicodeDecodeError) -> ProblemDetailsException:
    # Litestar decodes multipart form fields as UTF-8 before any handler runs.
    return _problem(400, "the request has text that is not valid UTF-8")


def _from_unstorable_text(exc: Exception) -> ProblemDetailsException:
    # PostgreSQL text cannot hold a NUL character; no field of ours needs one.
    return _problem(400, "the request has text PostgreSQL cannot store (a NUL character)")


def database_unavailable(exc: Exception) -> ProblemDetailsException:
    """503 with Retry-After for a database outage; anything else is a 500. Sending the
    request again is safe: writes are idempotent by their keys."""
    if not is_unavailable(exc):
        return _from_unexpected(exc)
    log.warning("database unavailable", extra={"fields": {"error": type(exc).__name__}})
    return _problem(
        503,
        "The database is briefly unavailable. Send the request again shortly.",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def _from_unexpected(exc: Exception) -> ProblemDetailsException:
    if is_unavailable(exc):
        return database_unavailable(exc)
    log.error("unhandled error", exc_info=exc)
    return _problem(500, "Something went wrong on our side. Quote the request id to support.")


problem_details = ProblemDetailsPlugin(
    ProblemDetailsConfig(
        enable_for_all_http_exceptions=True,
        exception_to_problem_detail_map={
            HTTPException: _from_http,
            ServiceError: _from_service,
            UnicodeDecodeError: _from_undecodable,
            **dict.fromkeys(UNSTORABLE_TEXT, _from_unstorable_text),
            Exception: _from_unexpected,
        },
    )
)
