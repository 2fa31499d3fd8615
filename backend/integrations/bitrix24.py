"""Bitrix24: outgoing-webhook events in, REST calls out through the clinic's incoming
webhook (https://PORTAL/rest/USER/SECRET/method.json, POST JSON).

An event is a form-encoded POST carrying only `data[FIELDS][ID]` and the portal's
`auth[application_token]` (+ `auth[member_id]`); the deal or lead itself is read over
REST. Bitrix24 never re-sends a failed event, so `recently_changed` lists our deals
modified since the last sync and the worker reconciles on a schedule. Rate limit: a
leaky bucket of 50 requests draining 2 per second per portal; beyond it 503
QUERY_LIMIT_EXCEEDED.

Money, for our deals: the product rows (crm.deal.productrows.get: PRODUCT_NAME, PRICE
per unit after discounts and taxes, QUANTITY, PRODUCT_ID), the products' codes
(crm.product.list: CODE, else XML_ID), OPPORTUNITY and CURRENCY_ID, a money field with
the amount paid so far ("45000|RUB"), a field listing the rows that are done, and, when
asked, the deal's payments (crm.item.payment.list, entityTypeId 2).
"""

import hmac
import re
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
import msgspec
from babel.numbers import get_currency_precision

from backend.domain.crm_money import CrmMoney, CrmPayment, CrmRow, tooth_of
from backend.domain.events import Source
from backend.integrations.base import (
    Adapter,
    Catalog,
    CatalogProduct,
    Change,
    Connection,
    CrmField,
    CrmRejected,
    CrmStage,
    CrmTask,
    CrmUnavailable,
    MalformedDelivery,
    OutboundReferral,
    stage_change,
    unreadable,
)
from backend.integrations.forms import delivery_form, form_part
from backend.integrations.money import BadMoney, bitrix_money, decimal_of, minor_units
from backend.integrations.vendor_http import json_or_none, limiter, send

ORIGINATOR = "plantrack"  # ORIGINATOR_ID of the deals we create; ORIGIN_ID is the referral id
DEAL_EVENTS = {"ONCRMDEALADD", "ONCRMDEALUPDATE"}
LEAD_EVENTS = {"ONCRMLEADADD", "ONCRMLEADUPDATE"}
LEAD_PREFIX = "LEAD:"  # lead statuses share names with default-pipeline deal stages
SEMANTICS = {"S": "success", "F": "failure"}  # crm.status.list; null or "" is in progress
PAGE = 50  # Bitrix24 list methods return 50 rows a page, always
# One reconcile pass reads at most 10 000 of our deals (as amoCRM's): a pass that would
# read more fails visibly instead of moving the sync time past deals it did not read.
MAX_PAGES = 200
CATALOG_PAGES = 4  # the stages view lists the first 200 products (and how many there are)
FIELD_SETTINGS = ("appointment_at", "paid_amount", "done_rows")  # fields read from a deal
DEAL = 2  # the deal's entityTypeId in the universal methods (crm.item.payment.list)


class NotInCrm(Exception):
    """The object was deleted (Bitrix24 answers 400 "Not found")."""


