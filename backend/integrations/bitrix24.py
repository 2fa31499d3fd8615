"""Bitrix24: outgoing-webhook events in, REST calls out through the clinic's incoming
webhook (https://PORTAL/rest/USER/SECRET/method.json, POST JSON).

An event is a form-encoded POST carrying only `data[FIELDS][ID]` and the portal's
`auth[application_token]` (+ `auth[member_id]`); the deal or lead itself is read over
REST. Bitrix24 never re-sends a failed event, so `recently_changed` lists our deals
modified since the last sync and the worker reconciles on a schedule. Rate limit: a
leaky bucket of 50 requests draining 2 per second per portal; beyond it 503
QUERY_LIMIT_EXCEEDED.
"""

import hmac
import re
from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import httpx
from babel.numbers import get_currency_precision

from backend.domain.events import Source
from backend.integrations.base import (
    Change,
    Connection,
    CrmRejected,
    CrmStage,
    CrmUnavailable,
    MalformedDelivery,
    OutboundReferral,
    stage_change,
)
from backend.integrations.forms import MalformedForm, parse_bracket_form
from backend.integrations.vendor_http import json_or_none, limiter, send

ORIGINATOR = "plantrack"  # ORIGINATOR_ID of the deals we create; ORIGIN_ID is the referral id
DEAL_EVENTS = {"ONCRMDEALADD", "ONCRMDEALUPDATE"}
LEAD_EVENTS = {"ONCRMLEADADD", "ONCRMLEADUPDATE"}
LEAD_PREFIX = "LEAD:"  # lead statuses share names with default-pipeline deal stages
SEMANTICS = {"S": "success", "F": "failure"}  # crm.status.list; null or "" is in progress
PAGE = 50  # Bitrix24 list methods return 50 rows a page, always
MAX_PAGES = 40  # one reconcile run reads at most 2000 deals; the next run goes on


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


class Bitrix24:
    system = "bitrix24"
    source = Source.bitrix24

    def authenticate(self, conn: Connection, headers: dict[str, str], body: bytes) -> bool:
        try:
            auth = parse_bracket_form(body).get("auth")
        except (MalformedForm, UnicodeDecodeError):
            return False
        if not isinstance(auth, dict):
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
        try:
            form = parse_bracket_form(body)
        except (MalformedForm, UnicodeDecodeError) as exc:
            raise MalformedDelivery(str(exc)) from exc
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
        except NotInCrm:
            return [Change(external_id=f"{entity}:{object_id}", note=f"{entity} not found")]
        return [self.change_of(conn, entity, item)]

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
        select += ["DATE_MODIFY", "MOVED_TIME"]
        if field := conn.config.get("fields", {}).get("appointment_at"):
            select.append(field)
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
            changes += [self.change_of(conn, "deal", item) for item in page.get("result") or []]
            start = page.get("next")
            if start is None:
                break
        return changes

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


def _our_referral(item: dict[str, Any]) -> UUID | None:
    if item.get("ORIGINATOR_ID") != ORIGINATOR:
        return None
    try:
        return UUID(str(item.get("ORIGIN_ID")))
    except ValueError:
        return None


def _major_units(amount: int, currency: str) -> str:
    digits = get_currency_precision(currency)
    return f"{amount / 10**digits:.{digits}f}"
