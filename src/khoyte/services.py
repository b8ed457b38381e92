"""The composition root's object: every long-lived part of khoyte, built once per process.

``khoyte.web.app.create_app`` and the command line both call :func:`build_services`; nothing
else opens an engine, runs migrations or decides where the warehouse reads from. One SQLAlchemy
engine (one connection pool) serves intake, security and the warehouse's store source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import duckdb
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from khoyte.access import Hooks
from khoyte.config import Settings
from khoyte.gateway.archive import Archive
from khoyte.gateway.intake import IntakeService, ensure_schema, utcnow
from khoyte.gateway.limits import RateLimiter
from khoyte.gateway.metrics import Metrics
from khoyte.gateway.versions import StoreVersionSource
from khoyte.handoff import VersionSource
from khoyte.persons.feed import StorePersonSource
from khoyte.store.db import make_engine, session_factory
from khoyte.validate.policy import settings_policy
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from khoyte.warehouse.transform import FIELDS as WAREHOUSE_FIELDS

log = logging.getLogger(__name__)


class Worker(Protocol):
    """Background work of a component (a thread that starts and stops with the app)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Services:
    settings: Settings
    engine: Engine  # the operational store: the process's only SQLAlchemy engine
    sessions: sessionmaker[Session]
    archive: Archive
    intake: IntakeService
    source: VersionSource | None  # what the warehouse loads from
    warehouse: Warehouse | None  # None: the DuckDB file is held by another process (503)
    hooks: Hooks
    clock: Callable[[], datetime]
    metrics: Metrics = field(default_factory=Metrics)
    limiter: RateLimiter = field(default_factory=lambda: RateLimiter(0))
    # The facility registry (``khoyte.registry``) is tables in the operational store: the
    # gateway reads them, the warehouse is fed from them through ``source``; nothing to hold.
    registry: Any = None
    # Other background work components add (the alert cycle): started and stopped with the app.
    workers: list[Worker] = field(default_factory=list)

    def start(self) -> None:
        """Start background work (``khoyte serve``'s lifespan): the warehouse poller and the
        components' workers."""
        wh, every = self.warehouse, self.settings.warehouse_refresh_seconds
        if wh is not None and self.source is not None and every > 0:
            wh.start_polling(self.source, every)
        for worker in self.workers:
            worker.start()

    def stop(self) -> None:
        """Stop background work and release pooled connections; ``start`` may run again."""
        for worker in self.workers:
            worker.stop()
        if self.warehouse is not None:
            self.warehouse.stop_polling()
        self.engine.dispose()

    def close(self) -> None:
        """Release everything (the warehouse file too): the end of a command or a test."""
        if self.warehouse is not None:
            self.warehouse.close()
        self.engine.dispose()


def version_source(settings: Settings, engine: Engine) -> VersionSource:
    """The folder named by ``KHOYTE_WAREHOUSE_SOURCE`` when one is configured (a development
    tool), else the operational store."""
    if settings.warehouse_source is not None:
        return FileVersionSource(
            settings.warehouse_source,
            max_bytes=settings.max_file_bytes,
            policy=settings_policy(settings),
        )
    return StoreVersionSource(engine, fields=WAREHOUSE_FIELDS)


def build_services(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    warehouse: bool = True,
    migrate: bool = True,
) -> Services:
    """Open the store (migrated once, here), the archive, intake and — unless ``warehouse`` is
    false (commands that never read it, so they can run beside a server holding the DuckDB
    file) — the warehouse with its source handed in."""
    clock = clock or utcnow
    engine = make_engine(settings)
    if migrate:
        ensure_schema(engine)
    sessions = session_factory(engine)
    archive = Archive(settings.archive_dir)
    intake = IntakeService(settings, engine, sessions=sessions, archive=archive, clock=clock)
    source = version_source(settings, engine)
    wh: Warehouse | None = None
    if warehouse:
        try:
            wh = Warehouse(settings, source=source, persons=StorePersonSource(engine))
        except duckdb.IOException:
            # e.g. `khoyte warehouse rebuild` holds the file: dashboards answer 503 meanwhile
            log.exception("cannot open the warehouse %s", settings.duckdb_path)
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        archive=archive,
        intake=intake,
        source=source,
        warehouse=wh,
        hooks=Hooks(),
        clock=clock,
        limiter=RateLimiter(settings.rate_limit_per_minute),
    )
