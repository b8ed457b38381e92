"""The shape of the house, checked: the web layer is the top floor (nothing below imports it),
components are found by plain imports, and one process opens one SQLAlchemy engine on the
operational store and runs the migrations once (``khoyte.services``)."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

import khoyte
from khoyte.access import HOOK_NAMES, Hooks
from khoyte.config import Settings
from khoyte.services import build_services
from khoyte.web.app import create_app
from tests.gateway_helpers import claim, register_facilities

PACKAGE = Path(khoyte.__file__).parent


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _imports(module: str, tree: ast.Module) -> Iterator[tuple[str, int]]:
    """Every module named by an import anywhere in the file (functions included), with
    relative imports resolved."""
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            yield base, node.lineno
            for alias in node.names:  # `from khoyte import web`
                yield f"{base}.{alias.name}", node.lineno


def test_nothing_below_the_web_layer_imports_it() -> None:
    offenders = [
        f"{name}:{line} imports {target}"
        for name, tree in _modules()
        if not name.startswith("khoyte.web")
        for target, line in _imports(name, tree)
        if target == "khoyte.web" or target.startswith("khoyte.web.")
    ]
    assert offenders == []


def test_components_are_found_by_plain_imports() -> None:
    found = []
    for name, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "import_module":
                found.append(f"{name}:{node.lineno}")
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "importlib"
                and any(a.name == "import_module" for a in node.names)
            ):
                found.append(f"{name}:{node.lineno}")
    assert found == []


def test_the_import_checker_sees_function_level_imports() -> None:
    """The walk above must see what a static graph misses: imports inside functions."""
    tree = ast.parse("def f():\n    from khoyte.web import app\n    import khoyte.web.dashboard\n")
    assert {t for t, _ in _imports("khoyte.gateway.x", tree)} >= {
        "khoyte.web",
        "khoyte.web.app",
        "khoyte.web.dashboard",
    }


def test_every_hook_is_declared_and_documented() -> None:
    fields = [f.name for f in dataclasses.fields(Hooks)]
    assert tuple(fields) == HOOK_NAMES
    tree = ast.parse(inspect.getsource(Hooks))
    body = tree.body[0].body  # type: ignore[attr-defined]
    documented = {
        stmt.target.id
        for stmt, after in itertools.pairwise(body)
        if isinstance(stmt, ast.AnnAssign)
        and isinstance(stmt.target, ast.Name)
        and isinstance(after, ast.Expr)
        and isinstance(after.value, ast.Constant)
        and isinstance(after.value.value, str)
        and len(after.value.value) > 20
    }
    assert documented == set(fields)


@pytest.fixture
def engines() -> Iterator[dict[str, Any]]:
    """Every SQLAlchemy engine that opens a connection, and every Alembic version check —
    from this test's threads: a background thread another test of this worker process left
    running (a daemon poller of an app whose lifespan never ended) is not this process's app."""
    seen: dict[str, Any] = {"engines": set(), "migrations": 0}
    earlier = {t.ident for t in threading.enumerate()} - {threading.get_ident()}

    def on_connect(conn: Any) -> None:
        if threading.get_ident() not in earlier:
            seen["engines"].add(id(conn.engine))

    def on_sql(_conn: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.startswith("SELECT alembic_version.version_num"):  # once per upgrade run
            seen["migrations"] += 1

    event.listen(Engine, "engine_connect", on_connect)
    event.listen(Engine, "before_cursor_execute", on_sql)
    yield seen
    event.remove(Engine, "engine_connect", on_connect)
    event.remove(Engine, "before_cursor_execute", on_sql)


def test_one_engine_and_one_migration_run_per_process(
    tmp_path: Path, engines: dict[str, Any]
) -> None:
    settings = Settings(
        data_dir=tmp_path, open_dashboard=True, warehouse_refresh_seconds=0, small_count_threshold=0
    )  # one visit is read exactly; suppression has its own tests
    build_services(settings, warehouse=False).close()  # a store that exists (a restart)
    engines["engines"].clear()
    engines["migrations"] = 0
    app = create_app(settings)
    assert engines["migrations"] == 1
    services = app.state.services
    tokens = register_facilities(services.intake)
    with TestClient(app) as client:
        r = client.post(
            "/api/v1/submissions",
            content=claim("LK0001"),
            headers={"Authorization": f"Bearer {tokens['82001']}", "Content-Type": "text/xml"},
        )
        assert r.status_code == 201, r.text
        services.warehouse.refresh()  # what the poller does: read the store's versions
        r = client.get("/api/v1/dashboards/kcb", params={"from": "2025-08-01", "to": "2025-08-31"})
        assert r.status_code == 200, r.text
        assert r.json()["visits"]["total"] == 1
        client.get("/api/v1/submissions", headers={"Authorization": f"Bearer {tokens['82001']}"})
    assert engines["engines"] == {id(services.engine)}
    assert engines["migrations"] == 1
    # and every component holds that same engine
    assert services.intake.engine is services.engine
    assert services.source.engine is services.engine
    assert app.state.security.factory is services.sessions
    services.close()


def test_the_command_line_builds_the_same_services(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path), warehouse=False)
    try:
        assert services.warehouse is None
        assert services.intake.engine is services.engine
        assert services.intake.sessions is services.sessions
        assert services.intake.archive is services.archive
    finally:
        services.close()
