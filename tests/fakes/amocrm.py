"""A local amoCRM account: API v4 as its documentation shows it — leads read by id (204
with no body for a lead that does not exist), searched by ?query (204 when nothing),
created with /api/v4/leads/complex (a bare array back), Bearer tokens with the
documented 401 problem body, OAuth refresh at /oauth2/access_token (a refresh token
works once), and 429 beyond 7 requests a second.

It also writes the webhooks an account POSTs: form-encoded, `leads[status][N][…]` and
`account[…]`, every value a string.
"""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from tests.fakes.server import Running, answer_lost, lifespan, read_body, respond

UNAUTHORIZED = {
    "title": "Unauthorized",
    "type": "https://httpstatus.es/401",
    "status": 401,
    "detail": "Invalid user name or password",
}
HAL = "application/hal+json"


@dataclass
class FakeAmoCrm:
    account_id: int = 29013640
    subdomain: str = "smile"
    pipeline_id: int = 5389528
    first_status: int = 47888833
    access_token: str = "amo-access-token-1"
    refresh_token: str | None = None
    client_id: str = "7f1c2d3e-0000-4000-8000-000000000001"
    client_secret: str = "amo-client-secret"
    per_second: int = 7
    port: int = 0
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    # pipeline id -> (status id, name) in order; 142/143 are in every pipeline
    pipelines: dict[int, list[tuple[int, str]]] = field(
        default_factory=lambda: {
            5389528: [
                (47888830, "Неразобранное"),
                (47888833, "Первичный контакт"),
                (47888834, "Записан на приём"),
                (47888835, "Пришёл на приём"),
                (142, "Успешно реализовано"),
                (143, "Закрыто и не реализовано"),
            ]
        }
    )
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    limited: int = 0
    throttle_next: int = 0  # answer this many coming requests 429, as a busy account does
    down: bool = False  # an outage: every API call answered 503
    gone_status: int = 204  # the documented answer for a lead that is not there; or 404
    # (method, path) carried out but never answered, e.g. ("POST", "/api/v4/leads/complex")
    answers_lost: set[tuple[str, str]] = field(default_factory=set)
    refused: int = 0  # calls answered while down
    lock: threading.Lock = field(default_factory=threading.Lock)
    _recent: deque = field(default_factory=deque)
    _next_id: int = 23802100

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    # --- what a person does in the account ----------------------------------------------

    def move(self, lead_id: int, status_id: int, *, pipeline_id: int | None = None, **extra) -> int:
        """A manager drags the lead; returns its old status."""
        lead = self.leads[lead_id]
        old = lead["status_id"]
        lead["status_id"] = status_id
        lead["pipeline_id"] = pipeline_id or lead["pipeline_id"]
        lead["updated_at"] = int(time.time())
        for name, value in extra.items():
            lead[name] = value
        return old

    def set_field(self, lead_id: int, field_id: int, value: Any) -> None:
        fields = self.leads[lead_id].setdefault("custom_fields_values", None) or []
        fields = [f for f in fields if f["field_id"] != field_id]
        fields.append(
            {
                "field_id": field_id,
                "field_name": "Дата визита",
                "field_code": None,
                "field_type": "date_time",
                "values": [{"value": value}],
            }
        )
        self.leads[lead_id]["custom_fields_values"] = fields

    def webhook(self, *moves: tuple[int, int], account_id: int | None = None) -> bytes:
        """A status-change delivery for (lead id, old status) pairs, as amoCRM sends it."""
        pairs: list[tuple[str, str]] = []
        for n, (lead_id, old_status) in enumerate(moves):
            lead = self.leads.get(lead_id, {"name": "", "status_id": 0, "pipeline_id": 0})
            prefix = f"leads[status][{n}]"
            pairs += [
                (f"{prefix}[id]", str(lead_id)),
                (f"{prefix}[name]", lead["name"]),
                (f"{prefix}[status_id]", str(lead["status_id"])),
                (f"{prefix}[old_status_id]", str(old_status)),
                (f"{prefix}[pipeline_id]", str(lead["pipeline_id"])),
                (f"{prefix}[old_pipeline_id]", str(lead["pipeline_id"])),
                (f"{prefix}[account_id]", str(self.account_id)),
            ]
        pairs += [
            ("account[subdomain]", self.subdomain),
            ("account[id]", str(account_id or self.account_id)),
            ("account[_links][self]", f"https://{self.subdomain}.amocrm.ru"),
        ]
        return urlencode(pairs).encode()

    # --- the API ------------------------------------------------------------------------

    def _over_limit(self) -> bool:
        with self.lock:
            now = time.monotonic()
            while self._recent and now - self._recent[0] > 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.per_second or self.throttle_next > 0:
                self.throttle_next = max(0, self.throttle_next - 1)
                self.limited += 1
                return True
            self._recent.append(now)
            return False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body = await read_body(receive)
        path, method = scope["path"], scope["method"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self.lock:
            self.requests.append((method, path))
        if (method, path) in self.answers_lost:
            send = answer_lost(receive)
        if self.down:
            with self.lock:
                self.refused += 1
            await respond(
                send,
                503,
                {"title": "Service Unavailable", "status": 503, "detail": "Try again later"},
                content_type="application/problem+json",
            )
            return
        if path == "/oauth2/access_token" and method == "POST":
            await self._refresh(send, json.loads(body))
            return
        if headers.get("authorization") != f"Bearer {self.access_token}":
            await respond(send, 401, UNAUTHORIZED, content_type="application/problem+json")
            return
        if self._over_limit():
            await respond(
                send,
                429,
                {
                    "title": "Too Many Requests",
                    "type": "https://httpstatus.es/429",
                    "status": 429,
                    "detail": "Too many requests",
                    "retry_after": 1,
                },
                content_type="application/problem+json",
            )
            return
        if method == "GET" and path.startswith("/api/v4/leads/") and path[14:].isdigit():
            lead = self.leads.get(int(path[14:]))
            if lead:
                await respond(send, 200, lead, content_type=HAL)
            elif self.gone_status == 404:
                await respond(
                    send,
                    404,
                    {"title": "Not Found", "type": "https://httpstatus.es/404", "status": 404},
                    content_type="application/problem+json",
                )
            else:
                await respond(send, self.gone_status)
        elif method == "GET" and path == "/api/v4/leads":
            query = parse_qs(scope["query_string"].decode()).get("query", [""])[0]
            found = [lead for lead in self.leads.values() if query and query in lead["name"]]
            if not found:
                await respond(send, 204)
            else:
                await respond(
                    send, 200, {"_page": 1, "_embedded": {"leads": found}}, content_type=HAL
                )
        elif method == "GET" and path.startswith("/api/v4/leads/pipelines/"):
            pipeline = path.rsplit("/", 1)[-1]
            if pipeline.isdigit() and int(pipeline) in self.pipelines:
                await respond(send, 200, self._pipeline(int(pipeline)), content_type=HAL)
            else:
                await respond(send, 204)
        elif method == "POST" and path == "/api/v4/leads/complex":
            await respond(send, 200, self._complex(json.loads(body)), content_type=HAL)
        else:
            await respond(
                send,
                404,
                {"title": "Not Found", "type": "https://httpstatus.es/404", "status": 404},
            )

    def _pipeline(self, pipeline_id: int) -> dict[str, Any]:
        """GET /api/v4/leads/pipelines/{id}, as the documentation shows it."""
        statuses = [
            {
                "id": status_id,
                "name": name,
                "sort": 10 * (n + 1),
                "is_editable": status_id not in (142, 143),
                "pipeline_id": pipeline_id,
                "color": "#99ccff",
                "type": 1 if n == 0 else 0,
                "account_id": self.account_id,
                "_links": {
                    "self": {
                        "href": f"{self.base_url}/api/v4/leads/pipelines/"
                        f"{pipeline_id}/statuses/{status_id}"
                    }
                },
            }
            for n, (status_id, name) in enumerate(self.pipelines[pipeline_id])
        ]
        return {
            "id": pipeline_id,
            "name": "Воронка",
            "sort": 1,
            "is_main": True,
            "is_unsorted_on": True,
            "is_archive": False,
            "account_id": self.account_id,
            "_links": {"self": {"href": f"{self.base_url}/api/v4/leads/pipelines/{pipeline_id}"}},
            "_embedded": {"statuses": statuses},
        }

    def _complex(self, leads: list[dict[str, Any]]) -> list[dict[str, Any]]:
        created = []
        for given in leads:
            lead_id = self.new_id()
            contact_ids = []
            for contact in (given.get("_embedded") or {}).get("contacts", []):
                contact_id = self.new_id()
                self.contacts[contact_id] = {"id": contact_id, **contact}
                contact_ids.append(contact_id)
            now = int(time.time())
            self.leads[lead_id] = {
                "id": lead_id,
                "name": given.get("name", ""),
                "price": given.get("price", 0),
                "status_id": given.get("status_id", self.first_status),
                "pipeline_id": given.get("pipeline_id", self.pipeline_id),
                "created_at": now,
                "updated_at": now,
                "custom_fields_values": given.get("custom_fields_values"),
                "account_id": self.account_id,
                "_embedded": {
                    "tags": (given.get("_embedded") or {}).get("tags", []),
                    "contacts": [{"id": c, "is_main": True} for c in contact_ids],
                },
            }
            created.append(
                {
                    "id": lead_id,
                    "contact_id": contact_ids[0] if contact_ids else None,
                    "company_id": None,
                    "request_id": [given.get("request_id", "0")],
                    "merged": False,
                }
            )
        return created

    async def _refresh(self, send, given: dict[str, Any]) -> None:
        ok = (
            given.get("grant_type") == "refresh_token"
            and given.get("client_id") == self.client_id
            and given.get("client_secret") == self.client_secret
            and self.refresh_token is not None
            and given.get("refresh_token") == self.refresh_token
        )
        if not ok:
            await respond(
                send,
                400,
                {
                    "hint": "Invalid refresh token",
                    "title": "Некорректный запрос",
                    "type": "https://developers.amocrm.ru/v3/errors/OAuthProblemJson",
                    "status": 400,
                    "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
                },
            )
            return
        n = self.new_id()
        self.access_token, self.refresh_token = f"amo-access-{n}", f"amo-refresh-{n}"
        await respond(
            send,
            200,
            {
                "token_type": "Bearer",
                "expires_in": 86400,
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
            },
        )


def running(fake: FakeAmoCrm | None = None) -> Running[FakeAmoCrm]:
    return Running(fake or FakeAmoCrm())
