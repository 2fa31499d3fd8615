"""Unique keys, composite indexes and append-only triggers, written by hand.

Plain SQL that both SQLite and PostgreSQL accept, except the triggers, which each
engine spells its own way.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T11:05:56:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique keys, indexes, append-only ledger and audit log"

COMMON = [
    # A repeated delivery from the same source is recorded once.
    'CREATE UNIQUE INDEX ux_event_delivery_key ON "event" ("source", "idempotency_key")',
    'CREATE INDEX ix_event_referral_id ON "event" ("referral", "id")',
    'CREATE UNIQUE INDEX ux_plan_referral_version ON "plan" ("referral", "version")',
    'CREATE UNIQUE INDEX ux_plan_item_key ON "plan_item" ("plan", "item_id")',
    'CREATE UNIQUE INDEX ux_tooth_state_key ON "tooth_state" ("plan", "tooth", "phase")',
    'CREATE UNIQUE INDEX ux_question_subject ON "question" ("referral", "milestone", "subject")',
    'CREATE INDEX ix_question_patient_status ON "question" ("patient", "status")',
    'CREATE UNIQUE INDEX ux_verification_milestone ON "verification" ("referral", "milestone")',
    'CREATE UNIQUE INDEX ux_duration_norm_key ON "duration_norm" ("scope", "specialization")',
    'CREATE INDEX ix_outbox_due ON "outbox" ("status", "available_at")',
    'CREATE INDEX ix_referral_clinic_sent ON "referral" ("clinic", "sent_at")',
    'CREATE INDEX ix_referral_patient ON "referral" ("patient", "sent_at")',
    'CREATE INDEX ix_audit_object ON "audit_log" ("object_kind", "object_id")',
    'CREATE INDEX ix_audit_at ON "audit_log" ("at")',
]

APPEND_ONLY = ("event", "audit_log")

POSTGRES = [
    """
    CREATE FUNCTION plantrack_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'P0001';
    END $$
    """,
    *(
        f'CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON "{t}" '
        f"FOR EACH ROW EXECUTE FUNCTION plantrack_append_only()"
        for t in APPEND_ONLY
    ),
]

SQLITE = [
    f'CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON "{t}" '
    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"
    for t in APPEND_ONLY
    for op in ("UPDATE", "DELETE")
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        statements = COMMON + (SQLITE if engine.engine_type == "sqlite" else POSTGRES)
        for sql in statements:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
