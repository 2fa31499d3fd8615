"""E-mail over SMTP (aiosmtplib), configured by one URL:

    smtp://[user:password@]host[:port]             plain, or STARTTLS when the server offers it
    smtp://…?starttls=required                     refuse to send without STARTTLS
    smtps://[user:password@]host[:port]            TLS from the first byte (port 465)

A refusal for good (5xx: no such mailbox, relaying denied) is told apart from trouble
that passes (4xx, a dropped connection, a timeout), so the worker retries only the latter.
"""

from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlparse

import msgspec

TIMEOUT_S = 15


class MailUnavailable(Exception):
    """Try again later."""


class MailRejected(Exception):
    """The server refused this message for good."""


class SmtpConfig(msgspec.Struct, frozen=True, kw_only=True):
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    start_tls: bool | None = None  # None: if the server offers it


def parse_smtp_url(url: str) -> SmtpConfig:
    parsed = urlparse(url)
    if parsed.scheme not in ("smtp", "smtps") or not parsed.hostname:
        raise ValueError("PLANTRACK_SMTP_URL: smtp://[user:password@]host[:port] or smtps://…")
    implicit = parsed.scheme == "smtps"
    query = parse_qs(parsed.query)
    starttls = query.get("starttls", [""])[0]
    return SmtpConfig(
        host=parsed.hostname,
        port=parsed.port or (465 if implicit else 25),
        username=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
        use_tls=implicit,
        start_tls=True if starttls == "required" else (False if starttls == "off" else None),
    )


class SmtpMailer:
    def __init__(self, url: str, sender: str) -> None:
        self.config = parse_smtp_url(url)
        self.sender = sender

    async def send(self, message: EmailMessage) -> None:
        # Imported on the first e-mail: only the outbox worker sends, not the web workers.
        import aiosmtplib

        if "From" not in message:
            message["From"] = self.sender
        c = self.config
        try:
            await aiosmtplib.send(
                message,
                hostname=c.host,
                port=c.port,
                username=c.username,
                password=c.password,
                use_tls=c.use_tls,
                start_tls=c.start_tls,
                timeout=TIMEOUT_S,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if all(code >= 500 for code in codes):
                raise MailRejected(f"recipient refused ({', '.join(map(str, codes))})") from exc
            raise MailUnavailable(f"recipient deferred ({', '.join(map(str, codes))})") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                raise MailRejected(f"SMTP {exc.code}: {exc.message[:200]}") from exc
            raise MailUnavailable(f"SMTP {exc.code}: {exc.message[:200]}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise MailUnavailable(f"{type(exc).__name__} reaching {c.host}:{c.port}") from exc
