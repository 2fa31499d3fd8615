"""The HTTP shell: health, readiness, the OpenAPI document, problem details, request ids."""

import json
import logging

from backend.store.engine import current_engine
from tests.http.problems import assert_problem


async def test_health_and_ready(client):
    health = await client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = await client.get("/ready")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_openapi_document_is_served(client):
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"].startswith("3.")
    assert {"/health", "/ready"} <= set(doc["paths"])
    for path in doc["paths"].values():
        for operation in path.values():
            assert operation.get("description"), "every route says what it does"


async def test_unknown_route_is_a_problem_document_with_a_request_id(client):
    response = await client.get("/no/such/thing")
    assert_problem(response, 404)
    body = response.json()
    assert body["status"] == 404 and body["title"] == "Not Found"
    assert body["request_id"] == response.headers["x-request-id"]


async def test_callers_request_id_is_echoed_and_garbage_is_replaced(client):
    mine = "req-0123456789abcdef"
    assert (await client.get("/health", headers={"x-request-id": mine})).headers[
        "x-request-id"
    ] == mine
    replaced = (await client.get("/health", headers={"x-request-id": "<script>"})).headers[
        "x-request-id"
    ]
    assert replaced != "<script>" and len(replaced) == 32


async def test_not_ready_when_the_database_is_gone(client, db):
    engine = current_engine()
    if db.is_sqlite:
        engine.connection_kwargs["database"] = "/nonexistent/dir/x.sqlite3"
    else:
        await engine.close_connection_pool()
        engine.config = {"dsn": "postgresql://nobody@127.0.0.1:1/none", "timeout": 2}
    response = await client.get("/ready")
    assert_problem(response, 503)
    assert "database" in response.json()["detail"]


async def test_access_log_is_structured_and_has_no_query_string(client, caplog):
    caplog.set_level(logging.INFO, logger="plantrack.http")
    await client.get("/health?phone=%2B79161234567")
    [record] = [r for r in caplog.records if r.name == "plantrack.http"]
    assert record.fields["route"] == "/health"
    assert record.fields["status"] == 200
    from backend.runtime.logs import JsonFormatter

    line = JsonFormatter().format(record)
    assert json.loads(line)["route"] == "/health"
    assert "79161234567" not in line
