"""The layers of docs/architecture.md, enforced: each package imports only the layers
below it, and no module imports one that imports it back (through any chain of
modules), so the house stays in order after the next change too.

Imports are read from the source (ast), module-level and inside functions alike. An
import that breaks a rule and cannot move yet is listed by file in `STILL_TO_MOVE` (empty
now), so that the list can only shrink: a new violation fails, and so does a listed one
that is gone (then delete its line).
"""

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Layer of a module: the top package for admin/patient_web, else backend's subpackage
# (or root module: app, cli, settings, piccolo_conf).
BASE = {"settings", "runtime", "domain"}
MAY_IMPORT: dict[str, set[str]] = {
    "domain": {"domain"},
    "runtime": {"settings"},
    "settings": {"messages"},  # parses the SMTP URL with the e-mail sender's own parser
    "store": BASE | {"piccolo_conf"},
    "piccolo_conf": {"settings", "store"},
    "auth": BASE,
    "push": BASE,
    "messages": BASE,
    "integrations": BASE,
    "services": BASE | {"store", "auth", "integrations", "push", "messages"},
    "outbox": BASE | {"services", "store", "integrations", "push", "messages"},
    # The web shell counts requests (store.rate_limits) and classifies outages
    # (store.unavailable) itself: a service there would only forward the call.
    "web": BASE | {"services", "store"},
    "routes": BASE | {"services", "web", "auth"},
    "admin": BASE | {"services", "web", "routes"},
    "patient_web": BASE | {"services", "web", "routes"},
    # Composition roots: they put everything together.
    "ops": None,
    "app": None,
    "cli": None,
}

# (file, layer it may not import) — what issue 23 has still to move, nothing else.
STILL_TO_MOVE: set[tuple[str, str]] = set()

# Every query lives in the store: the database's own modules (the drivers, the ORM, the
# tables, the written-out SQL) are imported there and by the composition roots only, so a
# service cannot build a query even with the store's tables in reach.
DATABASE = (
    "piccolo",
    "asyncpg",
    "aiosqlite",
    "sqlite3",
    "psycopg",
    "sqlalchemy",
    "backend.store.tables",
    "backend.store.sql",
)
DATABASE_IMPORTERS = {"store", "piccolo_conf", "ops", "app", "cli"}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] in ("admin", "patient_web"):
        return parts[0]
    if parts[0] != "backend" or len(parts) == 1:
        return None
    return parts[1]


