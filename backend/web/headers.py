"""Security headers on every answer: no sniffing, no framing, no referrer, a strict
content policy for our own pages, no caching of personal data, HSTS in production."""

from litestar.types import ASGIApp, Message, Receive, Scope, Send

# The admin pages use one stylesheet from /admin/static, inline SVG charts and QR codes
# (presentation attributes, no style attributes) and no scripts at all.
STRICT_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# The OpenAPI viewers at /schema load their scripts and styles from a CDN and inline;
# they show only the schema, so they get no framing and nothing else.
SCHEMA_CSP = "frame-ancestors 'none'"
HSTS = b"max-age=63072000; includeSubDomains"

COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# Answers under these paths may carry personal or health data: never stored by a
# browser or a proxy, unless the route chose its own caching (private pictures; the
# patient API's GETs, `private, no-cache` with an ETag: backend.web.conditional).
PERSONAL_PREFIXES = ("/api/", "/admin", "/media/", "/integrations/", "/p/")


def strict_csp(image_origin: str | None = None) -> str:
    """The admin pages' policy; pictures also from the object store when they live there."""
    if not image_origin:
        return STRICT_CSP
    return STRICT_CSP.replace("img-src 'self' data:", f"img-src 'self' data: {image_origin}")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool, image_origin: str | None = None) -> None:
        self.app = app
        self.hsts = hsts
        self.csp = strict_csp(image_origin)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        extra = list(COMMON)
        csp = SCHEMA_CSP if path.startswith("/schema") else self.csp
        extra.append((b"content-security-policy", csp.encode()))
        if self.hsts:
            extra.append((b"strict-transport-security", HSTS))
        personal = path.startswith(PERSONAL_PREFIXES) and not path.startswith("/admin/static")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in names)
                if personal and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
