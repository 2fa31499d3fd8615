"""A local Bitrix24 portal: the REST methods our adapter calls, through an incoming
webhook URL (/rest/USER/SECRET/method.json, POST JSON), answering as Bitrix24's
documentation shows — strings for every value, `{"result": …, "time": {…}}`, errors as
`{"error", "error_description"}` (400 "Not found" with an empty code), 401
INVALID_CREDENTIALS for a wrong secret, and a leaky bucket (50 requests, draining 2 a
second) beyond which it answers 503 QUERY_LIMIT_EXCEEDED.

It also writes the events a portal's outgoing webhook would POST to us, byte for byte
as Bitrix24 encodes them (form-encoded, PHP bracket keys, only the id).

Money as the documentation shows it: a deal's product rows (crm.deal.productrows.get:
PRICE per unit after discounts and taxes, QUANTITY, PRODUCT_ID, doubles as numbers and
ids as strings), the catalogue (crm.product.list with CODE and XML_ID), the deal's
fields (crm.deal.fields, custom ones with listLabel), money fields as "45000|RUB", and
the deal's payments (crm.item.payment.list). Setting rows recalculates OPPORTUNITY, as
the portal does unless the amount is manual.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from tests.fakes.server import Running, answer_lost, lifespan, read_body, respond

MSK = timedelta(hours=3)


def bitrix_time(at: datetime) -> str:
    """Bitrix24 writes times in the portal's zone with an offset: 2024-08-30T14:29:00+03:00."""
    return at.astimezone(timezone(MSK)).replace(microsecond=0).isoformat()


def _status(entity: str, status_id: str, name: str, sort: int, semantics: str | None) -> dict:
    """A crm.status.list row as the documentation shows it (all values strings)."""
    extra = {"S": "success", "F": "failure"}.get(semantics or "", "process")
    category = entity.removeprefix("DEAL_STAGE_") if entity.startswith("DEAL_STAGE_") else None
    return {
        "ID": str(1000 + sort),
        "ENTITY_ID": entity,
        "STATUS_ID": status_id,
        "NAME": name,
        "NAME_INIT": name,
        "SORT": str(sort),
        "SYSTEM": "Y" if status_id.split(":")[-1] in ("NEW", "WON", "LOSE") else "N",
        "CATEGORY_ID": category,
        "COLOR": "#39A8EF",
        "SEMANTICS": semantics,
        "EXTRA": {"SEMANTICS": extra, "COLOR": "#39A8EF"},
    }


# The default funnel, a clinic's funnel 1 and lead statuses, as a portal might have them.
STATUSES = [
    _status("DEAL_STAGE", "NEW", "Новая", 10, None),
    _status("DEAL_STAGE", "WON", "Сделка успешна", 60, "S"),
    _status("DEAL_STAGE", "LOSE", "Сделка провалена", 70, "F"),
    _status("DEAL_STAGE_1", "C1:NEW", "Новое направление", 10, None),
    _status("DEAL_STAGE_1", "C1:PREPARATION", "Записан", 20, None),
    _status("DEAL_STAGE_1", "C1:EXECUTING", "Лечение", 30, None),
    _status("DEAL_STAGE_1", "C1:WON", "Лечение завершено", 60, "S"),
    _status("DEAL_STAGE_1", "C1:LOSE", "Отказ", 70, "F"),
    _status("STATUS", "NEW", "Не обработан", 10, None),
    _status("STATUS", "CONVERTED", "Качественный лид", 60, "S"),
    _status("STATUS", "JUNK", "Некачественный лид", 70, "F"),
]
# What a clinic says each stage of funnel 1 means, as the tests connect it to plantrack.
STAGE_MAP = {
    "C1:NEW": {"kind": "received"},
    "C1:PREPARATION": {"kind": "contacted", "outcome": "booked"},
    "C1:EXECUTING": {"kind": "visited"},
    "C1:WON": {"kind": "completed"},
    "C1:LOSE": {"kind": "closed", "reason": "отказ в CRM"},
}


def _field(type_: str, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "isRequired": False,
        "isReadOnly": False,
        "isImmutable": False,
        "isMultiple": False,
        "isDynamic": False,
        "title": title,
        **extra,
    }


# crm.deal.fields' standard fields a money integration looks at (the documentation lists
# more; custom ones are added per portal with user_field()).
DEAL_FIELDS = {
    "ID": _field("integer", "ID", isReadOnly=True),
    "TITLE": _field("string", "Название"),
    "STAGE_ID": _field("crm_status", "Стадия сделки", statusType="DEAL_STAGE"),
    "CURRENCY_ID": _field("crm_currency", "Валюта"),
    "OPPORTUNITY": _field("double", "Сумма"),
    "IS_MANUAL_OPPORTUNITY": _field("char", "IS_MANUAL_OPPORTUNITY"),
    "DATE_MODIFY": _field("datetime", "Дата изменения", isReadOnly=True),
    "MOVED_TIME": _field("datetime", "MOVED_TIME", isReadOnly=True),
    "ORIGINATOR_ID": _field("string", "Внешний источник"),
    "ORIGIN_ID": _field("string", "Идентификатор элемента во внешнем источнике"),
}


