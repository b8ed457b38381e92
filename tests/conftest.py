"""Shared fixtures: real PostgreSQL (one throwaway database per test worker) and Chromium.

When ``KHOYTE_REQUIRE_POSTGRES=1`` / ``KHOYTE_REQUIRE_CHROMIUM=1`` (CI), a missing component
fails the run instead of skipping the tests that need it.
"""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

PG_ADMIN_URL = os.environ.get(
    "KHOYTE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CHROMIUM = os.environ.get("KHOYTE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """Argon2id at argon2-cffi's ``CHEAPEST`` profile (made for tests) inside the test process.

    The product's parameters cost ≈ 64 MiB and 0.1–0.7 s a hash on this machine; the suite signs
    in some hundreds of times and would spend minutes there, testing argon2-cffi rather than
    khoyte. The hashes are still Argon2id (``$argon2id$…``, verified by the same code), and
    ``tests/test_security_passwords_params.py`` checks the product's own parameters. Servers that
    a test starts as a separate process keep the product's parameters."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from khoyte.security import passwords

    real = passwords._HASHER
    passwords._HASHER = PasswordHasher.from_parameters(CHEAPEST)
    passwords.dummy_hash.cache_clear()
    yield
    passwords._HASHER = real
    passwords.dummy_hash.cache_clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers follow the components a test needs, so `-m "not browser"` / `-m "not postgres"`
    never runs one by accident (tests reaching PostgreSQL through a parametrised fixture carry
    the marker on that parameter)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "chromium_path" in names and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)
        if "pg_url" in names and item.get_closest_marker("postgres") is None:
            item.add_marker(pytest.mark.postgres)


def _missing(what: str, env: str, why: str) -> None:
    if os.environ.get(env) == "1":
        pytest.fail(f"{what} is required ({env}=1) but unavailable: {why}")
    pytest.skip(f"{what} unavailable: {why}")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL database, dropped at the end of the session."""
    name = f"khoyte_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _missing("PostgreSQL", "KHOYTE_REQUIRE_POSTGRES", str(exc).splitlines()[0])
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing("Chromium", "KHOYTE_REQUIRE_CHROMIUM", f"{CHROMIUM} not found")
    return CHROMIUM


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave screenshots and reports (kept after the run)."""
    out = Path(os.environ.get("KHOYTE_TEST_ARTIFACTS", "test-artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """One headless Chromium per test module (Playwright's sync API)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser page that collects Content-Security-Policy violations
    (``page.violations``)."""
    context = browser.new_context()
    pg = context.new_page()
    violations: list[str] = []
    pg.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    pg.violations = violations
    yield pg
    context.close()


@pytest.fixture(scope="session")
def rscript() -> str:
    """Rscript with the ``surveillance`` package: the test oracle for outbreak detection."""
    exe = shutil.which("Rscript")
    if exe is None:
        _missing("R (Rscript)", "KHOYTE_REQUIRE_R", "Rscript not on PATH")
        raise AssertionError  # unreachable
    probe = subprocess.run(  # nosec B603
        [exe, "-e", "suppressMessages(library(surveillance))"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        _missing("R package surveillance", "KHOYTE_REQUIRE_R", probe.stderr.strip()[-200:])
    return exe


@pytest.fixture(scope="session")
def council(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The synthetic assessment council (XML12) shared by ``test_assessments*.py``."""
    from tests.assessment_helpers import make_council

    return make_council(tmp_path_factory)
