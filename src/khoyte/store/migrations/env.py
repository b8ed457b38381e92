"""Alembic environment: runs on the engine handed over by ``khoyte.store.db.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import khoyte.store.models  # noqa: F401  (every component's tables on Base)
from khoyte.store.db import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(
    config.get_main_option("sqlalchemy.url") or ""
)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
