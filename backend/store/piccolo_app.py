"""Piccolo's view of plantrack: one app, its tables and its migrations."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from backend.store.tables import TABLES

APP_CONFIG = AppConfig(
    app_name="plantrack",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=TABLES,
    migration_dependencies=[],
    commands=[],
)