@dataclass
class FakeBitrix24:
    user: str = "1"
    secret: str = "w3bh00ks3cr3t"
    application_token: str = "o8kfcne3du24sfvoeahh43uf9oygu2x3"
    member_id: str = "1b87798bc2d16c4b7f2a604e0c899a34"
    bucket_size: float = 50
    drain_per_second: float = 2
    port: int = 0
    deals: dict[int, dict[str, Any]] = field(default_factory=dict)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=lambda: list(STATUSES))
    limited: int = 0  # how many calls were answered QUERY_LIMIT_EXCEEDED
    down: bool = False  # answer `down_status` INTERNAL_SERVER_ERROR to everything
    down_status: int = 500
    refused: int = 0  # calls answered while down
    answers_lost: set[str] = field(default_factory=set)  # methods carried out, never answered
    lock: threading.Lock = field(default_factory=threading.Lock)
    rows: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # deal id -> rows
    products: dict[int, dict[str, Any]] = field(default_factory=dict)
    payments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # deal id -> …
    user_fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # crm.deal.fields
    # deal id -> an older copy the next crm.deal.get answers with (a lagging read)
    lagging: dict[int, dict[str, Any]] = field(default_factory=dict)
    fail_after: int | None = None  # answer this many more calls, then go down
    _level: float = 0.0
    _leaked_at: float = field(default_factory=time.monotonic)
    _next_id: int = 700

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/rest/{self.user}/{self.secret}/"

    def deal_of(self, referral_id: str) -> int:
        """The id of the one deal plantrack made for the referral."""
        found = [d for d in self.deals.values() if d["ORIGIN_ID"] == referral_id]
        assert len(found) == 1, found
        return int(found[0]["ID"])

    def connection(self) -> dict[str, str]:
        """The integration's settings that reach this portal and check its deliveries."""
        return {
            "system": "bitrix24",
            "rest_url": self.rest_url,
            "application_token": self.application_token,
            "member_id": self.member_id,
        }

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- what a person does in the portal ---------------------------------------------

    def new_id(self) -> int:
        with self.lock:
            self._next_id += 1
            return self._next_id

    def add_deal(self, **fields: Any) -> int:
        deal_id = self.new_id()
        now = bitrix_time(datetime.now(UTC))
        self.deals[deal_id] = {
            "ID": str(deal_id),
            "TITLE": f"Deal #{deal_id}",
            "CATEGORY_ID": "0",
            "STAGE_ID": "NEW",
            "STAGE_SEMANTIC_ID": "P",
            "OPPORTUNITY": "0.00",
            "CURRENCY_ID": "RUB",
            "ORIGINATOR_ID": None,
            "ORIGIN_ID": None,
            "DATE_CREATE": now,
            "DATE_MODIFY": now,
            "MOVED_TIME": now,
            "MOVED_BY_ID": "1",
            **{k: (str(v) if isinstance(v, int) else v) for k, v in fields.items()},
        }
        return deal_id

    def move(self, deal_id: int, stage: str, *, at: datetime | None = None, **fields: Any) -> None:
        """A manager drags the deal to `stage` (and maybe fills fields) at `at`."""
        when = bitrix_time(at or datetime.now(UTC))
        deal = self.deals[deal_id]
        if deal["STAGE_ID"] != stage:
            deal["MOVED_TIME"] = when
        deal["STAGE_ID"] = stage
        deal["STAGE_SEMANTIC_ID"] = (
            "S" if stage.endswith("WON") else "F" if "LOSE" in stage else "P"
        )
        deal["DATE_MODIFY"] = when
        deal.update(fields)

    def update(self, deal_id: int, *, at: datetime | None = None, **fields: Any) -> None:
        """A manager edits the deal's fields (not its stage) at `at`."""
        deal = self.deals[deal_id]
        deal["DATE_MODIFY"] = bitrix_time(at or datetime.now(UTC))
        deal.update(fields)

    def add_product(self, name: str, price: float, *, code: str = "", xml_id: str = "") -> int:
        """A product of the portal's catalogue."""
        product_id = self.new_id()
        self.products[product_id] = {
            "ID": str(product_id),
            "CATALOG_ID": "25",
            "NAME": name,
            "CODE": code,
            "XML_ID": xml_id or str(product_id),
            "PRICE": f"{price:.2f}",
            "CURRENCY_ID": "RUB",
            "ACTIVE": "Y",
            "SECTION_ID": None,
            "SORT": "500",
            "VAT_ID": None,
            "VAT_INCLUDED": "Y",
            "MEASURE": "9",
            "DESCRIPTION": None,
        }
        return product_id

    def set_rows(
        self, deal_id: int, rows: list[dict[str, Any]], *, at: datetime | None = None
    ) -> None:
        """A manager saves the deal's product rows: each {"name", "price", "quantity"
        (1), "product_id" (0: free text), "discount" (0, absolute per unit)}."""
        made = []
        for n, given in enumerate(rows):
            product = self.products.get(given.get("product_id") or 0)
            netto = float(given["price"]) + float(given.get("discount", 0))
            made.append(
                {
                    "ID": str(given.get("row_id") or self.new_id()),
                    "OWNER_ID": str(deal_id),
                    "OWNER_TYPE": "D",
                    "PRODUCT_ID": int(given.get("product_id") or 0),
                    "PRODUCT_NAME": given["name"],
                    "ORIGINAL_PRODUCT_NAME": product["NAME"] if product else given["name"],
                    "PRODUCT_DESCRIPTION": None,
                    "PRICE": float(given["price"]),
                    "PRICE_EXCLUSIVE": float(given["price"]),
                    "PRICE_NETTO": netto,
                    "PRICE_BRUTTO": netto,
                    "PRICE_ACCOUNT": f"{float(given['price']):.2f}",
                    "QUANTITY": given.get("quantity", 1),
                    "DISCOUNT_TYPE_ID": 1,
                    "DISCOUNT_RATE": round(100 * float(given.get("discount", 0)) / netto, 2)
                    if netto
                    else 0,
                    "DISCOUNT_SUM": float(given.get("discount", 0)),
                    "TAX_RATE": None,
                    "TAX_INCLUDED": "Y",
                    "CUSTOMIZED": "Y",
                    "MEASURE_CODE": 796,
                    "MEASURE_NAME": "шт",
                    "SORT": 10 * (n + 1),
                    "XML_ID": f"sale_basket_{self.new_id()}",
                    "TYPE": 7,  # a service
                    "STORE_ID": 0,
                    "RESERVE_ID": None,
                    "DATE_RESERVE_END": None,
                    "RESERVE_QUANTITY": 0,
                }
            )
        self.rows[deal_id] = made
        total = sum(r["PRICE"] * r["QUANTITY"] for r in made)
        self.update(deal_id, at=at, OPPORTUNITY=f"{total:.2f}")

    def add_payment(
        self, deal_id: int, amount: float, *, paid: bool = True, at: datetime | None = None
    ) -> int:
        """A payment of the deal (Sales Center), paid or waiting."""
        payment_id = self.new_id()
        when = bitrix_time(at or datetime.now(UTC))
        self.payments.setdefault(deal_id, []).append(
            {
                "id": payment_id,
                "accountNumber": f"{deal_id}/{len(self.payments.get(deal_id, [])) + 1}",
                "paid": "Y" if paid else "N",
                "datePaid": when if paid else None,
                "empPaidId": 1 if paid else None,
                "paySystemId": 6,
                "sum": amount,
                "currency": "RUB",
                "paySystemName": "Наличные",
            }
        )
        return payment_id

    def user_field(self, code: str, label: str, type_: str, *, multiple: bool = False) -> None:
        """A custom deal field, as crm.deal.fields describes it."""
        self.user_fields[code] = {
            "type": type_,
            "isRequired": False,
            "isReadOnly": False,
            "isImmutable": False,
            "isMultiple": multiple,
            "isDynamic": True,
            "title": code,
            "listLabel": label,
            "formLabel": label,
            "filterLabel": label,
        }

    def event(self, name: str, object_id: int, *, token: str | None = None) -> bytes:
        """The body the portal POSTs to an outgoing-webhook handler."""
        return urlencode(
            [
                ("event", name),
                ("event_handler_id", "58"),
                ("data[FIELDS][ID]", str(object_id)),
                ("ts", str(int(time.time()))),
                ("auth[domain]", self.domain),
                ("auth[client_endpoint]", f"http://{self.domain}/rest/"),
                ("auth[server_endpoint]", "https://oauth.bitrix.info/rest/"),
                ("auth[member_id]", self.member_id),
                ("auth[application_token]", token or self.application_token),
            ]
        ).encode()

    def methods_called(self) -> list[str]:
        with self.lock:
            return [m for m, _ in self.calls]

    # --- the REST side ------------------------------------------------------------------

    def _take_from_bucket(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._leaked_at) * self.drain_per_second)
            self._leaked_at = now
            if self._level + 1 > self.bucket_size:
                self.limited += 1
                return False
            self._level += 1
            return True

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        body = await read_body(receive)
        parts = scope["path"].strip("/").split("/")
        if len(parts) != 4 or parts[0] != "rest":
            await respond(
                send,
                404,
                {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
            )
            return
        _, user, secret, method = parts
        if (user, secret) != (self.user, self.secret):
            await respond(
                send,
                401,
                {
                    "error": "INVALID_CREDENTIALS",
                    "error_description": "Invalid request credentials",
                },
            )
            return
        with self.lock:
            if self.fail_after is not None:
                if self.fail_after <= 0:
                    self.down, self.fail_after = True, None
                else:
                    self.fail_after -= 1
        if self.down:
            with self.lock:
                self.refused += 1
            await respond(
                send,
                self.down_status,
                {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"},
            )
            return
        if not self._take_from_bucket():
            await respond(
                send,
                503,
                {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
            )
            return
        params = json.loads(body or b"{}")
        method = method.removesuffix(".json")
        with self.lock:
            self.calls.append((method, params))
        if method in self.answers_lost:
            send = answer_lost(receive)
        status, payload = self.call(method, {k.lower(): v for k, v in params.items()})
        started = time.time()
        if status == 200:
            payload["time"] = {
                "start": started,
                "finish": time.time(),
                "duration": time.time() - started,
                "processing": 0.001,
                "date_start": bitrix_time(datetime.now(UTC)),
                "date_finish": bitrix_time(datetime.now(UTC)),
                "operating": 0,
            }
        await respond(send, status, payload)

    def call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        not_found = (400, {"error": "", "error_description": "Not found"})
        if method in ("crm.deal.get", "crm.lead.get"):
            table = self.deals if method == "crm.deal.get" else self.leads
            item_id = int(params.get("id", 0))
            item = table.get(item_id)
            if method == "crm.deal.get" and item_id in self.lagging:
                item = self.lagging.pop(item_id)
            return (200, {"result": dict(item)}) if item else not_found
        if method == "crm.deal.productrows.get":
            deal_id = int(params.get("id", 0))
            if deal_id not in self.deals:
                return not_found
            return 200, {"result": [dict(r) for r in self.rows.get(deal_id, [])]}
        if method == "crm.product.list":
            return 200, self._list(self.products, params)
        if method == "crm.item.payment.list":
            deal_id = int(params.get("entityid", 0))
            if int(params.get("entitytypeid", 0)) != 2 or deal_id not in self.deals:
                return 400, {"error": 0, "error_description": "Insufficient permissions"}
            return 200, {"result": [dict(p) for p in self.payments.get(deal_id, [])]}
        if method == "crm.deal.fields":
            return 200, {"result": {**DEAL_FIELDS, **self.user_fields}}
        if method in ("crm.deal.list", "crm.contact.list"):
            table = self.deals if method == "crm.deal.list" else self.contacts
            return 200, self._list(table, params)
        if method == "crm.status.list":
            directory = (params.get("filter") or {}).get("ENTITY_ID")
            rows = [dict(r) for r in self.statuses if r["ENTITY_ID"] == directory]
            return 200, {"result": rows, "total": len(rows)}
        if method == "crm.contact.add":
            contact_id = self.new_id()
            self.contacts[contact_id] = {"ID": str(contact_id), **params.get("fields", {})}
            return 200, {"result": contact_id}
        if method == "crm.deal.add":
            fields = dict(params.get("fields", {}))
            category = str(fields.pop("CATEGORY_ID", "0"))
            fields.setdefault("STAGE_ID", "NEW" if category == "0" else f"C{category}:NEW")
            deal_id = self.add_deal(CATEGORY_ID=category, **fields)
            return 200, {"result": deal_id}
        return 404, {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}

    def _list(self, table: dict[int, dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
        rows = sorted(table.values(), key=lambda r: int(r["ID"]))
        for key, value in (params.get("filter") or {}).items():
            if key.startswith(">"):
                since = datetime.fromisoformat(value)
                name = key[1:]
                rows = [r for r in rows if datetime.fromisoformat(r[name]) > since]
            elif isinstance(value, list):
                rows = [r for r in rows if str(r.get(key)) in {str(v) for v in value}]
            else:
                rows = [r for r in rows if str(r.get(key)) == str(value)]
        start = int(params.get("start") or 0)
        page = rows[start : start + 50]
        select = params.get("select") or []
        if select and "*" not in select:
            page = [{k: r.get(k) for k in select} for r in page]
        answer: dict[str, Any] = {"result": page, "total": len(rows)}
        if start + 50 < len(rows):
            answer["next"] = start + 50
        return answer


def running(fake: FakeBitrix24 | None = None) -> Running[FakeBitrix24]:
    return Running(fake or FakeBitrix24())
