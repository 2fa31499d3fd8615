"""amoCRM (Kommo): account webhooks in, API v4 out (https://SUBDOMAIN.amocrm.ru).

A webhook is an unsigned form-encoded POST (`leads[status][0][id]=…`, `account[id]=…`),
possibly several leads and actions at once, every value a string. It is trusted only
as far as our unguessable URL and the account id go: each lead is re-read over the
API, and the lead as it stands is what we record. Stages are (pipeline, status) pairs —
142 won and 143 lost exist in every pipeline. At most 7 requests a second; on 401 an
OAuth integration refreshes its token once (the refresh token is single-use).

Money, for our leads (tagged `plantrack`): the lead's `price`, its products
(`with=catalog_elements`: element id and metadata quantity, catalog_id, price_id; each
element read from /api/v4/catalogs/{id}/elements for its name, SKU and price), a custom
field with the amount paid so far, a field listing the products that are done; amounts
are in the account's currency (/api/v4/account `currency`).

amoCRM may lose a webhook (our endpoint down, its queue dropping it), so `recently_changed`
lists the leads changed since the last sync (GET /api/v4/leads, filter[updated_at][from],
page by page while the answer links a next page; 204 when none) and the worker
reconciles on a schedule; our leads among them are read as a webhook's would be.
"""

import hmac
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import httpx
import msgspec
from babel.numbers import get_currency_precision

from backend.domain.crm_money import CrmMoney, CrmRow, tooth_of
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
from backend.integrations.money import BadMoney, decimal_of, minor_units
from backend.integrations.vendor_http import json_or_none, retry_after, send, spacing

LEAD_ACTIONS = ("status", "add", "update")  # `delete` carries nothing to record
TAG = "plantrack"
# amoCRM allows 7 requests a second, counted as they arrive, over any second. One at a
# time, each leaving 1/6 s after the previous answer (vendor_http.Spacing): paced by when
# they leave (1/7 s, then 1/6 s apart), a few requests held up on the way by a busy CPU
# arrived bunched, the eighth within the first's second, and earned a 429.
GAP = 1 / 6

WON, LOST = 142, 143  # system statuses, the same ids in every pipeline
PAGE = 250  # amoCRM's largest page
RECONCILE_PAGES = 40  # one pass reads at most 10 000 changed leads; more fails visibly
CALL_TASK_TYPE = 1  # amoCRM's built-in "Звонок" / follow-up type
FIELD_PAGES = 4  # the stages view reads at most 1000 custom fields of leads


