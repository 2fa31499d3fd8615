"""Piccolo's configuration module (PICCOLO_CONF=backend.piccolo_conf).

The engine comes from the same settings as the service; backend.store.engine replaces
DB when the app or the CLI configures the database explicitly.
"""

from piccolo.conf.apps import AppRegistry

from backend.settings import database_url
from backend.store.engine import make_engine

DB = make_engine(database_url())

APP_REGISTRY = AppRegistry(apps=["backend.store.piccolo_app"])