def parse_time(value: Any, tz: str) -> datetime | None:
    """Bitrix24 datetimes are ISO 8601 with an offset; a bare one is the clinic's time."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(tz))


class Bitrix24(Adapter):
    system = "bitrix24"
    source = Source.bitrix24
    path = "bitrix24"
    crm = True

    def authenticate(self, conn: Connection, headers: dict[str, str], body: bytes) -> bool:
        auth = form_part(body, "auth")
        if auth is None:
            return False
        token = str(auth.get("application_token", ""))
        ok = hmac.compare_digest(token.encode(), conn.secrets["application_token"].encode())
        if member := conn.config.get("member_id"):
            ok &= hmac.compare_digest(str(auth.get("member_id", "")).encode(), member.encode())
        return ok

    def delivery_key(self, headers: dict[str, str], body: bytes) -> str | None:
        return None  # events carry no id of their own; claims are keyed by deal state

    async def changes(
        self, conn: Connection, headers: dict[str, str], body: bytes, http: httpx.AsyncClient
    ) -> list[Change]:
        form = delivery_form(body)
        event = str(form.get("event", "")).upper()
        data = form.get("data")
        fields = data.get("FIELDS") if isinstance(data, dict) else None
        object_id = fields.get("ID") if isinstance(fields, dict) else None
        if not isinstance(object_id, str) or not object_id.isdigit():
            raise MalformedDelivery("no data[FIELDS][ID] in the event")
        if event in DEAL_EVENTS:
            entity = "deal"
        elif event in LEAD_EVENTS:
            entity = "lead"
        else:
            return [Change(external_id=f"event:{event}", note=f"event {event} is not handled")]
        try:
            item = await self.call(conn, http, f"crm.{entity}.get", {"id": int(object_id)})
            change = self.change_of(conn, entity, item)
            if entity == "deal" and change.referral_id is not None:
                money = await self.read_money(conn, http, item)
                change = msgspec.structs.replace(change, money=money)
        except NotInCrm:
            return [Change(external_id=f"{entity}:{object_id}", note=f"{entity} not found")]
        return [change]

    def change_of(self, conn: Connection, entity: str, item: dict[str, Any]) -> Change:
        tz = conn.config.get("timezone", "Europe/Moscow")
        if entity == "deal":
            stage = str(item.get("STAGE_ID") or "")
        else:
            stage = LEAD_PREFIX + str(item.get("STATUS_ID") or "")
        appointment_field = conn.config.get("fields", {}).get("appointment_at")
        return stage_change(
            conn,
            external_id=f"{entity}:{item.get('ID')}",
            stage=stage,
            occurred_at=parse_time(item.get("MOVED_TIME") or item.get("DATE_MODIFY"), tz),
            appointment_at=parse_time(item.get(appointment_field), tz)
            if appointment_field
            else None,
            referral_id=_our_referral(item),
        )

    async def recently_changed(
        self, conn: Connection, since: datetime, http: httpx.AsyncClient
    ) -> list[Change]:
        """Our deals modified after `since` (oldest id first), as changes."""
        select = ["ID", "STAGE_ID", "CATEGORY_ID", "ORIGIN_ID", "ORIGINATOR_ID"]
        select += ["DATE_MODIFY", "MOVED_TIME", "OPPORTUNITY", "CURRENCY_ID"]
        fields = conn.config.get("fields", {})
        select += [fields[f] for f in FIELD_SETTINGS if fields.get(f)]
        changes: list[Change] = []
        start: int | None = 0
        for _ in range(MAX_PAGES):
            page = await self.call(
                conn,
                http,
                "crm.deal.list",
                {
                    "filter": {">DATE_MODIFY": since.isoformat(), "ORIGINATOR_ID": ORIGINATOR},
                    "select": select,
                    "order": {"ID": "ASC"},
                    "start": start,
                },
                whole=True,
            )
            for item in page.get("result") or []:
                change = self.change_of(conn, "deal", item)
                if change.referral_id is not None:
                    money = await self.read_money(conn, http, item)
                    change = msgspec.structs.replace(change, money=money)
                changes.append(change)
            start = page.get("next")
            if start is None:
                return changes
        raise CrmRejected(
            f"more than {MAX_PAGES * 50} deals changed since {since.isoformat()}; not reconciled"
        )

    async def push_referral(
        self, conn: Connection, referral: OutboundReferral, http: httpx.AsyncClient
    ) -> str:
        origin = {"ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": str(referral.referral_id)}
        # A retry after a crash must not make a second deal: look for ours first.
        found = await self.call(
            conn, http, "crm.deal.list", {"filter": origin, "select": ["ID"]}, whole=True
        )
        if found.get("result"):
            return f"deal:{found['result'][0]['ID']}"
        contacts = await self.call(
            conn, http, "crm.contact.list", {"filter": origin, "select": ["ID"]}, whole=True
        )
        if contacts.get("result"):
            contact_id = int(contacts["result"][0]["ID"])
        else:
            contact_id = await self.call(
                conn,
                http,
                "crm.contact.add",
                {
                    "fields": {
                        "NAME": referral.patient_name,
                        "PHONE": [{"VALUE": referral.patient_phone, "VALUE_TYPE": "MOBILE"}],
                        **origin,
                    },
                    "params": {"REGISTER_SONET_EVENT": "N"},
                },
            )
        fields: dict[str, Any] = {
            "TITLE": f"Направление {referral.invite_code}: {referral.patient_name}",
            "OPPORTUNITY": _major_units(referral.estimated_amount, referral.currency),
            "CURRENCY_ID": referral.currency,
            "CONTACT_IDS": [contact_id],
            "COMMENTS": referral.summary,
            **origin,
        }
        if conn.config.get("category_id") is not None:
            fields["CATEGORY_ID"] = conn.config["category_id"]
        deal_id = await self.call(
            conn,
            http,
            "crm.deal.add",
            {"fields": fields, "params": {"REGISTER_SONET_EVENT": "N"}},
        )
        return f"deal:{deal_id}"

    async def stages(self, conn: Connection, http: httpx.AsyncClient) -> list[CrmStage]:
        """The stages of every pipeline the map or the config names, from crm.status.list
        (directories DEAL_STAGE, DEAL_STAGE_<n> for pipeline n, STATUS for leads)."""
        directories = {"DEAL_STAGE"}
        if conn.config.get("category_id"):
            directories.add(f"DEAL_STAGE_{conn.config['category_id']}")
        for key in conn.config.get("stage_map", {}):
            if key.startswith(LEAD_PREFIX):
                directories.add("STATUS")
            elif match := re.match(r"C(\d+):", key):
                directories.add(f"DEAL_STAGE_{match.group(1)}")
        found: list[CrmStage] = []
        for directory in sorted(directories):
            rows = await self.call(
                conn,
                http,
                "crm.status.list",
                {"order": {"SORT": "ASC"}, "filter": {"ENTITY_ID": directory}},
            )
            prefix = LEAD_PREFIX if directory == "STATUS" else ""
            found += [
                CrmStage(
                    key=prefix + str(row["STATUS_ID"]),
                    name=str(row.get("NAME") or ""),
                    semantics=SEMANTICS.get(row.get("SEMANTICS") or "", "process"),
                )
                for row in rows or []
            ]
        return found

    async def read_money(
        self, conn: Connection, http: httpx.AsyncClient, deal: dict[str, Any]
    ) -> CrmMoney:
        """money_of, with a refusal by the portal kept as the money's problem (the stage
        is still recorded); an outage still means: try the whole change again later."""
        try:
            return await self.money_of(conn, http, deal)
        except (CrmRejected, NotInCrm) as exc:
            deal_id = deal.get("ID")
            return unreadable(
                f"Битрикс24, сделка {deal_id}", f"Bitrix24 deal {deal_id}", f"money: {exc}"
            )

    async def money_of(
        self, conn: Connection, http: httpx.AsyncClient, deal: dict[str, Any]
    ) -> CrmMoney:
        """What the deal says about money, read and parsed; what cannot be read is kept in
        `problems` (refused and shown), never guessed."""
        config, fields = conn.config, conn.config.get("fields", {})
        tz = config.get("timezone", "Europe/Moscow")
        deal_id = int(deal["ID"])
        problems: list[str] = []
        currency = str(deal.get("CURRENCY_ID") or "").upper() or None
        rows_mean = config.get("product_rows", "plan")
        rows: tuple[CrmRow, ...] = ()
        if rows_mean != "off":
            found = await self.call(conn, http, "crm.deal.productrows.get", {"id": deal_id})
            rows = await self._rows(conn, http, found or [], currency, problems)
        amount = _amount(deal.get("OPPORTUNITY"), currency, "OPPORTUNITY", problems)
        paid_total = paid_currency = None
        if field := fields.get("paid_amount"):
            try:
                parsed = bitrix_money(deal.get(field))
            except BadMoney as exc:
                problems.append(f"{field}: {exc}")
            else:
                paid_total, paid_currency = parsed if parsed else (0, currency)
        payments = None
        if config.get("read_payments"):
            payments = await self._payments(conn, http, deal_id, problems)
        return CrmMoney(
            label_ru=f"Битрикс24, сделка {deal_id}",
            label_en=f"Bitrix24 deal {deal_id}",
            state_at=parse_time(deal.get("DATE_MODIFY"), tz),
            stage_at=parse_time(deal.get("MOVED_TIME"), tz),
            rows_mean=rows_mean,
            currency=currency,
            rows=rows,
            amount=amount,
            paid_total=paid_total,
            paid_currency=paid_currency,
            payments=payments,
            done_refs=_listed(deal.get(fields["done_rows"])) if fields.get("done_rows") else (),
            problems=tuple(problems),
        )

    async def _rows(
        self,
        conn: Connection,
        http: httpx.AsyncClient,
        found: list[dict[str, Any]],
        currency: str | None,
        problems: list[str],
    ) -> tuple[CrmRow, ...]:
        product_ids = sorted({int(r["PRODUCT_ID"]) for r in found if int(r.get("PRODUCT_ID") or 0)})
        codes: dict[int, str] = {}
        if product_ids:
            products = await self.call(
                conn,
                http,
                "crm.product.list",
                {"filter": {"ID": product_ids}, "select": ["ID", "CODE", "XML_ID"]},
            )
            codes = {int(p["ID"]): _code(p) for p in products or []}
        rows: list[CrmRow] = []
        for row in found:
            name = str(row.get("PRODUCT_NAME") or "").strip()
            try:
                if currency is None:
                    raise BadMoney("the deal has no CURRENCY_ID")
                quantity = row.get("QUANTITY") or 0
                price = minor_units(
                    decimal_of(row.get("PRICE")) * decimal_of(quantity), currency, rounding=True
                )
            except BadMoney as exc:
                problems.append(f"row {row.get('ID')} «{name}»: {exc}")
                continue
            rows.append(
                CrmRow(
                    ref=str(row.get("ID")),
                    title=name,
                    price=price,
                    code=codes.get(int(row.get("PRODUCT_ID") or 0), ""),
                    tooth=tooth_of(name) or tooth_of(str(row.get("PRODUCT_DESCRIPTION") or "")),
                )
            )
        return tuple(rows)

    async def _payments(
        self, conn: Connection, http: httpx.AsyncClient, deal_id: int, problems: list[str]
    ) -> tuple[CrmPayment, ...]:
        found = await self.call(
            conn, http, "crm.item.payment.list", {"entityId": deal_id, "entityTypeId": DEAL}
        )
        tz = conn.config.get("timezone", "Europe/Moscow")
        payments: list[CrmPayment] = []
        for p in found or []:
            currency = str(p.get("currency") or "").upper()
            try:
                amount = minor_units(p.get("sum"), currency)
            except (BadMoney, ValueError) as exc:
                problems.append(f"payment {p.get('id')}: {exc}")
                continue
            payments.append(
                CrmPayment(
                    ref=str(p.get("id")),
                    amount=amount,
                    currency=currency,
                    paid=p.get("paid") == "Y",
                    paid_at=parse_time(p.get("datePaid"), tz),
                )
            )
        return tuple(payments)

    async def fields(self, conn: Connection, http: httpx.AsyncClient) -> list[CrmField]:
        """The deal's fields (crm.deal.fields): custom ones by their label."""
        found = await self.call(conn, http, "crm.deal.fields", {}) or {}
        return [
            CrmField(
                key=key,
                name=str(f.get("listLabel") or f.get("formLabel") or f.get("title") or key),
                type=str(f.get("type") or ""),
                multiple=bool(f.get("isMultiple")),
            )
            for key, f in found.items()
            if isinstance(f, dict)
        ]

    async def catalog(self, conn: Connection, http: httpx.AsyncClient) -> Catalog:
        """The first products of the portal's catalogue (crm.product.list), with the
        catalogue's size as the portal counts it."""
        found: list[CatalogProduct] = []
        start: int | None = 0
        total: int | None = None
        for _ in range(CATALOG_PAGES):
            page = await self.call(
                conn,
                http,
                "crm.product.list",
                {
                    "order": {"ID": "ASC"},
                    "select": ["ID", "NAME", "CODE", "XML_ID", "PRICE", "CURRENCY_ID"],
                    "start": start,
                },
                whole=True,
            )
            for p in page.get("result") or []:
                currency = str(p.get("CURRENCY_ID") or "").upper() or None
                price = _amount(p.get("PRICE"), currency, "PRICE", [], rounding=True)
                found.append(
                    CatalogProduct(
                        ref=str(p.get("ID")),
                        name=str(p.get("NAME") or ""),
                        code=_code(p),
                        price=price,
                        currency=currency,
                    )
                )
            if isinstance(page.get("total"), int):
                total = page["total"]
            start = page.get("next")
            if start is None:
                break
        truncated = start is not None
        if total is None and not truncated:
            total = len(found)
        return Catalog(products=found, total=total, truncated=truncated)

    async def add_task(self, conn: Connection, http: httpx.AsyncClient, task: CrmTask) -> str:
        """`tasks.task.add` with TITLE, DESCRIPTION, RESPONSIBLE_ID, DEADLINE and
        UF_CRM_TASK (`D_<deal>` / `L_<lead>`), after `tasks.task.list` found no task
        with the marker in its title."""
        found = await self.call(
            conn,
            http,
            "tasks.task.list",
            {"filter": {"%TITLE": task.marker}, "select": ["ID", "TITLE"]},
        )
        for existing in (found or {}).get("tasks", []) if isinstance(found, dict) else []:
            if task.marker in str(existing.get("title") or existing.get("TITLE") or ""):
                return str(existing.get("id") or existing.get("ID"))
        responsible = task.responsible or _webhook_user(conn)
        result = await self.call(
            conn,
            http,
            "tasks.task.add",
            {
                "fields": {
                    "TITLE": f"{task.title} ({task.marker})",
                    "DESCRIPTION": task.description,
                    "RESPONSIBLE_ID": int(responsible)
                    if str(responsible).isdigit()
                    else responsible,
                    "DEADLINE": task.deadline.isoformat(),
                    "UF_CRM_TASK": [_task_owner(task.external_id)],
                }
            },
        )
        created = (result or {}).get("task") if isinstance(result, dict) else None
        if not isinstance(created, dict) or "id" not in created:
            raise CrmRejected(f"Bitrix24 tasks.task.add answered {str(result)[:200]}")
        return str(created["id"])

    async def call(
        self,
        conn: Connection,
        http: httpx.AsyncClient,
        method: str,
        params: dict[str, Any],
        *,
        whole: bool = False,
    ) -> Any:
        """One REST method; its `result` (or the whole answer, for list paging)."""
        base = conn.secrets["rest_url"].rstrip("/") + "/"
        # Bitrix24 counts requests per portal: every call to it shares one bucket.
        gate = limiter(f"bitrix24:{httpx.URL(base).host}", 50, 25)
        response = await send(http, gate, "POST", f"{base}{method}.json", json=params)
        answer = json_or_none(response)
        error = answer.get("error") if isinstance(answer, dict) else None
        description = answer.get("error_description", "") if isinstance(answer, dict) else ""
        if error == "QUERY_LIMIT_EXCEEDED":
            raise CrmUnavailable("Bitrix24 rate limit (QUERY_LIMIT_EXCEEDED)", retry_after=2.0)
        if error == "OPERATION_TIME_LIMIT" or response.status_code == 429:
            reset = (answer.get("time") or {}).get("operating_reset_at") if answer else None
            wait = max(1.0, float(reset) - datetime.now().timestamp()) if reset else 60.0
            raise CrmUnavailable("Bitrix24 method time limit", retry_after=wait)
        if response.status_code >= 500:
            raise CrmUnavailable(f"Bitrix24 answered {response.status_code} {error or ''}".strip())
        if error is not None or response.status_code >= 400 or not isinstance(answer, dict):
            if description == "Not found":
                raise NotInCrm(method)
            raise CrmRejected(
                f"Bitrix24 {method}: {response.status_code} {error or ''} {description}".strip()
            )
        return answer if whole else answer.get("result")


