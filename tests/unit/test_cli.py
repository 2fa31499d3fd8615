"""The `plantrack` command end to end, as a user runs it, on a fresh SQLite file."""

import os
import re
import subprocess
import sys


def plantrack(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_migrate_staff_demo_worker(tmp_path):
    env = {**os.environ, "PLANTRACK_VAR_DIR": str(tmp_path), "PLANTRACK_LOG_LEVEL": "WARNING"}
    env.pop("PLANTRACK_DATABASE_URL", None)
    assert plantrack("migrate", env=env).returncode == 0
    added = plantrack(
        "staff",
        "add",
        "--email",
        "Op@Example.org",
        "--role",
        "exchange_operator",
        "--password",
        "correct horse battery",
        env=env,
    )
    assert added.returncode == 0, added.stderr
    assert "op@example.org (exchange_operator)" in added.stdout
    again = plantrack(
        "staff",
        "add",
        "--email",
        "op@example.org",
        "--role",
        "exchange_operator",
        "--password",
        "correct horse battery",
        env=env,
    )
    assert again.returncode != 0 and "already has an account" in again.stderr
    weak = plantrack(
        "staff",
        "add",
        "--email",
        "c@example.org",
        "--role",
        "clinic_manager",
        "--password",
        "short",
        env=env,
    )
    assert weak.returncode != 0 and "at least 12" in weak.stderr

    demo = plantrack("demo", "--referrals", "6", env=env)
    assert demo.returncode == 0, demo.stderr
    assert "referrals 6" in demo.stdout
    assert "SMS: " in demo.stdout and "per such referral" in demo.stdout
    worker = plantrack("worker", "--once", env=env)
    assert worker.returncode == 0, worker.stderr
    assert "outbox messages handled:" in worker.stdout
    assert (tmp_path / "plantrack.sqlite3").exists()
    report = plantrack("sms-report", env=env)
    assert report.returncode == 0 and "invite" in report.stdout, report.stderr
    # A link to each demo patient's page that still opens; a patient whose referrals are
    # all long over is told so (the demo plays six months: some are).
    links = [plantrack("dev-link", "--phone", f"+7916500000{n}", env=env) for n in range(6)]
    live = [link for link in links if link.returncode == 0]
    assert live, [link.stderr for link in links]
    for link in live:
        assert re.fullmatch(r"http://127\.0\.0\.1:8000/p/[A-Za-z0-9_-]{22}\n", link.stdout)
    for link in links:
        assert link.returncode == 0 or "no referral whose page still opens" in link.stderr


def test_production_without_a_secret_refuses_to_start(tmp_path):
    env = {**os.environ, "PLANTRACK_ENV": "prod", "PLANTRACK_VAR_DIR": str(tmp_path)}
    env.pop("PLANTRACK_SECRET_KEY", None)
    result = plantrack("migrate", env=env)
    assert result.returncode != 0
    assert "refusing to start in production" in result.stderr
