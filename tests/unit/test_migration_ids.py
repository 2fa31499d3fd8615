"""Migration ids are timestamps chosen by hand on parallel branches: two alike make
Piccolo run one and skip the other, silently (a merge once did exactly that)."""

import re
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parents[2] / "backend" / "store" / "migrations"


def test_every_migration_has_its_own_id():
    ids: dict[str, str] = {}
    for path in sorted(MIGRATIONS.glob("m*.py")):
        match = re.search(r'^ID = "([^"]+)"', path.read_text(), re.M)
        assert match, f"{path.name} has no ID"
        assert match.group(1) not in ids, f"{path.name} repeats the id of {ids[match.group(1)]}"
        ids[match.group(1)] = path.name
    assert len(ids) >= 20
