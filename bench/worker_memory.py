"""A web worker's resident memory before it serves anything: what importing the app and
building it cost, and which packages the cost comes from.

    python -m bench.worker_memory                  # this tree
    python -m bench.worker_memory --against main   # and a git ref beside it, in one run
    python -m bench.worker_memory --smoke          # one run each, nothing recorded

Each figure comes from a fresh interpreter (`python -c`), as a server's worker starts:
RSS (VmRSS) and its peak (VmHWM) after `import backend.app`, then after
`create_app_from_env()`; the median of `--runs` processes. A separate process, with
`__import__` wrapped, notes the RSS before and after the first import of each top-level
package (of backend: of each layer); its own share is that delta less the packages it
pulled in first, so the shares add up to the whole import. `--against REF` measures REF
from a temporary `git worktree` with the same interpreter and packages, so the two
differ only in code.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median

from bench.common import record, sized

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter whose working directory is the tree measured.
FIGURES = r"""
import json, sys
def mem():
    kb = {}
    for line in open("/proc/self/status"):
        if line.startswith(("VmRSS:", "VmHWM:")):
            kb[line.split(":")[0]] = int(line.split()[1])
    return kb["VmRSS"] / 1024, kb["VmHWM"] / 1024
out = {}
import backend.app
out["import"] = mem()
out["modules"] = len(sys.modules)
out["source"] = backend.app.__file__
backend.app.create_app_from_env()
out["create_app"] = mem()
out["modules_app"] = len(sys.modules)
print("FIGURES " + json.dumps(out))
"""

SHARES = r"""
import builtins, json, sys
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1024 / 1024
real_import = builtins.__import__
own = {}
stack = []
def counting_import(name, globals=None, locals=None, fromlist=(), level=0):
    # the project's own code by layer (backend.services, backend.routes, ...)
    parts = name.split(".")
    top = ".".join(parts[:2]) if parts[0] == "backend" else parts[0]
    if level or top in sys.modules or any(top == t for t, _ in stack):
        return real_import(name, globals, locals, fromlist, level)
    stack.append((top, rss()))
    nested_before = sum(own.values())
    try:
        return real_import(name, globals, locals, fromlist, level)
    finally:
        _, before = stack.pop()
        nested = sum(own.values()) - nested_before
        own[top] = own.get(top, 0.0) + (rss() - before) - nested
builtins.__import__ = counting_import
import backend.app
builtins.__import__ = real_import
print("SHARES " + json.dumps(own))
"""


def env_for(work: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PLANTRACK_DATABASE_URL": f"sqlite:///{work / 'memory.db'}",
        "PLANTRACK_VAR_DIR": str(work / "var"),
        "PLANTRACK_LOG_LEVEL": "WARNING",
    }


def run_probe(code: str, tree: Path, work: Path, tag: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tree,
        env=env_for(work),
        capture_output=True,
        text=True,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(tag + " "):
            return json.loads(line.removeprefix(tag + " "))
    sys.exit(f"bench.worker_memory: the probe failed in {tree.name}:\n{done.stderr[-3000:]}")


def measure(tree: Path, work: Path, runs: int) -> dict:
    figures = [run_probe(FIGURES, tree, work, "FIGURES") for _ in range(runs)]
    if not Path(figures[0]["source"]).is_relative_to(tree):
        sys.exit(f"bench.worker_memory: imported {figures[0]['source']}, not {tree}'s code")
    return {
        "import_rss": median(f["import"][0] for f in figures),
        "import_peak": median(f["import"][1] for f in figures),
        "app_rss": median(f["create_app"][0] for f in figures),
        "app_peak": median(f["create_app"][1] for f in figures),
        "modules": figures[0]["modules"],
        "modules_app": figures[0]["modules_app"],
        "shares": run_probe(SHARES, tree, work, "SHARES"),
    }


@contextmanager
def checked_out(ref: str, work: Path) -> Iterator[Path]:
    """REF's code in a temporary `git worktree` (removed afterwards)."""
    path = work / "against"
    git = ["git", "-C", str(ROOT)]
    subprocess.run(
        [*git, "worktree", "add", "--detach", str(path), ref], check=True, capture_output=True
    )
    try:
        yield path
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(path)], check=False)


def describe(label: str, m: dict) -> list[str]:
    top = sorted(m["shares"].items(), key=lambda kv: -kv[1])[:12]
    return [
        f"{label}: after `import backend.app` RSS {m['import_rss']:.1f} MB "
        f"(peak {m['import_peak']:.1f} MB, {m['modules']:,} modules); "
        f"after `create_app_from_env()` RSS {m['app_rss']:.1f} MB "
        f"(peak {m['app_peak']:.1f} MB, {m['modules_app']:,} modules)",
        f"{label}, RSS by top-level package at import (own share, MB): "
        + ", ".join(f"{name} {mb:.1f}" for name, mb in top),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--against", help="a git ref measured beside this tree, e.g. main")
    parser.add_argument("--runs", type=int, default=5, help="processes per figure (median)")
    args = sized(parser, smoke={"runs": 1})
    with tempfile.TemporaryDirectory(prefix="plantrack-memory-") as tmp:
        work = Path(tmp)
        lines = [f"fresh interpreter per figure, median of {args.runs}; SQLite settings"]
        if args.against:
            with checked_out(args.against, work) as tree:
                before = measure(tree, work, args.runs)
            lines += describe(f"{args.against} (before)", before)
        after = measure(ROOT, work, args.runs)
        lines += describe("this tree", after)
        if args.against:
            lines.append(
                f"change: import RSS {after['import_rss'] - before['import_rss']:+.1f} MB "
                f"(peak {after['import_peak'] - before['import_peak']:+.1f} MB), "
                f"after create_app RSS {after['app_rss'] - before['app_rss']:+.1f} MB "
                f"(peak {after['app_peak'] - before['app_peak']:+.1f} MB), "
                f"modules {after['modules_app'] - before['modules_app']:+,}"
            )
    record("web worker memory at start", lines)


if __name__ == "__main__":
    main()
