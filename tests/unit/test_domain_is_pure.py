"""backend/domain imports nothing but the standard library, msgspec and itself."""

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "backend" / "domain"
ALLOWED_THIRD_PARTY = {"msgspec"}
# Standard-library modules that do I/O or talk to the outside have no place here either.
FORBIDDEN_STDLIB = {
    "asyncio",
    "socket",
    "ssl",
    "sqlite3",
    "http",
    "urllib.request",
    "subprocess",
    "os",
    "io",
    "shutil",
    "pathlib",
    "tempfile",
}


def forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN_STDLIB)


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module)
    return roots


def test_domain_modules_import_only_stdlib_msgspec_and_the_domain():
    modules = sorted(DOMAIN.glob("*.py"))
    assert len(modules) > 5
    offenders = {}
    for path in modules:
        for name in imported_roots(path):
            top = name.split(".")[0]
            if name.startswith("backend."):
                ok = name.startswith("backend.domain")
            elif top in sys.stdlib_module_names:
                ok = not forbidden(name)
            else:
                ok = top in ALLOWED_THIRD_PARTY
            if not ok:
                offenders.setdefault(path.name, []).append(name)
    assert offenders == {}
