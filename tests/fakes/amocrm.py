"""A local amoCRM account: API v4 as its documentation shows it — leads read by id (204
with no body for a lead that does not exist), searched by ?query (204 when nothing),
listed by filter[updated_at] (a timestamp: changed after it; or [from]/[to]), ordered by
order[id] or order[updated_at], page and limit (250 at most), `_links.next` while more
pages follow, 204 when the page is empty,
created with /api/v4/leads/complex (a bare array back), Bearer tokens with the
documented 401 problem body, OAuth refresh at /oauth2/access_token (a refresh token
works once), and 429 beyond 7 requests a second, counted as they arrive (a request can
be held up on its way first, as a busy machine holds it).

It also writes the webhooks an account POSTs: form-encoded, `leads[status][N][…]` and
`account[…]`, every value a string.

Money as the documentation shows it: lists (/api/v4/catalogs, type `products`) whose
elements carry SKU and PRICE custom fields, elements linked to a lead with a quantity
(`with=catalog_elements` on a lead, and /api/v4/leads/{id}/links), lead custom fields
(numeric, monetary, text) in `custom_fields_values`, their descriptions
(/api/v4/leads/custom_fields) and the account's currency (/api/v4/account).
"""

import asyncio
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
    currency: str = "RUB"  # the account's, in /api/v4/account
    catalogs: dict[int, dict[str, Any]] = field(default_factory=dict)
    elements: dict[int, dict[str, Any]] = field(default_factory=dict)  # element id -> element
    linked: dict[int, list[tuple[int, int]]] = field(default_factory=dict)  # lead -> (id, qty)
    lead_fields: dict[int, dict[str, Any]] = field(default_factory=dict)  # custom fields
    # lead id -> an older copy the next read of that lead answers with (a lagging read)
    lagging: dict[int, dict[str, Any]] = field(default_factory=dict)
    fail_after: int | None = None  # answer this many more API calls, then go down
    listed: list[dict[str, list[str]]] = field(default_factory=list)  # leads list queries
    # seconds each coming API request is held up on its way before the account counts it
    # (a busy CPU, the network); and when each request was counted (monotonic seconds)
    hold_next: list[float] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _recent: deque = field(default_factory=deque)
    _next_id: int = 23802100

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connection(self) -> dict[str, str]:
        """The integration's settings that reach this account (the rest is the test's)."""
        return {
            "system": "amocrm",
            "base_url": self.base_url,
            "account_id": str(self.account_id),
            "access_token": self.access_token,
        }

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

    def define_field(self, field_id: int, name: str, type_: str, code: str | None = None) -> None:
        """A custom field of leads, as /api/v4/leads/custom_fields lists it."""
        self.lead_fields[field_id] = {
            "id": field_id,
            "name": name,
            "type": type_,
            "code": code,
            "sort": 500,
            "is_api_only": False,
            "entity_type": "leads",
            "is_predefined": False,
            "is_deletable": True,
            "settings": None,
            "remind": None,
            "currency": self.currency if type_ == "monetary" else None,
            "enums": None,
            "required_statuses": [],
            "group_id": None,
            "account_id": self.account_id,
        }

    def set_values(
        self, lead_id: int, field_id: int, values: list[Any], *, at: int | None = None
    ) -> None:
        """A manager fills a lead's custom field; values as amoCRM returns them."""
        spec = self.lead_fields[field_id]
        fields = [
            f
            for f in self.leads[lead_id].get("custom_fields_values") or []
            if f["field_id"] != field_id
        ]
        if values:
            fields.append(
                {
                    "field_id": field_id,
                    "field_name": spec["name"],
                    "field_code": spec["code"],
                    "field_type": spec["type"],
                    "values": [{"value": v} for v in values],
                }
            )
        self.leads[lead_id]["custom_fields_values"] = fields or None
        self.leads[lead_id]["updated_at"] = at or int(time.time())

    def products_list(self) -> int:
        """The account's products list (at most one per account)."""
        for catalog in self.catalogs.values():
            if catalog["type"] == "products":
                return catalog["id"]
        catalog_id = self.new_id() % 100000
        self.catalogs[catalog_id] = {
            "id": catalog_id,
            "name": "Товары",
            "created_by": 0,
            "updated_by": 0,
            "created_at": int(time.time()),
            "updated_at": int(time.time()),
            "sort": 10,
            "type": "products",
            "can_add_elements": True,
            "can_show_in_cards": False,
            "can_link_multiple": True,
            "can_be_deleted": False,
            "sdk_widget_code": None,
            "account_id": self.account_id,
        }
        return catalog_id

    def add_product(self, name: str, price: float, *, sku: str = "") -> int:
        """An element of the products list, with its SKU and PRICE fields."""
        catalog_id = self.products_list()
        element_id = self.new_id()
        fields = [
            {
                "field_id": 900001,
                "field_name": "Цена",
                "field_code": "PRICE",
                "field_type": "price",
                "values": [{"value": price}],
            }
        ]
        if sku:
            fields.insert(
                0,
                {
                    "field_id": 900000,
                    "field_name": "Артикул",
                    "field_code": "SKU",
                    "field_type": "text",
                    "values": [{"value": sku}],
                },
            )
        self.elements[element_id] = {
            "id": element_id,
            "name": name,
            "created_by": 0,
            "updated_by": 0,
            "created_at": int(time.time()),
            "updated_at": int(time.time()),
            "is_deleted": False,
            "custom_fields_values": fields,
            "catalog_id": catalog_id,
            "account_id": self.account_id,
            "_links": {
                "self": {
                    "href": f"{self.base_url}/api/v4/catalogs/{catalog_id}/elements/{element_id}"
                }
            },
        }
        return element_id

    def link(self, lead_id: int, items: list[tuple[int, int]], *, at: int | None = None) -> None:
        """A manager sets the products of a lead: (element id, quantity) pairs."""
        self.linked[lead_id] = list(items)
        self.leads[lead_id]["updated_at"] = at or int(time.time())

    def _lead_view(
        self, lead_id: int, with_: str, *, lagging: bool = True
    ) -> dict[str, Any] | None:
        lead = (self.lagging.pop(lead_id, None) if lagging else None) or self.leads.get(lead_id)
        if lead is None:
            return None
        lead = json.loads(json.dumps(lead))
        if "catalog_elements" in with_.split(","):
            lead.setdefault("_embedded", {})["catalog_elements"] = [
                {
                    "id": element_id,
                    "metadata": {
                        "quantity": quantity,
                        "catalog_id": self.elements[element_id]["catalog_id"],
                        "price_id": 900001,
                    },
                }
                for element_id, quantity in self.linked.get(lead_id, [])
            ]
        return lead

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
            self.arrivals.append(now)
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
            if self.fail_after is not None and path.startswith("/api/"):
                if self.fail_after <= 0:
                    self.down, self.fail_after = True, None
                else:
                    self.fail_after -= 1
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
        with self.lock:
            held = self.hold_next.pop(0) if self.hold_next else 0.0
        if held:
            await asyncio.sleep(held)
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
        query = parse_qs(scope["query_string"].decode())
        if method == "GET" and path.startswith("/api/v4/leads/") and path[14:].isdigit():
            lead = self._lead_view(int(path[14:]), query.get("with", [""])[0])
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
        elif method == "GET" and path == "/api/v4/account":
            await respond(send, 200, self._account(), content_type=HAL)
        elif method == "GET" and path == "/api/v4/leads/custom_fields":
            fields = list(self.lead_fields.values())
            await respond(
                send,
                200,
                {
                    "_total_items": len(fields),
                    "_page": 1,
                    "_page_count": 1,
                    "_links": {"self": {"href": f"{self.base_url}{path}"}},
                    "_embedded": {"custom_fields": fields},
                },
                content_type=HAL,
            )
        elif method == "GET" and path == "/api/v4/catalogs":
            catalogs = list(self.catalogs.values())
            if not catalogs:
                await respond(send, 204)
            else:
                await respond(
                    send, 200, {"_page": 1, "_embedded": {"catalogs": catalogs}}, content_type=HAL
                )
        elif (
            method == "GET"
            and path.startswith("/api/v4/catalogs/")
            and path.endswith("/elements")
            and path.split("/")[4].isdigit()
        ):
            await self._elements(send, int(path.split("/")[4]), query)
        elif (
            method == "GET"
            and path.startswith("/api/v4/leads/")
            and path.endswith("/links")
            and path.split("/")[4].isdigit()
        ):
            lead_id = int(path.split("/")[4])
            links = [
                {
                    "to_entity_id": element_id,
                    "to_entity_type": "catalog_elements",
                    "metadata": {
                        "quantity": quantity,
                        "catalog_id": self.elements[element_id]["catalog_id"],
                    },
                }
                for element_id, quantity in self.linked.get(lead_id, [])
            ]
            await respond(send, 200, {"_embedded": {"links": links}}, content_type=HAL)
        elif method == "GET" and path == "/api/v4/leads" and "query" not in query:
            await self._list(send, query)
        elif method == "GET" and path == "/api/v4/leads":
            search = query.get("query", [""])[0]
            found = [lead for lead in self.leads.values() if search and search in lead["name"]]
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

    async def _list(self, send, query: dict[str, list[str]]) -> None:
        """GET /api/v4/leads: filter[updated_at] (a timestamp, or [from] and [to]), order,
        page and limit; a HAL page with `_links.next` while more follow, 204 past the end."""
        with self.lock:
            self.listed.append(query)
        after = (query.get("filter[updated_at]") or [None])[0]
        start = (query.get("filter[updated_at][from]") or [after])[0]
        end = (query.get("filter[updated_at][to]") or [None])[0]
        found = [
            lead
            for lead in self.leads.values()
            if (start is None or lead["updated_at"] >= int(start))
            and (end is None or lead["updated_at"] <= int(end))
        ]
        key = "updated_at" if "order[updated_at]" in query else "id"
        direction = (query.get(f"order[{key}]") or ["asc"])[0]
        found.sort(key=lambda lead: (lead[key], lead["id"]), reverse=direction == "desc")
        page, chunk, more = _page(found, query)
        if not chunk:
            await respond(send, 204)
            return
        with_ = (query.get("with") or [""])[0]

        def href(n: int) -> dict[str, str]:
            given = {k: v[0] for k, v in query.items() if k != "page"}
            return {"href": f"{self.base_url}/api/v4/leads?{urlencode({**given, 'page': n})}"}

        links = {"self": href(page)}
        if more:
            links["next"] = href(page + 1)
        links["first"] = href(1)
        if page > 1:
            links["prev"] = href(page - 1)
        leads = [self._lead_view(lead["id"], with_, lagging=False) for lead in chunk]
        await respond(
            send,
            200,
            {"_page": page, "_links": links, "_embedded": {"leads": leads}},
            content_type=HAL,
        )

    def _account(self) -> dict[str, Any]:
        """GET /api/v4/account, as the documentation shows it (without `with`)."""
        return {
            "id": self.account_id,
            "name": "Стоматология «Улыбка»",
            "subdomain": self.subdomain,
            "current_user_id": 8375357,
            "country": "RU",
            "currency": self.currency,
            "currency_symbol": {"RUB": "₽", "USD": "$", "EUR": "€"}.get(self.currency, ""),
            "customers_mode": "disabled",
            "is_unsorted_on": True,
            "mobile_feature_version": 0,
            "is_loss_reason_enabled": True,
            "is_helpbot_enabled": False,
            "is_technical_account": False,
            "contact_name_display_order": 1,
            "_links": {"self": {"href": f"{self.base_url}/api/v4/account"}},
        }

    async def _elements(self, send, catalog_id: int, query: dict[str, list[str]]) -> None:
        """GET /api/v4/catalogs/{id}/elements, filter[id][] and page/limit (250 most)."""
        if catalog_id not in self.catalogs:
            await respond(send, 204)
            return
        wanted = {int(i) for i in query.get("filter[id][]", []) if i.isdigit()}
        found = [
            e
            for e in self.elements.values()
            if e["catalog_id"] == catalog_id and (not wanted or e["id"] in wanted)
        ]
        page, chunk, _ = _page(found, query)
        if not chunk:
            await respond(send, 204)
            return
        await respond(
            send, 200, {"_page": page, "_embedded": {"elements": chunk}}, content_type=HAL
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


def _page(found: list, query: dict[str, list[str]]) -> tuple[int, list, bool]:
    """The page a list request asks for (amoCRM: ?page=, ?limit= up to 250), its rows,
    and whether more pages follow."""
    limit = min(int((query.get("limit") or ["50"])[0]), 250)
    page = int((query.get("page") or ["1"])[0])
    return page, found[(page - 1) * limit : page * limit], page * limit < len(found)