def _task_owner(external_id: str) -> str:
    entity, _, number = external_id.partition(":")
    return {"deal": "D", "lead": "L"}[entity] + "_" + number


def _webhook_user(conn: Connection) -> str:
    """The incoming webhook's own user (…/rest/<USER>/<SECRET>/) answers if nobody is named."""
    match = re.search(r"/rest/(\d+)/", conn.secrets.get("rest_url", ""))
    return match.group(1) if match else "1"


def _our_referral(item: dict[str, Any]) -> UUID | None:
    if item.get("ORIGINATOR_ID") != ORIGINATOR:
        return None
    try:
        return UUID(str(item.get("ORIGIN_ID")))
    except ValueError:
        return None


def _code(product: dict[str, Any]) -> str:
    """A product's procedure code: its symbolic CODE, else its external XML_ID."""
    return str(product.get("CODE") or product.get("XML_ID") or "").strip()


def _amount(
    value: Any, currency: str | None, name: str, problems: list[str], *, rounding: bool = False
) -> int | None:
    if value in (None, "") or currency is None:
        return None
    try:
        return minor_units(value, currency, rounding=rounding)
    except BadMoney as exc:
        problems.append(f"{name}: {exc}")
        return None


def _listed(value: Any) -> tuple[str, ...]:
    """A "done rows" field's values: a multiple field's list, or one text split by lines
    or semicolons."""
    if value in (None, "", False):
        return ()
    values = value if isinstance(value, list) else re.split(r"[;\n]", str(value))
    return tuple(v for v in (str(x).strip() for x in values) if v)


def _major_units(amount: int, currency: str) -> str:
    digits = get_currency_precision(currency)
    return f"{amount / 10**digits:.{digits}f}"
