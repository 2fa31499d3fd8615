"""Tasks in the local CRMs, as the vendors document them, beside the fakes' deals and leads:

- Bitrix24 `tasks.task.add` (`{"fields": {TITLE, DESCRIPTION, RESPONSIBLE_ID, DEADLINE,
  UF_CRM_TASK}}` → `{"result": {"task": {"id": "…", "title": …}}}`; TITLE and
  RESPONSIBLE_ID required, else 400 with an error) and `tasks.task.list` (filter by
  `%TITLE` substring → `{"result": {"tasks": [...]}}`), answers in lowerCamelCase as
  the tasks.task.* methods do;
- amoCRM `POST /api/v4/tasks` (an array of `{text, complete_till, entity_id,
  entity_type, task_type_id, responsible_user_id, request_id}`; text and complete_till
  required, else 400 problem+json) → `{"_links", "_embedded": {"tasks": [{"id",
  "request_id"}]}}`, and `GET /api/v4/tasks?filter[entity_type]=&filter[entity_id]=`
  (204 when there are none).

Kept in a module of their own so the fakes' other work is untouched.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.amocrm import HAL, UNAUTHORIZED, FakeAmoCrm
from tests.fakes.bitrix24 import FakeBitrix24
from tests.fakes.server import read_body, respond


@dataclass
class FakeBitrix24Tasks(FakeBitrix24):
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)

    def call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "tasks.task.add":
            fields = params.get("fields") or {}
            if not fields.get("TITLE") or not fields.get("RESPONSIBLE_ID"):
                return 400, {
                    "error": "ERROR_CORE",
                    "error_description": "Не указан ответственный или название задачи",
                }
            task_id = self.new_id()
            task = {
                "id": str(task_id),
                "title": fields["TITLE"],
                "description": fields.get("DESCRIPTION", ""),
                "responsibleId": str(fields["RESPONSIBLE_ID"]),
                "deadline": fields.get("DEADLINE"),
                "ufCrmTask": list(fields.get("UF_CRM_TASK") or []),
                "status": "2",
            }
            self.tasks[task_id] = task
            return 200, {"result": {"task": task}}
        if method == "tasks.task.list":
            wanted = (params.get("filter") or {}).get("%TITLE", "")
            found = [dict(t) for t in self.tasks.values() if wanted in t["title"]]
            return 200, {"result": {"tasks": found}, "total": len(found)}
        return super().call(method, params)


@dataclass
class FakeAmoCrmTasks(FakeAmoCrm):
    tasks: dict[int, dict[str, Any]] = field(default_factory=dict)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/api/v4/tasks":
            await super().__call__(scope, receive, send)
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        with self.lock:
            self.requests.append((scope["method"], scope["path"]))
        if headers.get("authorization") != f"Bearer {self.access_token}":
            await respond(send, 401, UNAUTHORIZED, content_type="application/problem+json")
            return
        if scope["method"] == "GET":
            query = parse_qs(scope["query_string"].decode())
            entity_id = query.get("filter[entity_id]", [""])[0]
            found = [t for t in self.tasks.values() if str(t["entity_id"]) == entity_id]
            if not found:
                await respond(send, 204)
                return
            await respond(send, 200, {"_page": 1, "_embedded": {"tasks": found}}, content_type=HAL)
            return
        given = json.loads(body or b"[]")
        if not isinstance(given, list) or any(
            not t.get("text") or not t.get("complete_till") for t in given
        ):
            await respond(
                send,
                400,
                {
                    "title": "Bad Request",
                    "type": "https://httpstatus.es/400",
                    "status": 400,
                    "detail": "Request validation failed",
                },
                content_type="application/problem+json",
            )
            return
        created = []
        for t in given:
            task_id = self.new_id()
            self.tasks[task_id] = {
                "id": task_id,
                "created_at": int(time.time()),
                "responsible_user_id": t.get("responsible_user_id", 504141),
                "entity_id": t.get("entity_id"),
                "entity_type": t.get("entity_type"),
                "is_completed": False,
                "task_type_id": t.get("task_type_id", 1),
                "text": t["text"],
                "complete_till": t["complete_till"],
                "account_id": self.account_id,
            }
            created.append({"id": task_id, "request_id": t.get("request_id", "0")})
        await respond(
            send,
            200,
            {
                "_links": {"self": {"href": f"{self.base_url}/api/v4/tasks"}},
                "_embedded": {"tasks": created},
            },
            content_type=HAL,
        )
