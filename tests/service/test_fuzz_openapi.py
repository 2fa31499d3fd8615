"""Schemathesis against the running app's own OpenAPI document, with a valid token for
each kind of caller: zero server errors, every answer conforming to the document
(status codes, content types, headers, bodies), and no "schema validation mismatch"
warning — the document allows nothing the API refuses for being malformed. A stateful
phase follows the document's links (backend/routes/links.py): the patient's journey
(their referrals, the plan screen, its questions and appointments, pictures, devices),
the clinic's claims on its referrals and the exchange's desk, on real objects.

The server is a real uvicorn process on loopback over the test's database, with a small
world in it (two clinics, referrals, staff of every role). Each caller fuzzes the routes
meant for it; with PLANTRACK_FUZZ_ALL=1 it fuzzes every route (the others must answer
with documented refusals; tests/http/test_access_matrix.py checks who may call what).
Logging out and erasure are left out: they would end the session the run uses. The
world's first clinic has the id the documentation's examples use, so the examples reach
a real clinic; the picture upload gets a real referral (the fuzzer cannot guess one) and
real pictures (tests/schemathesis_hooks.py).

CI runs a bounded profile: each caller's own routes, PLANTRACK_FUZZ_EXAMPLES (6) cases
per operation in the fuzzing phase, plus Schemathesis' examples and coverage phases. By
hand, e.g. PLANTRACK_FUZZ_ALL=1 PLANTRACK_FUZZ_EXAMPLES=200 for a long run. The counts of
operations and cases per caller are printed.
"""

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import httpx
import msgspec

from backend.domain.roles import Role
from backend.routes.staff_examples import CLINIC, ITEM, PRICES_IN
from backend.runtime.clock import utcnow
from tests.factories import PLAN, book, make_clinic, make_referral
from tests.http.patient_client import sign_in as patient_sign_in
from tests.http.staff_client import make_staff, sign_in
from tests.live_server import serve

EXAMPLES = int(os.environ.get("PLANTRACK_FUZZ_EXAMPLES", "6"))
EVERY_ROUTE = os.environ.get("PLANTRACK_FUZZ_ALL") == "1"
CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
# Each caller's own part of the API.
OWN = {
    "patient": r"^/api/v1/(me|auth/(patient|refresh))",
    Role.clinic_coordinator.value: r"^/api/v1/clinic/",
    Role.clinic_manager.value: r"^/api/v1/clinic/",
    Role.exchange_operator.value: r"^/api/v1/exchange/",
    Role.exchange_analyst.value: r"^/api/v1/exchange/",
    Role.health_analyst.value: r"^/api/v1/health/",
}


REPO = Path(__file__).resolve().parents[2]
PHONES = ["+79161234567", "8 (916) 765-43-21", "+7 495 123-45-67"]
SIDES = ("exchange", "clinic")


@dataclass
class World:
    tokens: dict[str, str]  # caller → bearer token
    referral: str  # a referral that exists, for the picture upload
    spare_clinic: str  # the clinic the archive route may archive


async def world(base: str) -> World:
    """A signed-in token for the patient and each staff role, over the live server; the
    first clinic has the documentation's example id, and the exchange's price list the
    documentation's example entries, so the documented examples reach real objects."""
    now = utcnow()
    clinic = await make_clinic("Клиника А", clinic_id=UUID(CLINIC))
    spare = await make_clinic("Клиника Б")
    # The patient's referral: its first item has the id the plan revision's example names.
    first = msgspec.structs.replace(PLAN.items[0], item_id=UUID(ITEM))
    plan = msgspec.structs.replace(PLAN, items=[first, *PLAN.items[1:]])
    sent = await make_referral(clinic, "+79161110051", at=now - timedelta(hours=3), plan=plan)
    await make_referral(clinic, phone="+79161110052", at=now - timedelta(hours=3))
    await book(sent.referral_id, now + timedelta(days=1))
    async with httpx.AsyncClient(base_url=base) as client:
        found = {"patient": (await patient_sign_in(client, "+79161110051")).access}
        for role in Role:
            at = clinic if role in (Role.clinic_coordinator, Role.clinic_manager) else None
            found[role.value] = (await sign_in(client, await make_staff(role, at))).token
        priced = await client.put(
            "/api/v1/exchange/prices",
            headers={"authorization": f"Bearer {found[Role.exchange_operator.value]}"},
            json=PRICES_IN,
        )
        assert priced.status_code == 200, priced.text
    return World(tokens=found, referral=str(sent.referral_id), spare_clinic=str(spare))


