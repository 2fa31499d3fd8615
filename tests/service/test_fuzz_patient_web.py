"""The patient's web page (/p/…) fuzzed over real HTTP against the running server: made-up
and malformed links, every form with generated fields (wrong values, wrong types, huge,
non-ASCII, NUL, extra fields), other referrals' and made-up ids, odd query strings. The
pages are HTML forms, not in the OpenAPI document Schemathesis reads
(tests/service/test_fuzz_openapi.py), so Hypothesis generates these.

Zero server errors; nothing written by a refused request; every answer recorded came
from a well-formed form. PLANTRACK_FUZZ_EXAMPLES sets the cases per route (default 40).
"""

import asyncio
import os
import re
from datetime import timedelta
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.runtime.clock import utcnow
from backend.store.tables import Event
from tests.factories import book, make_clinic, make_referral, page_token
from tests.live_server import serve

EXAMPLES = int(os.environ.get("PLANTRACK_FUZZ_EXAMPLES", "40"))
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')
junk = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", "\x00", "yes\x00", "../../etc/passwd", "' OR 1=1 --", "9" * 400]),
    st.integers().map(str),
)
FIELDS = {
    "q": ("answer", ["yes", "no", "unsure"]),
    "appointments": ("response", ["confirm", "decline", "reschedule"]),
    "rating": ("called", ["yes", "no"]),
    "variant": ("variant", ["A", "B"]),
    "session": ("code", ["123456"]),
    "sign-out": ("everywhere", ["", "yes"]),
    "code": (None, []),
}


def form(field: str | None, good: list[str]):
    """A form for one route: a right value, or junk, with stray fields now and then."""
    values = st.sampled_from(good) if good else st.just("")
    body = (
        st.fixed_dictionaries({field: st.one_of(values, junk)})
        if field
        else st.fixed_dictionaries({})
    )
    extra = st.dictionaries(st.text(min_size=1, max_size=12), junk, max_size=3)
    return st.tuples(body, extra, st.one_of(st.none(), st.sampled_from(["1", "2", "9", "x"])))


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def fuzz(base: str, token: str, ids: dict[str, list[str]], answers: list) -> None:
    with httpx.Client(base_url=base) as client:
        page = client.get(f"/p/{token}")
        csrf = CSRF.search(page.text)[1]

        def ask(method: str, path: str, data: dict | None = None) -> None:
            if method == "GET":
                response = client.get(path)
            else:
                response = client.post(path, data={**(data or {}), "_csrf_token": csrf})
            answers.append((path, response.status_code, response.text[:200]))

        tokens = st.one_of(st.just(token), junk.filter(bool).map(lambda t: quote(t, safe="")))
        queries = st.dictionaries(st.sampled_from(["lang", "done", "sent", "x"]), junk, max_size=2)

        @SETTINGS
        @given(
            which=st.sampled_from(["", "/plan", "/q"]),
            t=tokens,
            query=queries,
            qid=st.one_of(st.sampled_from(ids["mine_q"] + ids["other_q"]), junk),
        )
        def pages(which, t, query, qid):
            path = f"/p/{t}{which}" + (f"/{quote(qid, safe='')}" if which == "/q" else "")
            ask("GET", path + "?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items()))

        pages()
        for route, (field, good) in FIELDS.items():
            forms_of(route, field, good, tokens, ids, ask)()


def forms_of(route, field, good, tokens, ids, ask):
    """Hypothesis' test of one route's form (a factory: @given takes no defaults)."""
    targets = {"q": ids["mine_q"] + ids["other_q"], "appointments": ids["mine_a"] + ids["other_a"]}
    choices = targets.get(route)

    @SETTINGS
    @given(
        t=tokens, target=st.one_of(st.sampled_from(choices or [""]), junk), body=form(field, good)
    )
    def forms(t, target, body):
        data, extra, _ = body
        sub = f"/{quote(target, safe='')}" if choices else ""
        ask("POST", f"/p/{t}/{route}{sub}", {**extra, **data})

    return forms


async def test_the_patient_pages_fuzzed_have_no_server_errors(db, tmp_path):
    now = utcnow()
    clinic = await make_clinic()
    mine = await make_referral(clinic, phone="+79161260001", at=now - timedelta(hours=3))
    other = await make_referral(clinic, phone="+79161260002", at=now - timedelta(hours=3))
    for sent in (mine, other):
        await book(sent.referral_id, now + timedelta(days=1), occurred_at=now - timedelta(hours=2))
    token = await page_token(db.secret_key, mine.referral_id, mine.patient_id, now)
    from backend.store.tables import Appointment, Question

    ids = {
        "mine_q": [
            str(q["id"])
            for q in await Question.select().where(Question.referral == mine.referral_id)
        ],
        "other_q": [
            str(q["id"])
            for q in await Question.select().where(Question.referral == other.referral_id)
        ],
        "mine_a": [
            str(a["id"])
            for a in await Appointment.select().where(Appointment.referral == mine.referral_id)
        ],
        "other_a": [
            str(a["id"])
            for a in await Appointment.select().where(Appointment.referral == other.referral_id)
        ],
    }
    other_events = await Event.count().where(Event.referral == other.referral_id)
    answers: list[tuple[str, int, str]] = []

    with serve(db, tmp_path) as base:
        # Hypothesis drives a blocking client; on a thread, off the test's event loop.
        await asyncio.to_thread(fuzz, base, token, ids, answers)
        log = (tmp_path / "server.log").read_text()

    errors = [a for a in answers if a[1] >= 500]
    assert not errors, errors[:5]
    assert "Traceback" not in log, log[-4000:]
    print(f"fuzz /p/: {len(answers)} requests, statuses {sorted({a[1] for a in answers})}")
    assert len(answers) >= EXAMPLES * (1 + len(FIELDS))
    # Through patient A's link nothing reached the other referral.
    assert await Event.count().where(Event.referral == other.referral_id) == other_events
    # What was recorded came from well-formed forms only.
    for event in await Event.select().where(Event.referral == mine.referral_id):
        payload = event["payload"]
        if event["kind"] == "patient_answer":
            assert event["source"] == "patient_sms" and '"answer"' in str(payload)
            assert any(f'"{a}"' in str(payload) for a in ("yes", "no", "unsure"))
        if event["kind"] == "contact_rating":
            assert event["source"] == "patient_sms"
