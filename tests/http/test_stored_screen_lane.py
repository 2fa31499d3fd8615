"""The plan screen's hot read before the router (backend.routes.stored_screen): it
answers a stored fresh screen exactly as the route would, and passes everything else
on to the route, whose answer is then the one the patient gets."""

import logging
from uuid import uuid4

import httpx

from backend.domain.roles import Role
from backend.routes.stored_screen import StoredScreenLane
from backend.web.rate_limits import _local
from tests.factories import make_clinic
from tests.http.app_with import app_with
from tests.http.patient_world import patient_world
from tests.http.staff_client import make_staff, sign_in

SCREEN = "/referrals/{referral_id}"
# What both answers carry but may differ in by construction.
PER_REQUEST = {"x-request-id", "date"}


class Counted:
    """The router behind the lane, counting the requests that reach it."""

    def __init__(self, lane: StoredScreenLane) -> None:
        self.app, self.calls = lane.app, 0

    async def __call__(self, scope, receive, send) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


def lane_of(client: httpx.AsyncClient) -> StoredScreenLane:
    layer = client._transport.app.asgi_handler  # type: ignore[attr-defined]
    while not isinstance(layer, StoredScreenLane):
        layer = layer.app
    return layer


def routed(lane: StoredScreenLane) -> Counted:
    router = Counted(lane)
    lane.app = router
    return router


async def by_the_route(client, lane, method: str, url: str, **kw) -> httpx.Response:
    """The same request answered with the lane stepped aside."""
    stored, lane._stored = lane._stored, _never
    counting = lane.app  # not counted as reaching the router: it is asked to here
    lane.app = counting.app if isinstance(counting, Counted) else counting
    try:
        return await client.request(method, url, **kw)
    finally:
        lane._stored, lane.app = stored, counting


async def _never(*_args) -> None:
    return None


def same(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code
    if a.headers.get("content-type") == "application/problem+json":
        # A problem names its request: the two are two requests.
        assert {**a.json(), "request_id": ""} == {**b.json(), "request_id": ""}
    else:
        assert a.content == b.content
    assert {k: v for k, v in a.headers.items() if k not in PER_REQUEST} == {
        k: v for k, v in b.headers.items() if k not in PER_REQUEST
    }


async def test_a_stored_screen_is_answered_here_as_the_route_answers_it(client, db, caplog):
    caplog.set_level(logging.INFO, logger="plantrack.http")
    world = await patient_world(client, db)
    lane, url, h = lane_of(client), world.path(SCREEN), world.me.headers
    built = await client.get(url, headers=h)  # built and stored, if it was not yet
    assert built.status_code == 200
    router = routed(lane)

    here = await client.get(url, headers=h)
    assert router.calls == 0  # answered before the router
    same(here, await by_the_route(client, lane, "GET", url, headers=h))
    same(here, built)
    assert here.headers["etag"] and here.headers["cache-control"] == "private, no-cache"
    assert "x-request-id" in here.headers and "content-security-policy" in here.headers

    again = {**h, "If-None-Match": here.headers["etag"]}
    not_modified = await client.get(url, headers=again)
    assert not_modified.status_code == 304 and router.calls == 0
    same(not_modified, await by_the_route(client, lane, "GET", url, headers=again))
    listed = {**h, "If-None-Match": f'"other", W/{here.headers["etag"]}'}
    assert (await client.get(url, headers=listed)).status_code == 304
    assert router.calls == 0

    # The access log names the route as the router does.
    caplog.clear()
    await client.get(url, headers=h)
    await by_the_route(client, lane, "GET", url, headers=h)
    logged = [r.fields["route"] for r in caplog.records if r.name == "plantrack.http"]
    assert logged == ["/api/v1/me/referrals/{referral_id}"] * 2


async def test_everything_else_goes_to_the_route(client, db):
    world = await patient_world(client, db)
    lane, url, h = lane_of(client), world.path(SCREEN), world.me.headers
    assert (await client.get(url, headers=h)).status_code == 200  # stored fresh
    other = world.path(SCREEN).replace(str(world.referral_id), str(uuid4()))
    staff = await sign_in(client, await make_staff(Role.clinic_manager, await make_clinic()))
    cases = [
        ("no token", url, {}, 401),
        ("not a bearer", url, {"Authorization": "Basic eDp5"}, 401),
        ("a forged token", url, {"Authorization": h["Authorization"] + "x"}, 401),
        ("a staff token", url, staff.headers, 401),
        ("not theirs", other, h, 404),
        ("a query string", url + "?x=1", h, 200),
        ("an app version", url, {**h, "X-App-Version": "not-a-version"}, 400),
        ("a browser's origin", url, {**h, "Origin": "https://elsewhere.example"}, 200),
    ]
    for name, path, headers, status in cases:
        router = routed(lane)
        answer = await client.get(path, headers=headers)
        lane.app = router.app
        assert (answer.status_code, router.calls) == (status, 1), name
        same(answer, await by_the_route(client, lane, "GET", path, headers=headers))

    # A change the patient will see: the stored screen is stale, and the route rebuilds it.
    answered = await client.post(
        world.path("/questions/{question_id}/answer"), headers=h, json={"answer": "yes"}
    )
    assert answered.status_code == 200
    router = routed(lane)
    rebuilt = await client.get(url, headers=h)
    assert rebuilt.status_code == 200 and router.calls == 1
    assert (await client.get(url, headers=h)).content == rebuilt.content and router.calls == 1

    # A session ended is a 401 however fresh the stored screen.
    assert (await client.post("/api/v1/auth/logout", headers=h)).status_code == 204
    router = routed(lane)
    ended = await client.get(url, headers=h)
    assert ended.status_code == 401 and router.calls == 1


async def test_a_read_answered_here_counts_against_the_budget(db):
    budget = 5
    async with app_with(db, rate_limit_patient=budget, rate_limit_window_seconds=3600) as client:
        world = await patient_world(client, db)
        lane, url, h = lane_of(client), world.path(SCREEN), world.me.headers
        assert (await client.get(url, headers=h)).status_code == 200  # stored fresh
        counted = _local[db.database_url, f"patient:{world.me.patient_id}"]
        used = counted.shared + counted.pending
        router = routed(lane)
        answers = [await client.get(url, headers=h) for _ in range(budget - used + 1)]
        # Each read answered here was counted: the one over the budget is refused (by
        # the route, which the lane leaves every refusal to).
        assert [a.status_code for a in answers] == [200] * (budget - used) + [429]
        assert router.calls == 1
