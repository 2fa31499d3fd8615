"""Sending SMS, behind a small interface; the first provider is SMS.ru's HTTP API.

SMS.ru (https://sms.ru/api/send): `POST {endpoint}/sms/send` with `api_id`, `to` (the
number's digits, no "+"), `msg` and `json=1`; optionally `from` (an approved sender
name). The answer has a request-level `status` / `status_code` (100: done) and, under
`sms`, one entry per number with its own `status`, `status_code` and `sms_id` or
`status_text`, then the `balance`. One number per call: a batch that fails halfway
never leaves it unclear which of its numbers got the text.

Each answer is sorted into what the outbox needs to know, by SMS.ru's documented codes:

- sent (100); or a duplicate (232: this very text already went to this number today,
  so a try whose answer was lost got through);
- bad number (202 wrong number or no route, 207 no route, 209 our stop list): the phone
  is marked and gets no more SMS;
- try again later: 220 and 500 (SMS.ru unavailable), HTTP 5xx, network errors and
  timeouts (an outage, retried with backoff); 201 (no money on the account), 206 (daily
  limit of the account), 230/231/233 (limits per number), 200/300/301/302 (credentials:
  someone must fix the configuration; nothing is dropped meanwhile);
- failed: what SMS.ru will never take as it is (203 no text, 204 sender name not
  approved, 205 too long, 212 encoding, …, and codes not in the list).

The sender name (`from`): SMS.ru sends from a name agreed with it ("имя отправителя,
согласованное с администрацией"), otherwise from the account's default. A clinic's own
name (its setting `sender_name`) goes as `from` when it has one, else
PLANTRACK_SMS_FROM, else nothing. A clinic's name SMS.ru has not agreed (204) must not
cost the patient the text: the request is made once more with the default sender.

SMS.ru's send call takes no idempotency key. A call cut by our timeout after SMS.ru
took the request may have sent the text; the try after it is answered 232 if it had.
"""

import logging
from datetime import timedelta
from typing import Protocol

import httpx
import msgspec

log = logging.getLogger("plantrack.sms")

SMSRU_ENDPOINT = "https://sms.ru"
TIMEOUT_S = 10.0

OUTAGE = frozenset({220, 500})
BAD_NUMBER = {202: "wrong number", 207: "no route to this number", 209: "number in stop list"}
# code: (what it means, how long to wait before the next try)
LATER = {
    201: ("no money on the SMS.ru account", timedelta(minutes=30)),
    206: ("daily limit of the SMS.ru account", timedelta(hours=1)),
    230: ("daily limit of messages to this number", timedelta(hours=6)),
    231: ("limit of identical messages to this number per minute", timedelta(minutes=2)),
    233: ("limit of repeated codes to this number", timedelta(minutes=15)),
    200: ("SMS.ru refused the api_id", timedelta(minutes=30)),
    300: ("SMS.ru refused the credentials", timedelta(minutes=30)),
    301: ("SMS.ru refused the credentials", timedelta(minutes=30)),
    302: ("SMS.ru account not confirmed", timedelta(minutes=30)),
}
DUPLICATE = 232
NOT_AGREED = 204  # the sender name is not agreed with SMS.ru


class Sms(msgspec.Struct, frozen=True, kw_only=True):
    to: str  # E.164: +79161234567
    text: str
    # The clinic's sender name (its setting `sender_name`); empty: the provider's own.
    sender: str = ""


class SmsResult(msgspec.Struct, frozen=True, kw_only=True):
    outcome: str  # sent | bad_number | retry | failed
    detail: str = ""
    retry_after: timedelta | None = None
    vendor_id: str | None = None
    # The vendor did not answer (down, or cut by our timeout): further sends in this
    # batch would only wait for it too.
    vendor_down: bool = False
    vendor_code: int | None = None  # SMS.ru's status code, where it gave one


class SmsSender(Protocol):
    """What the outbox needs of an SMS provider."""

    name: str

    async def send(self, sms: Sms) -> SmsResult: ...

    async def aclose(self) -> None: ...


