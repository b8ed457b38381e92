"""The security branch of the migrations creates exactly the tables the models declare, on
SQLite and PostgreSQL, and seeds the audit head and the roles."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

import khoyte.store.models  # noqa: F401  (every component's tables)
from khoyte.security.models import AuditHead, Role
from khoyte.security.roles import ROLES
from khoyte.store.db import Base, make_engine, migrate, session_factory, session_scope


def _mentions_security(diff: object) -> bool:
    return "sec_" in repr(diff)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_migrations_match_models(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else None
    engine = make_engine(url=url or f"sqlite:///{tmp_path / 'm.sqlite3'}")
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if _mentions_security(d)] == []
    with session_scope(session_factory(engine)) as s:
        head = s.get(AuditHead, 1)
        assert head is not None
        names = {r.code: (r.name_vi, r.name_en) for r in s.scalars(select(Role))}
    assert names == {c: (r.name_vi, r.name_en) for c, r in ROLES.items()}
    engine.dispose()
