"""Plan variants as StomPRO shows them (issue 19): each variant's title, pros and cons;
visit-problem-solution explanations; an after-chart per variant; the variant that counts
on the referral row; the clinic's choice whether patients see prices; who uploaded a
picture. (The keys of the new rows are migration m0028: Piccolo runs a migration's raw
statements before its tables exist.)"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete, OnUpdate
from piccolo.columns.column_types import (
    UUID,
    Boolean,
    ForeignKey,
    SmallInt,
    Text,
    Varchar,
)
from piccolo.columns.defaults.uuid import UUID4
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table

ID = "2026-12-02T09:27:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "plan variants, explanations, per-variant charts, prices shown to patients"


class Plan(Table, tablename="plan", schema=None):
    id = UUID(
        default=UUID4(),
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name=None,
        secret=False,
    )


def _params(**given):
    return {
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
        **given,
    }


def _plan_fk():
    return _params(
        references=Plan,
        on_delete=OnDelete.restrict,
        on_update=OnUpdate.cascade,
        target_column=None,
        index=True,
    )


NEW_TABLES = {
    ("PlanVariant", "plan_variant"): (
        ("id", UUID, _params(default=UUID4(), primary_key=True)),
        ("plan", ForeignKey, _plan_fk()),
        ("variant", Varchar, _params(length=8, default="")),
        ("position", SmallInt, _params(default=0)),
        ("title_ru", Text, _params(default="")),
        ("title_en", Text, _params(default="")),
        ("pros_ru", Text, _params(default="")),
        ("pros_en", Text, _params(default="")),
        ("cons_ru", Text, _params(default="")),
        ("cons_en", Text, _params(default="")),
    ),
    ("PlanExplanation", "plan_explanation"): (
        ("id", UUID, _params(default=UUID4(), primary_key=True)),
        ("plan", ForeignKey, _plan_fk()),
        ("position", SmallInt, _params(default=0)),
        ("variant", Varchar, _params(length=8, default=None, null=True)),
        ("stage", SmallInt, _params(default=None, null=True)),
        ("item_id", UUID, _params(default=None, null=True)),
        ("visit", SmallInt, _params(default=None, null=True)),
        ("problem_ru", Text, _params(default="")),
        ("problem_en", Text, _params(default="")),
        ("solution_ru", Text, _params(default="")),
        ("solution_en", Text, _params(default="")),
        ("specialists", Varchar, _params(length=200, default="")),
    ),
}

NEW_COLUMNS = (
    ("Clinic", "clinic", "show_prices_to_patients", Boolean, _params(default=True)),
    ("Referral", "referral", "chosen_variant", Varchar, _params(length=8, default=None, null=True)),
    (
        "Referral",
        "referral",
        "variant_chosen_by",
        Varchar,
        _params(length=10, default=None, null=True),
    ),
    ("ToothState", "tooth_state", "variant", Varchar, _params(length=8, default=None, null=True)),
    ("Media", "media", "uploaded_by", Varchar, _params(length=120, default="")),
)

async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="plantrack", description=DESCRIPTION)
    for (class_name, tablename), columns in NEW_TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column_class, params in columns:
            manager.add_column(
                table_class_name=class_name,
                tablename=tablename,
                column_name=name,
                db_column_name=name,
                column_class_name=column_class.__name__,
                column_class=column_class,
                params=params,
                schema=None,
            )
    for class_name, tablename, name, column_class, params in NEW_COLUMNS:
        manager.add_column(
            table_class_name=class_name,
            tablename=tablename,
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )

    return manager
