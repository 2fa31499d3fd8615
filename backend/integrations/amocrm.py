"""amoCRM (Kommo): account webhooks in, API v4 out (https://SUBDOMAIN.amocrm.ru).

A webhook is an unsigned form-encoded POST (`leads[status][0][id]=…`, `account[id]=…`),
possibly several leads and actions at once, every value a string. It is trusted only
as far as our unguessable URL and the account id go: each lead is re-read over the
API, and the lead as it stands is what we record. Stages are (pipeline, status) pairs —
142 won and 143 lost exist in every pipeline. At most 7 requests a second; on 401 an
OAuth integration refreshes its token once (the refresh token is single-use).
"""

import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse
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
from backend.integrations.vendor_http import json_or_none, limiter, retry_after, send

LEAD_ACTIONS = ("status", "add", "update")  # `delete` carries nothing to record
TAG = "plantrack"
# 7 requests a second, counted over any second: one at a time, 1/7 s apart (a burst of
# seven, then seven a second, could put eight in one window).
RATE = (1, 1 / 7)

WON, LOST = 142, 143  # system statuses, the same ids in every pipeline


class AmoCrm:
    system = "amocrm"
    source = Source.amocrm

    def authenticate(self, conn: Connection, headers: dict[str, str], body: bytes) -> bool:
        try:
            account = parse_bracket_form(body).get("account")
        except (MalformedForm, UnicodeDecodeError):
            return False
        if not isinstance(account, dict):
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
        try:
            form = parse_bracket_form(body)
        except (MalformedForm, UnicodeDecodeError) as exc:
            raise MalformedDelivery(str(exc)) from exc
        lead_ids = _lead_ids(form)
        if not lead_ids:
            return [Change(external_id="delivery", note="no lead in the delivery")]
        changes = []
        for lead_id in lead_ids:
            response = await self.request(
                conn, http, "GET", f"/api/v4/leads/{lead_id}", missing_ok=True
            )
            # amoCRM documents 204 for a lead that does not exist; a deleted one has also
            # been seen answered 404. Either way there is nothing to record.
            if response.status_code in (204, 404):
                changes.append(Change(external_id=f"lead:{lead_id}", note="lead not found"))
                continue
            changes.append(self.change_of(conn, response.json()))
        return changes

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
        gate = limiter(f"amocrm:{httpx.URL(base).host}", *RATE)
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
        gate = limiter(f"amocrm:{httpx.URL(base).host}", *RATE)
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
