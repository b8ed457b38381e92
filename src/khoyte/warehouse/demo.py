"""The demo's hook: ``khoyte demo`` calls :func:`prepare` once the synthetic province is in the
operational store, so the dashboard opens with data."""

from __future__ import annotations

from khoyte.config import Settings


def prepare(settings: Settings) -> None:
    """Bring the warehouse up to date with the store (nothing to do when there is no source)."""
    from khoyte.warehouse.service import Warehouse, store_source

    source = store_source(settings)
    if source is None:
        return
    wh = Warehouse(settings)
    try:
        wh.refresh(source)
    finally:
        wh.close()
