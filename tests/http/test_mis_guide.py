"""The signing examples in docs/mis-webhooks.md, run as written, are accepted by the app:
a vendor who copies one gets a 202."""

import asyncio
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.http.integration_client import event_count, send, work
from tests.http.test_mis_webhooks import event, setup

GUIDE = Path(__file__).parents[2] / "docs" / "mis-webhooks.md"


def snippet(language: str, index: int = 0) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return blocks[index]


def output(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, check=True, text=True).stdout


async def deliver(client, path, body: bytes, headers: dict) -> None:
    answer = await client.post(path, content=body, headers=headers)
    assert answer.status_code == 202, answer.text


async def referral(client):
    ex, clinic_id, path, secret = await setup(client)
    sent = await send(client, ex, clinic_id, "+79161234590", "Анна Иванова")
    return sent["id"], path, secret


async def test_the_python_example(client, db):
    rid, path, secret = await referral(client)
    scope: dict = {}
    exec(snippet("python"), scope)  # noqa: S102 - our own document
    body, headers = scope["signed_request"](secret, event("visit.happened", rid))
    before = await event_count(rid)
    await deliver(client, path, body, headers)
    await work(db)
    recorded = await event_count(rid)
    assert recorded > before
    again = await client.post(path, content=body, headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"]
    await work(db)
    assert await event_count(rid) == recorded


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
async def test_the_node_example(client, db, tmp_path):
    rid, path, secret = await referral(client)
    module = tmp_path / "sign.mjs"
    module.write_text(
        snippet("js")
        + f"\nconst r = signedRequest({json.dumps(secret)}, "
        + json.dumps(event("visit.happened", rid))
        + ");\nconsole.log(JSON.stringify({body: r.body.toString(), headers: r.headers}));\n"
    )
    out = json.loads(await asyncio.to_thread(output, ["node", str(module)]))
    await deliver(client, path, out["body"].encode(), out["headers"])


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("openssl", "xxd", "base64")),
    reason="openssl, xxd or base64 missing",
)
async def test_the_shell_example(client, db):
    rid, path, secret = await referral(client)
    script = snippet("sh")
    script = re.sub(r"^SECRET=.*$", f"SECRET={secret}; URL=http://x{path}", script, flags=re.M)
    script = script.replace('"referral_id":"..."', f'"referral_id":"{rid}"')
    # curl's arguments, one per line, instead of a request: the test posts them itself
    fake_curl = 'curl() { printf "%s\\n" "$@"; }\n'
    lines = (await asyncio.to_thread(output, ["bash", "-c", fake_curl + script])).splitlines()
    headers = dict(lines[i + 1].split(": ", 1) for i, arg in enumerate(lines) if arg == "-H")
    body = lines[lines.index("--data-binary") + 1]
    await deliver(client, path, body.encode(), headers)
