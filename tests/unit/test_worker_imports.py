"""A web worker starts without the packages only some requests or the outbox worker need:
each is imported on first use (bench/worker_memory.py measures what that saves), so a
new top-level import of one of them fails here rather than going unnoticed."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# package → who uses it, and where it is imported instead
ON_FIRST_USE = {
    "firebase_admin": "pushes: the outbox worker (backend.app's embedded_worker)",
    "google.auth": "pushes, through firebase-admin",
    "requests": "pushes, through google-auth",
    "PIL": "pictures: backend.services.picture_copies, from media.attach_media",
    "qrcode": "QR codes: staff_auth.qr_svg, plan_print",
    "xlsxwriter": "spreadsheets: routes.exports.table_response",
    "aiosmtplib": "e-mail: messages.email.SmtpMailer.send",
}

STARTS = """
import json, sys
import backend.app
backend.app.create_app_from_env()
print(json.dumps(sorted(sys.modules)))
"""


def test_a_web_worker_starts_without_what_only_some_requests_need(tmp_path: Path):
    env = {
        "PATH": "/usr/bin:/bin",
        "PLANTRACK_DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "PLANTRACK_VAR_DIR": str(tmp_path),
    }
    started = subprocess.run(
        [sys.executable, "-c", STARTS], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert started.returncode == 0, started.stderr[-3000:]
    loaded = set(json.loads(started.stdout.splitlines()[-1]))
    assert "backend.routes.patient" in loaded  # it did build the app
    assert {p for p in ON_FIRST_USE if p in loaded} == set()


def test_the_deferred_packages_are_importable(tmp_path: Path):
    """The other side: each is installed and imports, so first use cannot fail on it."""
    code = f"import importlib; [importlib.import_module(p) for p in {sorted(ON_FIRST_USE)!r}]"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
