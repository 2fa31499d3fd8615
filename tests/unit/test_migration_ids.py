"""Migrations are told apart by their IDs: two with one ID and Piccolo runs only one of
them (branches written in parallel each add theirs)."""

import re
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parents[2] / "backend" / "store" / "migrations"


def test_every_migration_has_its_own_id():
    ids = {}
    for path in sorted(MIGRATIONS.glob("m*.py")):
        found = re.search(r'^ID = "([^"]+)"', path.read_text(), re.MULTILINE)
        assert found, path.name
        assert found[1] not in ids, f"{path.name} and {ids.get(found[1])} share ID {found[1]}"
        ids[found[1]] = path.name
    assert len(ids) >= 19