def classify(code: int, text: str = "") -> SmsResult:
    """One SMS.ru status code (request-level or per number) as an outcome."""
    if code == 100:
        return SmsResult(outcome="sent")
    if code == DUPLICATE:
        return SmsResult(outcome="sent", detail="232: this text already went to this number")
    described = f"{code} {text}".strip()
    if code in BAD_NUMBER:
        return SmsResult(outcome="bad_number", detail=f"{code}: {BAD_NUMBER[code]}")
    if code in OUTAGE:
        return SmsResult(outcome="retry", detail=f"SMS.ru unavailable: {described}"[:300])
    if code in LATER:
        meaning, wait = LATER[code]
        return SmsResult(outcome="retry", detail=f"{code}: {meaning}", retry_after=wait)
    return SmsResult(
        outcome="failed", detail=f"SMS.ru refused: {described}"[:300], vendor_code=code
    )


class SmsRu:
    """SMS.ru's HTTP API; `endpoint` may be another base URL (a relay, a local fake)."""

    name = "smsru"

    def __init__(
        self,
        *,
        api_id: str,
        endpoint: str = SMSRU_ENDPOINT,
        sender_name: str = "",
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.api_id = api_id
        self.url = f"{endpoint.rstrip('/')}/sms/send"
        self.sender_name = sender_name
        self.http = httpx.AsyncClient(timeout=timeout)

    async def send(self, sms: Sms) -> SmsResult:
        sender = sms.sender or self.sender_name
        result = await self._send(sms, sender)
        if result.vendor_code == NOT_AGREED and sms.sender and sender != self.sender_name:
            # The clinic's name is not agreed with SMS.ru: the text goes from the default.
            retried = await self._send(sms, self.sender_name)
            note = f"sender name {sms.sender!r} not agreed with SMS.ru (204); sent from the default"
            return msgspec.structs.replace(
                retried, detail="; ".join(d for d in (retried.detail, note) if d)[:300]
            )
        return result

    async def _send(self, sms: Sms, sender: str) -> SmsResult:
        number = sms.to.lstrip("+")
        form = {"api_id": self.api_id, "to": number, "msg": sms.text, "json": "1"}
        if sender:
            form["from"] = sender
        try:
            response = await self.http.post(self.url, data=form)
        except httpx.TimeoutException as exc:
            return SmsResult(
                outcome="retry", detail=f"SMS.ru timed out: {type(exc).__name__}", vendor_down=True
            )
        except httpx.TransportError as exc:
            return SmsResult(
                outcome="retry",
                detail=f"SMS.ru unreachable: {type(exc).__name__}",
                vendor_down=True,
            )
        if response.status_code == 429 or response.status_code >= 500:
            return SmsResult(
                outcome="retry",
                detail=f"SMS.ru HTTP {response.status_code}",
                retry_after=_retry_after(response),
                vendor_down=response.status_code >= 500,
            )
        try:
            body = response.json()
            top = int(body["status_code"])
        except (ValueError, KeyError, TypeError):
            # Not SMS.ru's answer (a proxy's error page, a wrong endpoint): nothing was
            # sent that we know of; wait and look again.
            return SmsResult(
                outcome="retry",
                detail=f"not an SMS.ru answer (HTTP {response.status_code})",
                vendor_down=True,
            )
        if top != 100:
            return classify(top, str(body.get("status_text", "")))
        entry = (body.get("sms") or {}).get(number)
        if not isinstance(entry, dict) or "status_code" not in entry:
            return SmsResult(outcome="failed", detail="SMS.ru answered without this number")
        result = classify(int(entry["status_code"]), str(entry.get("status_text", "")))
        if result.outcome == "sent":
            return msgspec.structs.replace(result, vendor_id=entry.get("sms_id"))
        return result

    async def aclose(self) -> None:
        await self.http.aclose()


def _retry_after(response: httpx.Response) -> timedelta | None:
    raw = response.headers.get("retry-after", "").strip()
    return timedelta(seconds=int(raw)) if raw.isdigit() else None


def make_sms_sender(settings) -> SmsSender | None:
    """The configured provider, or None: texts are written to the log and marked so."""
    if settings.sms_provider == "smsru":
        return SmsRu(
            api_id=settings.sms_api_id,
            endpoint=settings.sms_endpoint or SMSRU_ENDPOINT,
            sender_name=settings.sms_sender_name,
            timeout=settings.sms_timeout_seconds,
        )
    log.warning("no PLANTRACK_SMS_PROVIDER: SMS will be written to the log, not sent")
    return None