class AmoCrm(Adapter):
    system = "amocrm"
    source = Source.amocrm
    path = "amocrm"
    crm = True

    def authenticate(self, conn: Connection, headers: dict[str, str], body: bytes) -> bool:
        account = form_part(body, "account")
        if account is None:
            return False
        if "id" in account:
            given, expected = str(account["id"]), str(conn.config["account_id"])
        else:  # deliveries of old accounts name only the subdomain
            given = str(account.get("subdomain", ""))
            expected = (urlparse(conn.config["base_url"]).hostname or "").split(".")[0]
        return hmac.compare_digest(given.encode(), expected.encode())

    def delivery_key(self, headers: dict[str, str], body: bytes) -> str | None:
        return None  # amoCRM numbers nothing; claims are keyed by lead state

    async def changes(
        self, conn: Connection, headers: dict[str, str], body: bytes, http: httpx.AsyncClient
    ) -> list[Change]:
        form = delivery_form(body)
        lead_ids = _lead_ids(form)
        if not lead_ids:
            return [Change(external_id="delivery", note="no lead in the delivery")]
        changes = []
        for lead_id in lead_ids:
            response = await self.request(
                conn,
                http,
                "GET",
                f"/api/v4/leads/{lead_id}",
                params={"with": "catalog_elements"},
                missing_ok=True,
            )
            # amoCRM documents 204 for a lead that does not exist; a deleted one has also
            # been seen answered 404. Either way there is nothing to record.
            if response.status_code in (204, 404):
                changes.append(Change(external_id=f"lead:{lead_id}", note="lead not found"))
                continue
            changes.append(await self._lead_change(conn, http, response.json()))
        return changes

    async def recently_changed(
        self, conn: Connection, since: datetime, http: httpx.AsyncClient
    ) -> list[Change]:
        """Our leads changed at or after `since` (oldest id first), as changes. Only a
        lower bound and id order: a lead changed while the pages are read cannot shift
        another out of them (it is read now, or again on the next pass)."""
        after = int(since.timestamp())
        changes: list[Change] = []
        for page in range(1, RECONCILE_PAGES + 1):
            response = await self.request(
                conn,
                http,
                "GET",
                "/api/v4/leads",
                params={
                    "filter[updated_at][from]": after,
                    "with": "catalog_elements",
                    "order[id]": "asc",
                    "limit": PAGE,
                    "page": page,
                },
            )
            if response.status_code == 204:  # nothing (more) changed
                return changes
            body = json_or_none(response)
            if not isinstance(body, dict):
                raise CrmUnavailable("amoCRM answered the leads list without JSON")
            for lead in (body.get("_embedded") or {}).get("leads") or []:
                # An account that ignores the filter (the documentation calls filtering
                # alpha) lists every lead: those not changed since are not read again.
                updated = lead.get("updated_at")
                if _ours(lead) and not (isinstance(updated, int) and updated < after):
                    changes.append(await self._lead_change(conn, http, lead))
            if not (body.get("_links") or {}).get("next"):
                return changes
        # Stopping here would move the sync time past leads not read: fail visibly instead.
        raise CrmRejected(
            f"more than {RECONCILE_PAGES * PAGE} leads changed since {since.isoformat()}; "
            "not reconciled"
        )

    async def _lead_change(
        self, conn: Connection, http: httpx.AsyncClient, lead: dict[str, Any]
    ) -> Change:
        """A lead as read, as a change; with its money when it is ours."""
        change = self.change_of(conn, lead)
        if not _ours(lead):
            return change
        try:
            money = await self.money_of(conn, http, lead)
        except CrmRejected as exc:  # the stage is still recorded
            lead_id = lead["id"]
            money = unreadable(
                f"amoCRM, сделка {lead_id}", f"amoCRM lead {lead_id}", f"money: {exc}"
            )
        return msgspec.structs.replace(change, money=money)

    async def money_of(
        self, conn: Connection, http: httpx.AsyncClient, lead: dict[str, Any]
    ) -> CrmMoney:
        """What the lead says about money, read and parsed; what cannot be read is kept in
        `problems` (refused and shown), never guessed."""
        config, fields = conn.config, conn.config.get("fields", {})
        problems: list[str] = []
        account = await self.request(conn, http, "GET", "/api/v4/account")
        currency = str((json_or_none(account) or {}).get("currency") or "").upper() or None
        if currency is None:
            problems.append("the account names no currency")
        rows_mean = config.get("product_rows", "plan")
        rows: tuple[CrmRow, ...] = ()
        if rows_mean != "off" and currency is not None:
            rows = await self._rows(conn, http, lead, currency, problems)
        paid_total = None
        if (field := fields.get("paid_amount")) and currency is not None:
            values = _field_values(lead, field)
            try:
                paid_total = minor_units(values[0], currency) if values else 0
            except BadMoney as exc:
                problems.append(f"field {field}: {exc}")
        done: tuple[str, ...] = ()
        if field := fields.get("done_rows"):
            done = tuple(
                part.strip()
                for value in _field_values(lead, field)
                for part in re.split(r"[;\n]", str(value))
                if part.strip()
            )
        updated = lead.get("updated_at")
        at = datetime.fromtimestamp(updated, UTC) if isinstance(updated, int) else None
        amount = None
        if currency is not None and lead.get("price") not in (None, ""):
            try:
                amount = minor_units(lead["price"], currency)
            except BadMoney as exc:
                problems.append(f"price: {exc}")
        return CrmMoney(
            label_ru=f"amoCRM, сделка {lead['id']}",
            label_en=f"amoCRM lead {lead['id']}",
            state_at=at,
            stage_at=at,
            rows_mean=rows_mean,
            currency=currency,
            rows=rows,
            amount=amount,
            paid_total=paid_total,
            paid_currency=currency if paid_total is not None else None,
            done_refs=done,
            problems=tuple(problems),
        )

    async def _rows(
        self,
        conn: Connection,
        http: httpx.AsyncClient,
        lead: dict[str, Any],
        currency: str,
        problems: list[str],
    ) -> tuple[CrmRow, ...]:
        """The lead's linked catalogue elements, each read for its name, SKU and price."""
        linked = (lead.get("_embedded") or {}).get("catalog_elements") or []
        by_catalog: dict[int, list[dict[str, Any]]] = {}
        for element in linked:
            catalog = (element.get("metadata") or {}).get("catalog_id")
            if isinstance(catalog, int):
                by_catalog.setdefault(catalog, []).append(element)
        rows: list[CrmRow] = []
        for catalog, elements in sorted(by_catalog.items()):
            params = [("filter[id][]", str(e["id"])) for e in elements] + [("limit", str(PAGE))]
            response = await self.request(
                conn, http, "GET", f"/api/v4/catalogs/{catalog}/elements", params=params
            )
            body = json_or_none(response) or {}
            found = {e["id"]: e for e in (body.get("_embedded") or {}).get("elements") or []}
            for element in elements:
                detail = found.get(element["id"])
                if detail is None:
                    problems.append(f"catalog {catalog} element {element['id']}: not found")
                    continue
                meta = element.get("metadata") or {}
                name = str(detail.get("name") or "").strip()
                price_field = meta.get("price_id") or "PRICE"
                price = _field_values(detail, str(price_field)) or _field_values(detail, "PRICE")
                try:
                    unit = decimal_of(price[0]) if price else decimal_of(0)
                    total = minor_units(
                        unit * decimal_of(meta.get("quantity") or 1), currency, rounding=True
                    )
                except BadMoney as exc:
                    problems.append(f"element {element['id']} «{name}»: {exc}")
                    continue
                sku = _field_values(detail, "SKU")
                rows.append(
                    CrmRow(
                        ref=str(element["id"]),
                        title=name,
                        price=total,
                        code=str(sku[0]).strip() if sku else "",
                        tooth=tooth_of(name),
                    )
                )
        return tuple(rows)

    async def fields(self, conn: Connection, http: httpx.AsyncClient) -> list[CrmField]:
        """The leads' custom fields (/api/v4/leads/custom_fields)."""
        found: list[CrmField] = []
        for page in range(1, FIELD_PAGES + 1):
            response = await self.request(
                conn,
                http,
                "GET",
                "/api/v4/leads/custom_fields",
                params={"page": page, "limit": PAGE},
            )
            body = json_or_none(response) or {}
            batch = (body.get("_embedded") or {}).get("custom_fields") or []
            found += [
                CrmField(
                    key=str(f["id"]),
                    name=str(f.get("name") or ""),
                    type=str(f.get("type") or ""),
                    code=f.get("code"),
                )
                for f in batch
            ]
            if len(batch) < PAGE:
                break
        return found

    async def catalog(self, conn: Connection, http: httpx.AsyncClient) -> Catalog:
        """The products list's first page of elements (a catalogue of type `products`).
        amoCRM counts nothing: a full page is followed by a look at the next one, and a
        list cut there says so, its size unknown."""
        catalogs = json_or_none(await self.request(conn, http, "GET", "/api/v4/catalogs")) or {}
        products = [
            c
            for c in (catalogs.get("_embedded") or {}).get("catalogs") or []
            if c.get("type") == "products"
        ]
        if not products:
            return Catalog(products=[], total=0, truncated=False)
        account = json_or_none(await self.request(conn, http, "GET", "/api/v4/account")) or {}
        currency = str(account.get("currency") or "").upper() or None
        response = await self.request(
            conn,
            http,
            "GET",
            f"/api/v4/catalogs/{products[0]['id']}/elements",
            params={"limit": PAGE},
        )
        elements = ((json_or_none(response) or {}).get("_embedded") or {}).get("elements") or []
        found: list[CatalogProduct] = []
        for e in elements:
            price = _field_values(e, "PRICE")
            sku = _field_values(e, "SKU")
            amount = None
            if price and currency:
                try:
                    amount = minor_units(price[0], currency, rounding=True)
                except BadMoney:
                    amount = None  # shown without a price; nothing is booked from here
            found.append(
                CatalogProduct(
                    ref=str(e["id"]),
                    name=str(e.get("name") or ""),
                    code=str(sku[0]).strip() if sku else "",
                    price=amount,
                    currency=currency,
                )
            )
        truncated = False
        if len(elements) >= PAGE:
            # Pages of one element: page PAGE + 1 is the first element past the list.
            more = await self.request(
                conn,
                http,
                "GET",
                f"/api/v4/catalogs/{products[0]['id']}/elements",
                params={"limit": 1, "page": PAGE + 1},
            )
            truncated = bool(((json_or_none(more) or {}).get("_embedded") or {}).get("elements"))
        total = None if truncated else len(found)
        return Catalog(products=found, total=total, truncated=truncated)

    def change_of(self, conn: Connection, lead: dict[str, Any]) -> Change:
        updated = lead.get("updated_at")
        return stage_change(
            conn,
            external_id=f"lead:{lead['id']}",
            stage=f"{lead.get('pipeline_id')}:{lead.get('status_id')}",
            occurred_at=datetime.fromtimestamp(updated, UTC) if isinstance(updated, int) else None,
            appointment_at=_field_time(
                lead, conn.config.get("fields", {}).get("appointment_at"), conn.config
            ),
            referral_id=None,  # leads are ours through the link made when we created them
        )

    async def push_referral(
        self, conn: Connection, referral: OutboundReferral, http: httpx.AsyncClient
    ) -> str:
        # A retry after a crash must not make a second lead: the invite code is in the name.
        found = await self.request(
            conn, http, "GET", "/api/v4/leads", params={"query": referral.invite_code}
        )
        if found.status_code == 200:
            for lead in (found.json().get("_embedded") or {}).get("leads", []):
                if referral.invite_code in str(lead.get("name", "")):
                    return f"lead:{lead['id']}"
        lead: dict[str, Any] = {
            "name": f"Направление {referral.invite_code}: {referral.patient_name}",
            "price": referral.estimated_amount // 10 ** get_currency_precision(referral.currency),
            "pipeline_id": int(conn.config["pipeline_id"]),
            "request_id": str(referral.referral_id),
            "_embedded": {
                "tags": [{"name": TAG}],
                "contacts": [
                    {
                        "first_name": referral.patient_name,
                        "custom_fields_values": [
                            {
                                "field_code": "PHONE",
                                "values": [{"enum_code": "MOB", "value": referral.patient_phone}],
                            }
                        ],
                    }
                ],
            },
        }
        if conn.config.get("status_id"):
            lead["status_id"] = int(conn.config["status_id"])
        response = await self.request(conn, http, "POST", "/api/v4/leads/complex", json=[lead])
        created = response.json()
        if not isinstance(created, list) or not created or "id" not in created[0]:
            raise CrmRejected(f"amoCRM leads/complex answered {str(created)[:200]}")
        return f"lead:{created[0]['id']}"

    async def stages(self, conn: Connection, http: httpx.AsyncClient) -> list[CrmStage]:
        """The statuses of the configured pipeline and of every pipeline the map names.
        Won (142) and lost (143) are in each; matched by id, since users rename them."""
        pipelines = {str(conn.config["pipeline_id"])}
        pipelines |= {key.split(":", 1)[0] for key in conn.config.get("stage_map", {})}
        found: list[CrmStage] = []
        for pipeline in sorted(pipelines):
            response = await self.request(conn, http, "GET", f"/api/v4/leads/pipelines/{pipeline}")
            body = json_or_none(response) or {}
            statuses = (body.get("_embedded") or {}).get("statuses") or []
            found += [
                CrmStage(
                    key=f"{pipeline}:{status['id']}",
                    name=str(status.get("name") or ""),
                    semantics={WON: "success", LOST: "failure"}.get(int(status["id"]), "process"),
                )
                for status in statuses
            ]
        return found

    async def add_task(self, conn: Connection, http: httpx.AsyncClient, task: CrmTask) -> str:
        """`POST /api/v4/tasks`: a call task tied to the lead, after the lead's tasks
        showed none with the marker in its text."""
        entity, _, lead_id = task.external_id.partition(":")
        if entity != "lead":
            raise CrmRejected(f"amoCRM tasks are tied to leads, not {entity}")
        found = await self.request(
            conn,
            http,
            "GET",
            "/api/v4/tasks",
            params={"filter[entity_type]": "leads", "filter[entity_id]": lead_id},
        )
        if found.status_code == 200:
            for existing in (found.json().get("_embedded") or {}).get("tasks", []):
                if task.marker in str(existing.get("text", "")):
                    return str(existing["id"])
        body: dict[str, Any] = {
            "text": f"{task.title} ({task.marker})\n{task.description}",
            "complete_till": int(task.deadline.timestamp()),
            "entity_id": int(lead_id),
            "entity_type": "leads",
            "task_type_id": CALL_TASK_TYPE,
            "request_id": task.marker,
        }
        if task.responsible and task.responsible.isdigit():  # else amoCRM's own: the API user
            body["responsible_user_id"] = int(task.responsible)
        response = await self.request(conn, http, "POST", "/api/v4/tasks", json=[body])
        created = ((response.json() or {}).get("_embedded") or {}).get("tasks") or []
        if not created or "id" not in created[0]:
            raise CrmRejected(f"amoCRM POST /api/v4/tasks answered {response.text[:200]}")
        return str(created[0]["id"])

    async def request(
        self,
        conn: Connection,
        http: httpx.AsyncClient,
        method: str,
        path: str,
        *,
        refreshed: bool = False,
        missing_ok: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        base = conn.config["base_url"].rstrip("/")
        gate = spacing(f"amocrm:{httpx.URL(base).host}", GAP)
        headers = {"Authorization": f"Bearer {conn.secrets['access_token']}"}
        response = await send(http, gate, method, base + path, headers=headers, **kwargs)
        status = response.status_code
        if status == 401 and not refreshed and await self._refresh(conn, http):
            return await self.request(
                conn, http, method, path, refreshed=True, missing_ok=missing_ok, **kwargs
            )
        if status == 429:
            body = json_or_none(response) or {}
            wait = body.get("retry_after") if isinstance(body, dict) else None
            raise CrmUnavailable(
                "amoCRM rate limit (429)",
                retry_after=float(wait) if wait else retry_after(response, 1.0),
            )
        if status >= 500:
            raise CrmUnavailable(f"amoCRM answered {status}")
        if status == 404 and missing_ok:
            return response
        if status >= 400:
            body = json_or_none(response)
            detail = body.get("detail", "") if isinstance(body, dict) else ""
            raise CrmRejected(f"amoCRM {method} {path}: {status} {detail}".strip())
        return response

    async def _refresh(self, conn: Connection, http: httpx.AsyncClient) -> bool:
        """Trade the refresh token for new tokens; False for a long-lived token."""
        secrets, config = conn.secrets, conn.config
        if not (secrets.get("refresh_token") and secrets.get("client_secret")):
            return False
        base = config["base_url"].rstrip("/")
        gate = spacing(f"amocrm:{httpx.URL(base).host}", GAP)
        response = await send(
            http,
            gate,
            "POST",
            f"{base}/oauth2/access_token",
            json={
                "client_id": config.get("client_id"),
                "client_secret": secrets["client_secret"],
                "grant_type": "refresh_token",
                "refresh_token": secrets["refresh_token"],
                "redirect_uri": config.get("redirect_uri"),
            },
        )
        if response.status_code >= 500:
            raise CrmUnavailable(f"amoCRM token endpoint answered {response.status_code}")
        body = json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            hint = body.get("hint", "") if isinstance(body, dict) else ""
            raise CrmRejected(f"amoCRM refused the refresh token {hint}".strip())
        conn.secrets = {
            **secrets,
            "access_token": body["access_token"],
            "refresh_token": body["refresh_token"],
        }
        if conn.save_secrets is not None:  # single-use: the new one must be kept now
            await conn.save_secrets(conn.secrets)
        return True


def _lead_ids(form: dict[str, Any]) -> list[str]:
    leads = form.get("leads")
    if not isinstance(leads, dict):
        return []
    ids: list[str] = []
    for action in LEAD_ACTIONS:
        entries = leads.get(action)
        if not isinstance(entries, dict):
            continue
        for entry in entries.values():
            lead_id = entry.get("id") if isinstance(entry, dict) else None
            if not isinstance(lead_id, str) or not lead_id.isdigit():
                raise MalformedDelivery(f"leads[{action}] entry without a numeric id")
            if lead_id not in ids:
                ids.append(lead_id)
    return ids


def _ours(lead: dict[str, Any]) -> bool:
    """A lead plantrack made: it carries our tag (money is read for those only)."""
    tags = (lead.get("_embedded") or {}).get("tags") or []
    return any(isinstance(t, dict) and t.get("name") == TAG for t in tags)


def _field_values(entity: dict[str, Any], field: str) -> list[Any]:
    """The values of a custom field named by id or code ([] when it has none)."""
    for custom in entity.get("custom_fields_values") or []:
        if field in (str(custom.get("field_id")), custom.get("field_code")):
            return [v.get("value") for v in custom.get("values") or [] if isinstance(v, dict)]
    return []


def _field_time(lead: dict[str, Any], field: str | None, config: dict[str, Any]) -> datetime | None:
    """A date-time custom field: a Unix time (amoCRM's date fields), or ISO text."""
    if not field:
        return None
    for custom in lead.get("custom_fields_values") or []:
        if field not in (str(custom.get("field_id")), custom.get("field_code")):
            continue
        values = custom.get("values") or []
        value = values[0].get("value") if values else None
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return datetime.fromtimestamp(int(value), UTC)
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                return None
            tz = ZoneInfo(config.get("timezone", "Europe/Moscow"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    return None