def imported_modules(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from backend import texts` imports backend.texts, not backend itself
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def violations(module: str, source: str) -> set[str]:
    """The layers `module` imports and may not."""
    own = layer_of(module)
    allowed = MAY_IMPORT.get(own or "", set())
    if own is None or allowed is None:
        return set()
    found = set()
    for name in imported_modules(source):
        target = layer_of(name)
        if target and target != own and target not in allowed:
            found.add(target)
    return found


def database_imports(module: str, source: str) -> set[str]:
    """The database's own modules that `module` imports and may not."""
    if layer_of(module) in DATABASE_IMPORTERS | {None}:
        return set()
    return {
        name
        for name in imported_modules(source)
        if any(name == d or name.startswith(f"{d}.") for d in DATABASE)
    }


def project_modules() -> list[tuple[str, Path]]:
    paths = [
        *(ROOT / "backend").rglob("*.py"),
        *(ROOT / "admin").rglob("*.py"),
        *(ROOT / "patient_web").rglob("*.py"),
    ]
    modules = []
    for path in sorted(paths):
        relative = path.relative_to(ROOT)
        if "migrations" in relative.parts:
            continue  # generated for Piccolo's runner; they import only piccolo
        module = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        modules.append((module, path))
    return modules


def project_imports(module: str, source: str, known: Iterable[str], package: str) -> set[str]:
    """The project modules `module` imports, relative imports resolved from `package`
    (the one it is in: itself for an `__init__`); `from m import name` counts as m.name
    when that is a module, else as m."""
    known = set(known)

    def found(name: str) -> str | None:  # the longest known module that `name` is in
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {found(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names |= {found(f"{base}.{alias.name}") or found(base) for alias in node.names}
    return names - {None, module}


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Who imports whom among the project's modules; `sources`: module → (source, is
    it a package's `__init__`)."""
    return {
        module: project_imports(
            module, source, sources, module if is_package else module.rpartition(".")[0]
        )
        for module, (source, is_package) in sources.items()
    }


def shortest_chains(graph: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """The shortest chain of imports from `start` to each module it reaches; `start`
    itself among them when it is on a cycle."""
    chains: dict[str, list[str]] = {}
    frontier = [[start]]
    while frontier:
        reached = []
        for chain in frontier:
            for target in sorted(graph.get(chain[-1], ())):
                if target not in chains:
                    chains[target] = [*chain, target]
                    reached.append(chains[target])
        frontier = reached
    return chains


def import_cycles(graph: dict[str, set[str]]) -> list[str]:
    """One cycle, written out, for each tangle of modules that import each other: the
    shortest through its first module by name, and how many modules the tangle holds."""
    chains = {module: shortest_chains(graph, module) for module in graph}
    cycles, tangled = [], set()
    for module in sorted(graph):
        if module in chains[module] and module not in tangled:
            tangle = {other for other in chains[module] if module in chains[other]}
            tangled |= tangle
            cycles.append(f"{' → '.join(chains[module][module])} ({len(tangle)} modules)")
    return cycles


def project_sources() -> dict[str, tuple[str, bool]]:
    return {
        module: (path.read_text(), path.name == "__init__.py") for module, path in project_modules()
    }


def test_every_layer_of_the_code_is_named_in_the_rules():
    layers = {layer_of(m) for m, _ in project_modules()} - {None}
    assert layers - set(MAY_IMPORT) == set()


def test_each_package_imports_only_the_layers_below_it():
    found = set()
    for module, path in project_modules():
        for target in violations(module, path.read_text()):
            found.add((str(path.relative_to(ROOT)), target))
    assert found - STILL_TO_MOVE == set(), "new imports across the layers"
    assert STILL_TO_MOVE - found == set(), "moved: delete these lines from STILL_TO_MOVE"


def test_queries_live_in_the_store():
    found = set()
    for module, path in project_modules():
        for name in database_imports(module, path.read_text()):
            found.add((str(path.relative_to(ROOT)), name))
    assert found == set(), "the database reached outside backend/store/"


def test_no_module_imports_itself_back():
    """Imports inside functions count: deferring one hides a cycle from Python, not from
    the reader. What two modules both need lives below both."""
    assert import_cycles(import_graph(project_sources())) == [], "modules importing each other"


# A planted violation of each rule is caught: the checker cannot pass by seeing nothing.
PLANTED = [
    ("backend.domain.plans", "from backend.store import ledger"),
    ("backend.domain.plans", "import backend.services.claims"),
    ("backend.store.ledger", "from backend.services import claims"),
    ("backend.integrations.bitrix24", "from backend.services.claims import record"),
    ("backend.integrations.bitrix24", "from backend.store import ledger"),
    ("backend.push.fcm", "from backend.services import notifications"),
    ("backend.messages.sms", "from backend.store import sms"),
    ("backend.services.claims", "from backend.routes import clinic"),
    ("backend.services.claims", "from backend.outbox import worker"),
    ("backend.routes.clinic", "from backend.store import referrals"),
    ("backend.routes.clinic", "from backend.integrations import bitrix24"),
    ("admin.views", "from backend.store.referrals import page"),
    ("patient_web.views", "from backend import store"),
    ("backend.runtime.clock", "from backend.services import claims"),
    ("backend.web.errors", "from backend.routes import patient"),
    ("backend.outbox.worker", "from backend.routes import patient"),
    ("backend.settings", "from backend.store import engine"),
    ("backend.piccolo_conf", "from backend.services import claims"),
    ("backend.auth.tokens", "from backend.store import sessions"),
]

PLANTED_QUERIES = [
    ("backend.services.desk", "from backend.store.tables import Clinic"),
    ("backend.services.desk", "from backend.store import sql"),
    ("backend.services.desk", "from piccolo.query import Select"),
    ("backend.routes.clinic", "import asyncpg"),
    ("backend.web.errors", "from asyncpg.exceptions import CharacterNotInRepertoireError"),
    ("backend.integrations.bitrix24", "import sqlite3"),
    ("admin.views", "from backend.store.tables import Referral"),
    ("patient_web.views", "import aiosqlite"),
]


@pytest.mark.parametrize(("module", "line"), PLANTED)
def test_a_planted_violation_is_caught(module, line):
    assert violations(module, line), f"{module} importing by `{line}` passed the check"


@pytest.mark.parametrize(("module", "line"), PLANTED_QUERIES)
def test_a_planted_query_outside_the_store_is_caught(module, line):
    assert database_imports(module, line), f"{module} importing by `{line}` passed the check"


def test_what_the_rules_allow_passes():
    assert violations("backend.routes.clinic", "from backend.services import claims") == set()
    assert violations("backend.services.claims", "from backend.store import ledger") == set()
    assert violations("backend.cli", "from backend.store import ledger") == set()
    assert (
        database_imports("backend.store.ledger", "from backend.store.tables import Event") == set()
    )
    assert database_imports("backend.services.claims", "from backend.store import ledger") == set()
    assert database_imports("backend.ops.backup", "import sqlite3") == set()


# (module, planted source, the cycle named)
PLANTED_CYCLES = [
    (
        "backend.services.picture_formats",
        "def later():\n    from backend.services import media",  # inside a function
        "backend.services.media → backend.services.picture_formats → backend.services.media"
        " (3 modules)",  # picture_copies too: media → picture_copies → picture_formats
    ),
    (
        "backend.services.patient_links",
        "from backend.services.sms import request_code",
        "backend.services.patient_links → backend.services.sms → backend.services.patient_links"
        " (2 modules)",
    ),
    (
        "backend.store.engine",
        "def later():\n    from . import ledger",  # relative, inside a function
        "backend.store.engine → backend.store.ledger → backend.store.engine (4 modules)",
    ),
    (
        "backend.domain.contact_time",
        "import backend.domain.worklist",  # around through the modules between
        "backend.domain.contact_time → backend.domain.worklist → backend.domain.staff_alerts"
        " → backend.domain.funnel → backend.domain.contact_time (4 modules)",
    ),
]


@pytest.mark.parametrize(
    ("module", "planted", "named"), PLANTED_CYCLES, ids=[m for m, _, _ in PLANTED_CYCLES]
)
def test_a_planted_import_cycle_is_caught_and_named(module, planted, named):
    sources = project_sources()
    source, is_package = sources[module]
    sources[module] = (f"{source}\n{planted}\n", is_package)
    assert import_cycles(import_graph(sources)) == [named]
