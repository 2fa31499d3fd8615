"""Schemathesis against the running app's own OpenAPI document, with a valid token for
each kind of caller: zero server errors, and every answer conforming to the document
(status codes, content types, headers, bodies).

The server is a real uvicorn process on loopback over the test's database, with a small
world in it (two clinics, referrals, staff of every role). Each caller fuzzes the routes
meant for it; with PLANTRACK_FUZZ_ALL=1 it fuzzes every route (the others must answer
with documented refusals; tests/http/test_access_matrix.py checks who may call what).
Logging out and erasure are left out: they would end the session the run uses.

CI runs a bounded profile: each caller's own routes, PLANTRACK_FUZZ_EXAMPLES (6) cases
per operation in the fuzzing phase, plus Schemathesis' examples and coverage phases. By
hand, e.g. PLANTRACK_FUZZ_ALL=1 PLANTRACK_FUZZ_EXAMPLES=200 for a long run. The counts of
operations and cases per caller are printed.
"""

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx

from backend.clock import utcnow
from backend.domain.roles import Role
from tests.factories import book, make_clinic, make_referral
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


async def tokens(base: str) -> dict[str, str]:
    """A signed-in token for the patient and each staff role, over the live server."""
    now = utcnow()
    clinic = await make_clinic("Клиника А")
    await make_clinic("Клиника Б")
    sent = await make_referral(clinic, phone="+79161110051", at=now - timedelta(hours=3))
    await make_referral(clinic, phone="+79161110052", at=now - timedelta(hours=3))
    await book(sent.referral_id, now + timedelta(days=1))
    async with httpx.AsyncClient(base_url=base) as client:
        found = {"patient": (await patient_sign_in(client, "+79161110051")).access}
        for role in Role:
            at = clinic if role in (Role.clinic_coordinator, Role.clinic_manager) else None
            found[role.value] = (await sign_in(client, await make_staff(role, at))).token
    return found


def fuzz(base: str, caller: str, token: str, report: Path) -> tuple[int, str]:
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
        "examples,coverage,fuzzing",
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
        "junit",
        "--report-junit-path",
        str(report),
    ]
    # From the run's own directory: no stray schemathesis.toml changes the profile.
    run = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=report.parent)
    return run.returncode, run.stdout + run.stderr


def counts(output: str) -> tuple[int, int]:
    """(operations tested, test cases generated) from Schemathesis' summary."""
    tested = re.search(r"Tested: (\d+)", output)
    cases = re.search(r"(\d+) generated", output)
    return int(tested[1]) if tested else 0, int(cases[1]) if cases else 0


async def test_the_api_fuzzed_by_every_caller_has_no_server_errors(db, tmp_path):
    with serve(db, tmp_path) as base:
        by_caller = await tokens(base)
        failed: dict[str, str] = {}
        tally: dict[str, tuple[int, int]] = {}
        for caller, token in by_caller.items():
            code, output = fuzz(base, caller, token, tmp_path / f"fuzz-{caller}.xml")
            (tmp_path / f"fuzz-{caller}.txt").write_text(output)
            tally[caller] = counts(output)
            if code != 0:
                failed[caller] = output[-6000:]
        log = (tmp_path / "server.log").read_text()
    for caller, (operations, cases) in tally.items():
        print(f"fuzz {caller}: {operations} operations, {cases} cases")
    print(f"fuzz total: {sum(c for _, c in tally.values())} cases")
    assert not failed, "\n\n".join(f"--- {c}\n{out}" for c, out in failed.items())
    assert "Traceback" not in log, log[-4000:]
    assert set(tally) == set(OWN)
    # Each caller's run reached its routes and made cases: the check cannot pass empty.
    assert all(operations > 0 and cases > operations for operations, cases in tally.values())
