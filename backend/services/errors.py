"""Errors a use case reports to whoever called it; the HTTP layer turns them into
problem details, the CLI into a message."""

from typing import Any, ClassVar


class ServiceError(Exception):
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(ServiceError):
    status, title = 404, "Not found"


class NotAuthenticated(ServiceError):
    status, title = 401, "Unauthorized"


class TooManyAttempts(ServiceError):
    status, title = 429, "Too Many Requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class Forbidden(ServiceError):
    status, title = 403, "Forbidden"


class Invalid(ServiceError):
    status, title = 422, "Unprocessable content"


class Conflict(ServiceError):
    status, title = 409, "Conflict"


class UpstreamRefused(ServiceError):
    status, title = 502, "Bad Gateway"


class Unavailable(ServiceError):
    status, title = 503, "Service Unavailable"

    def __init__(self, detail: str, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
