"""A local stand-in for SMS.ru's HTTP API, on loopback, answering as SMS.ru documents
(https://sms.ru/api/send, with its list of status codes).

    POST or GET /sms/send   api_id, to (digits, "79255070602"; several comma-separated),
                            msg, json=1, optionally from

With json=1 the answer is

    {"status": "OK", "status_code": 100,
     "sms": {"79255070602": {"status": "OK", "status_code": 100, "sms_id": "000000-10000001"},
             "74993221627": {"status": "ERROR", "status_code": 207, "status_text": "…"}},
     "balance": 4122.56}

and a refused request is {"status": "ERROR", "status_code": 200, "status_text": "…"}
(a wrong api_id). Without json=1: SMS.ru's plain lines ("100", ids, "balance=…").

What it answers is set by the test:

    api_id                   the account's key; another one: 200
    senders                  sender names agreed for `from` (None: any); another one: 204
    codes[number] = code     a number's own answer: 202 (wrong number), 207 (no route),
                             209 (stop list), 230/231 (limits per number), …
    balance, price           roubles on the account and per part; not enough: 201
    identical_per_day        identical texts to one number per day before 232 (None: no limit)
    daily_limit              messages per day for the account, then 206
    unavailable              every request answered 220 ("temporarily unavailable")
    down                     every request answered HTTP 503 (an outage in front of it)
    garbage                  every request answered 200 with an HTML page (a proxy's)
    hang                     accepts a request, reads it, never answers, sends nothing
    hang_after_send          sends the text, then never answers (the ambiguous case)

Kept, thread-safe: `requests` (every form received), `sent` (each text accepted for
sending: number, text, sms_id), `hung` (requests it never answered), `refused` (answers
to requests made while down or unavailable).
"""

import asyncio
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from tests.fakes.server import Running, lifespan, read_body, respond

STATUS_TEXT = {
    200: "Неправильный api_id",
    201: "Не хватает средств на лицевом счету",
    202: "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    203: "Нет текста сообщения",
    204: "Имя отправителя не согласовано с администрацией",
    206: "Будет превышен или уже превышен дневной лимит на отправку сообщений",
    207: "На этот номер нет маршрута для доставки сообщений",
    209: "Вы добавили этот номер (или один из номеров) в стоп-лист",
    220: "Сервис временно недоступен, попробуйте чуть позже",
    230: "Превышен общий лимит количества сообщений на этот номер в день",
    231: "Превышен лимит одинаковых сообщений на этот номер в минуту",
    232: "Превышен лимит одинаковых сообщений на этот номер в день",
}
GSM_PART_CYRILLIC = 67


@dataclass
class SentSms:
    number: str
    text: str
    sms_id: str
    sender: str


@dataclass
class FakeSmsRu:
    api_id: str = "test-api-id"
    senders: set[str] | None = None
    codes: dict[str, int] = field(default_factory=dict)
    balance: float = 1000.0
    price: float = 4.0
    identical_per_day: int | None = None
    daily_limit: int | None = None
    unavailable: bool = False
    down: bool = False
    garbage: bool = False
    hang: bool = False
    hang_after_send: bool = False
    requests: list[dict[str, str]] = field(default_factory=list)
    sent: list[SentSms] = field(default_factory=list)
    hung: list[dict[str, str]] = field(default_factory=list)
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    closing: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def senders_to(self, number: str) -> list[str]:
        """The `from` of each text sent to `number` ("": none, the account's default)."""
        with self.lock:
            return [s.sender for s in self.sent if s.number == number.lstrip("+")]

    def texts_to(self, number: str) -> list[str]:
        with self.lock:
            return [s.text for s in self.sent if s.number == number.lstrip("+")]

    def _parts(self, text: str) -> int:
        return max(1, -(-len(text) // GSM_PART_CYRILLIC)) if len(text) > 70 else 1

    def _error(self, code: int) -> dict:
        return {"status": "ERROR", "status_code": code, "status_text": STATUS_TEXT.get(code, "")}

    def answer(self, form: dict[str, str]) -> dict:
        """SMS.ru's decision for one request (the caller holds no lock)."""
        with self.lock:
            self.requests.append(form)
            if form.get("api_id") != self.api_id:
                return self._error(200)
            text = form.get("msg", "")
            if not text:
                return self._error(203)
            if self.senders is not None and form.get("from", "") not in self.senders | {""}:
                return self._error(204)
            numbers = [n.strip() for n in form.get("to", "").split(",") if n.strip()]
            cost = self._parts(text) * self.price * len(numbers)
            if self.balance < cost:
                return self._error(201)
            if self.daily_limit is not None and len(self.sent) + len(numbers) > self.daily_limit:
                return self._error(206)
            per_number: dict[str, dict] = {}
            for number in numbers:
                code = self.codes.get(number, 100)
                if not number.isdigit() or not 11 <= len(number) <= 15:
                    code = 202
                same = sum(1 for s in self.sent if s.number == number and s.text == text)
                if (
                    code == 100
                    and self.identical_per_day is not None
                    and same >= self.identical_per_day
                ):
                    code = 232
                if code != 100:
                    per_number[number] = self._error(code)
                    continue
                sms_id = f"{len(self.sent) + 1:06d}-{10000000 + len(self.sent)}"
                self.sent.append(SentSms(number, text, sms_id, form.get("from", "")))
                self.balance -= self._parts(text) * self.price
                per_number[number] = {"status": "OK", "status_code": 100, "sms_id": sms_id}
            return {
                "status": "OK",
                "status_code": 100,
                "sms": per_number,
                "balance": round(self.balance, 2),
            }

    async def _never_answer(self, form: dict[str, str]) -> None:
        with self.lock:
            self.hung.append(form)
        # The switches are flipped from the test's thread: polled, not an asyncio.Event.
        while not self.closing and (self.hang or self.hang_after_send):  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        # Released (switched off, or shutting down): the caller gave up long ago.

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body = await read_body(receive)
        if scope["path"] != "/sms/send":
            await respond(send, 404, {"status": "ERROR", "status_code": 211})
            return
        query = scope.get("query_string", b"").decode()
        raw = {**parse_qs(query), **parse_qs(body.decode(errors="replace"))}
        form = {k: v[-1] for k, v in raw.items()}
        if self.down:
            with self.lock:
                self.refused += 1
            await respond(send, 503, None)
            return
        if self.garbage:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"text/html")],
                }
            )
            await send({"type": "http.response.body", "body": b"<html>Sign in to Wi-Fi</html>"})
            return
        if self.unavailable:
            with self.lock:
                self.refused += 1
            await respond(send, 200, self._error(220))
            return
        if self.hang:
            await self._never_answer(form)
            return
        payload = self.answer(form)
        if self.hang_after_send:
            await self._never_answer(form)
            return
        if form.get("json") == "1":
            await respond(send, 200, payload)
            return
        lines = [str(payload["status_code"])]
        for entry in payload.get("sms", {}).values():
            lines.append(entry.get("sms_id") or str(entry["status_code"]))
        if "balance" in payload:
            lines.append(f"balance={payload['balance']}")
        raw_text = "\n".join(lines).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": raw_text})


class RunningSmsRu(Running[FakeSmsRu]):
    def __exit__(self, *exc) -> None:
        self.fake.closing = True  # let hung requests go, so the server can stop
        super().__exit__(*exc)


def running_smsru(fake: FakeSmsRu | None = None) -> RunningSmsRu:
    """The fake SMS.ru in a uvicorn server on its own thread and loop."""
    return RunningSmsRu(fake or FakeSmsRu())
