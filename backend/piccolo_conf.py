"""Piccolo's configuration module (PICCOLO_CONF=backend.piccolo_conf).

`DB` is whatever engine backend.store.engine has bound (the environment's database
until the app or the CLI binds another): read on each access, so Piccolo's migration
runner and the tables always agree, and the store need not import this module.
"""

from typing import Any

from piccolo.conf.apps import AppRegistry

from backend.store.engine import current_engine

APP_REGISTRY = AppRegistry(apps=["backend.store.piccolo_app"])


def __getattr__(name: str) -> Any:
    if name == "DB":
        return current_engine()
    raise AttributeError(name)