def configuration(known: World) -> str:
    """schemathesis.toml, each setting with its reason:

    - half the time a body's `clinic_id` is the world's clinic and a patient's phone a
      real number (the other half, whatever the fuzzer makes): a random UUID names no
      clinic and a random string is no phone number, and the rules between a plan's
      fields (its options and their items) are more than JSON Schema can say, so without
      these no generated referral could ever be accepted;

    - the uploads (the exchange's and the clinic's) need a referral that exists (the
      fuzzer cannot guess one); and their coverage phase is off: Schemathesis 4.32's
      multipart-with-`encoding` scenario fills every other required part with "" (here
      `kind` and `phase`, enums) and calls that valid, so the API's 400 for it would
      read as a mismatch (the fuzzing phase sends real pictures and is kept);
    - the clinic's plan revision names the example's item: the referral that has it; a
      worklist outcome must be in the future when it is a call-back, which the document
      can only say in words: it too gets a real referral, so some of its cases can pass;
    - archiving would take the examples' clinic from the rest of the run: the spare one;
    - the stages route asks the clinic's CRM, which is wherever the fuzzer configured it
      (nowhere): its documented 502/503 are what it must answer then, not server errors.
    """
    uploads = [f"POST /api/v1/{side}/referrals/{{referral_id}}/media" for side in SIDES]
    revision = "PUT /api/v1/clinic/referrals/{referral_id}/plan"
    outcomes = "POST /api/v1/clinic/referrals/{referral_id}/outcomes"
    archive = "POST /api/v1/exchange/clinics/{clinic_id}/archive"
    stages = "GET /api/v1/exchange/clinics/{clinic_id}/integration/stages"
    dictionaries = (
        f'[dictionaries.clinics]\nvalues = ["{CLINIC}"]\n\n'
        f"[dictionaries.phones]\nvalues = {json.dumps(PHONES, ensure_ascii=False)}\n\n"
        "[parameters]\n"
        '"body.clinic_id" = { dictionary = "clinics", probability = 0.5 }\n'
        '"body.patient.phone" = { dictionary = "phones", probability = 0.5 }\n\n'
    )
    return (
        dictionaries
        + "".join(
            f'[[operations]]\ninclude-name = "{upload}"\n'
            f'parameters = {{ referral_id = "{known.referral}" }}\n'
            "phases.coverage.enabled = false\n\n"
            for upload in uploads
        )
        + (
            "".join(
                f'[[operations]]\ninclude-name = "{name}"\n'
                f'parameters = {{ referral_id = "{known.referral}" }}\n\n'
                for name in (revision, outcomes)
            )
            + f'[[operations]]\ninclude-name = "{archive}"\n'
            f'parameters = {{ clinic_id = "{known.spare_clinic}" }}\n\n'
            f'[[operations]]\ninclude-name = "{stages}"\n'
            'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "502", "503"]\n'
        )
    )


def fuzz(base: str, caller: str, report: Path, known: World) -> tuple[int, str]:
    token = known.tokens[caller]
    (report.parent / "schemathesis.toml").write_text(configuration(known))
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{base}/schema/openapi.json",
        "--url",
        base,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        # The health department's two reports link to nothing: no stateful phase there.
        "examples,coverage,fuzzing" + ("" if caller == Role.health_analyst.value else ",stateful"),
        "--exclude-path-regex",
        r"(logout|erasure)$",
        *([] if EVERY_ROUTE else ["--include-path-regex", OWN[caller]]),
        "--seed",
        "20261130",
        "--workers",
        "1",
        "--no-color",
        "--suppress-health-check",
        "all",
        "--report",
        # Every request and answer as events too, by hand, to see what a warning is about.
        "junit,ndjson" if os.environ.get("PLANTRACK_FUZZ_EVENTS") else "junit",
        "--report-junit-path",
        str(report),
        "--report-dir",
        str(report.parent),
    ]
    # From the run's own directory, with its own schemathesis.toml (above).
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=900, cwd=report.parent, env=env
    )
    return run.returncode, run.stdout + run.stderr


def counts(output: str) -> tuple[int, int, int]:
    """(operations tested, test cases generated, links followed) from Schemathesis'
    summary."""
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated", output)
    links = re.search(r"API Links: +(\d+) covered", output)
    return (
        int(tested[1]) if tested else 0,
        int(cases[1]) if cases else 0,
        int(links[1]) if links else 0,
    )


def mismatches(output: str) -> list[str]:
    """The operations Schemathesis says mostly refused valid-looking data."""
    found = re.search(r"Schema validation mismatch:.*?\n\n(.*?)\n\n", output, re.S)
    return [line.strip(" -") for line in found[1].splitlines()] if found else []


async def test_the_api_fuzzed_by_every_caller_has_no_server_errors(db, tmp_path):
    with serve(db, tmp_path) as base:
        known = await world(base)
        failed: dict[str, str] = {}
        refused: dict[str, list[str]] = {}
        tally: dict[str, tuple[int, int, int]] = {}
        for caller in known.tokens:
            run_dir = tmp_path / f"fuzz-{caller}"
            run_dir.mkdir()
            code, output = fuzz(base, caller, run_dir / "report.xml", known)
            (tmp_path / f"fuzz-{caller}.txt").write_text(output)
            tally[caller] = counts(output)
            if code != 0:
                failed[caller] = output[-6000:]
            if found := mismatches(output):
                refused[caller] = found
        log = (tmp_path / "server.log").read_text()
    for caller, (operations, cases, links) in tally.items():
        print(f"fuzz {caller}: {operations} operations, {cases} cases, {links} links followed")
    print(f"fuzz total: {sum(c for _, c, _ in tally.values())} cases")
    assert not failed, "\n\n".join(f"--- {c}\n{out}" for c, out in failed.items())
    assert "Traceback" not in log, log[-4000:]
    assert not refused, f"schema validation mismatch: {refused}"
    assert set(tally) == set(OWN)
    # Each caller's run reached its routes and made cases: the check cannot pass empty.
    assert all(operations > 0 and cases > operations for operations, cases, _ in tally.values())
    # The stateful phase followed links for every caller whose routes have them.
    assert all(tally[c][2] > 0 for c in OWN if c != Role.health_analyst.value), tally
