"""The ledger and the audit log refuse TRUNCATE too; the ledger takes one kind of UPDATE.

m0002 refuses UPDATE and DELETE row by row, but TRUNCATE fires no row trigger: on
PostgreSQL a statement-level trigger now refuses it, unless the session has set
`plantrack.allow_truncate = 'on'` (only the test fixture that empties tables between
tests does). That setting guards against accidents, not against the table's owner, who
could drop the trigger anyway. SQLite has no TRUNCATE (its DELETE without WHERE is still
refused row by row).

Erasure (152-FZ art. 21) must remove a patient's own words while the anonymous ledger
stays for statistics, so the ledger allows exactly one UPDATE: on a patient's statement,
`note` and `comment` in the payload set to null, every other column and key unchanged.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-24T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "append-only: TRUNCATE refused; the ledger's patient free text may be erased"

# The payload keys that hold a patient's free text (backend.domain.events).
FREE_TEXT = ("note", "comment")
UNCHANGED = (
    "id",
    "referral",
    "kind",
    "source",
    "side",
    "actor",
    "occurred_at",
    "recorded_at",
    "idempotency_key",
)

_PG_WITHOUT_TEXT = " ".join(f"- '{k}'" for k in FREE_TEXT)
_PG_REDACTION = " AND ".join(
    [
        "OLD.side = 'patient'",
        f"({', '.join('NEW.' + c for c in UNCHANGED)}) "
        f"IS NOT DISTINCT FROM ({', '.join('OLD.' + c for c in UNCHANGED)})",
        f"NEW.payload {_PG_WITHOUT_TEXT} = OLD.payload {_PG_WITHOUT_TEXT}",
        *(f"coalesce(NEW.payload -> '{k}', 'null'::jsonb) = 'null'::jsonb" for k in FREE_TEXT),
    ]
)

POSTGRES = [
    """
    CREATE FUNCTION plantrack_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF coalesce(current_setting('plantrack.allow_truncate', true), '') = 'on' THEN
            RETURN NULL;
        END IF;
        RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME
            USING ERRCODE = 'P0001';
    END $$
    """,
    *(
        f'CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON "{t}" '
        f"FOR EACH STATEMENT EXECUTE FUNCTION plantrack_no_truncate()"
        for t in ("event", "audit_log")
    ),
    f"""
    CREATE FUNCTION plantrack_ledger_redaction_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' AND {_PG_REDACTION} THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'event is append-only (only a patient''s free text may be erased)'
            USING ERRCODE = 'P0001';
    END $$
    """,
    'DROP TRIGGER event_append_only ON "event"',
    'CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON "event" '
    "FOR EACH ROW EXECUTE FUNCTION plantrack_ledger_redaction_only()",
]

_SQLITE_PATHS = ", ".join(f"'$.{k}'" for k in FREE_TEXT)
_SQLITE_REDACTION = " AND ".join(
    [
        "OLD.side = 'patient'",
        *(f"NEW.{c} IS OLD.{c}" for c in UNCHANGED),
        f"json_remove(NEW.payload, {_SQLITE_PATHS}) = json_remove(OLD.payload, {_SQLITE_PATHS})",
        *(f"json_extract(NEW.payload, '$.{k}') IS NULL" for k in FREE_TEXT),
    ]
)

SQLITE = [
    "DROP TRIGGER event_no_update",
    f'CREATE TRIGGER event_no_update BEFORE UPDATE ON "event" WHEN NOT ({_SQLITE_REDACTION}) '
    "BEGIN SELECT RAISE(ABORT, 'event is append-only'); END",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in SQLITE if engine.engine_type == "sqlite" else POSTGRES:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
