"""What a refusal over HTTP looks like: a problem document (RFC 9457), never a bare page."""

import httpx


def assert_problem(response: httpx.Response, status: int | None = None, *context) -> None:
    """`response` is a problem document with `status` (any 4xx when None); `context` is
    shown with the status and body when it is not."""
    why = (*context, response.status_code, response.text)
    if status is None:
        assert 400 <= response.status_code < 500, why
    else:
        assert response.status_code == status, why
    assert response.headers["content-type"].startswith("application/problem+json"), why
