"""A task for a coordinator in the clinic's own CRM, tied to the referral's deal or lead,
so an alert reaches people where they already work.

- Bitrix24: `tasks.task.add` with TITLE, DESCRIPTION, RESPONSIBLE_ID, DEADLINE and
  UF_CRM_TASK (`D_<deal>` / `L_<lead>`); answered `{"result": {"task": {"id": …}}}`.
- amoCRM / Kommo: `POST /api/v4/tasks` with an array of `{text, complete_till (Unix
  time), entity_type "leads", entity_id, task_type_id 1 (call), responsible_user_id,
  request_id}`; answered `{"_embedded": {"tasks": [{"id", "request_id"}]}}`.

Neither CRM takes an idempotency key, so a task carries a marker (`plantrack #<id>`) in
its text and a retry after a crash looks for it before adding another.
"""

import re
from datetime import datetime
from typing import Any

import httpx
import msgspec

from backend.integrations.amocrm import AmoCrm
from backend.integrations.base import Connection, CrmRejected
from backend.integrations.bitrix24 import Bitrix24

CALL_TASK_TYPE = 1  # amoCRM's built-in "Звонок" / follow-up type


class CrmTask(msgspec.Struct, frozen=True, kw_only=True):
    marker: str  # unique per alert and person; found again on a retry
    title: str
    description: str
    deadline: datetime
    external_id: str  # "deal:17", "lead:5": what the task is tied to
    responsible: str | None  # the CRM's user id; None: the webhook's (API's) own user


def _bitrix_owner(external_id: str) -> str:
    entity, _, number = external_id.partition(":")
    return {"deal": "D", "lead": "L"}[entity] + "_" + number


def _bitrix_default_user(conn: Connection) -> str:
    """The incoming webhook's own user (…/rest/<USER>/<SECRET>/) answers if nobody is named."""
    match = re.search(r"/rest/(\d+)/", conn.secrets.get("rest_url", ""))
    return match.group(1) if match else "1"


async def add_bitrix24_task(conn: Connection, http: httpx.AsyncClient, task: CrmTask) -> str:
    api = Bitrix24()
    found = await api.call(
        conn,
        http,
        "tasks.task.list",
        {"filter": {"%TITLE": task.marker}, "select": ["ID", "TITLE"]},
    )
    for existing in (found or {}).get("tasks", []) if isinstance(found, dict) else []:
        if task.marker in str(existing.get("title") or existing.get("TITLE") or ""):
            return str(existing.get("id") or existing.get("ID"))
    responsible = task.responsible or _bitrix_default_user(conn)
    result = await api.call(
        conn,
        http,
        "tasks.task.add",
        {
            "fields": {
                "TITLE": f"{task.title} ({task.marker})",
                "DESCRIPTION": task.description,
                "RESPONSIBLE_ID": int(responsible) if str(responsible).isdigit() else responsible,
                "DEADLINE": task.deadline.isoformat(),
                "UF_CRM_TASK": [_bitrix_owner(task.external_id)],
            }
        },
    )
    created = (result or {}).get("task") if isinstance(result, dict) else None
    if not isinstance(created, dict) or "id" not in created:
        raise CrmRejected(f"Bitrix24 tasks.task.add answered {str(result)[:200]}")
    return str(created["id"])


async def add_amocrm_task(conn: Connection, http: httpx.AsyncClient, task: CrmTask) -> str:
    api = AmoCrm()
    entity, _, lead_id = task.external_id.partition(":")
    if entity != "lead":
        raise CrmRejected(f"amoCRM tasks are tied to leads, not {entity}")
    found = await api.request(
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
    response = await api.request(conn, http, "POST", "/api/v4/tasks", json=[body])
    created = ((response.json() or {}).get("_embedded") or {}).get("tasks") or []
    if not created or "id" not in created[0]:
        raise CrmRejected(f"amoCRM POST /api/v4/tasks answered {response.text[:200]}")
    return str(created[0]["id"])


ADD_TASK = {"bitrix24": add_bitrix24_task, "amocrm": add_amocrm_task}
