"""The gateway's side of the gateway → warehouse hand-off: the operational store as a
:class:`khoyte.handoff.VersionSource` (``khoyte.warehouse.service.store_source`` looks here)."""

from __future__ import annotations

from khoyte.config import Settings
from khoyte.gateway.intake import ensure_schema
from khoyte.gateway.versions import StoreVersionSource
from khoyte.store.db import make_engine


def store_source(settings: Settings) -> StoreVersionSource:
    engine = make_engine(settings)
    ensure_schema(engine)  # a warehouse started before any server still finds the tables
    return StoreVersionSource(engine)
