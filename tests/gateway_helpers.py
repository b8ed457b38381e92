"""Helpers for the gateway tests: settings on a tmp data folder, a store on SQLite or on a fresh
PostgreSQL database, claim files, facility credentials, a server started as a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from khoyte.config import Settings
from khoyte.gateway.facilities import add_facility, new_token
from khoyte.gateway.intake import IntakeService
from khoyte.standards.model import Record
from khoyte.standards.writer import envelope
from khoyte.store.db import session_scope
from khoyte.web.app import create_app
from tests.conftest import PG_ADMIN_URL
from tests.factories import record

FAC_A, FAC_B = "82001", "82002"


def claim(ma_lk: str = "LK0001", facility: str = FAC_A, day: int = 1, **kw: object) -> bytes:
    """A valid one-record claim file; ``day`` changes the content for the same MA_LK."""
    rec: Record = record(ma_lk, facility=facility, start=datetime(2025, 8, day, 8, 0), **kw)  # type: ignore[arg-type]
    return envelope([rec], facility, date(2025, 8, 28))


PII_CCCD = "082099526620"  # encodes birth year 1999; the record says 1990
PII_CARD = "XX48282123456"  # not a BHYT card number


def claim_with_identifying_findings(ma_lk: str = "LKPII1", facility: str = FAC_A) -> bytes:
    """A claim whose findings quote a CCCD (wrong birth year) and a card number (bad form)."""
    rec: Record = record(ma_lk, facility=facility)
    rec.episode.values["SO_CCCD"] = PII_CCCD
    rec.episode.values["MA_THE_BHYT"] = [PII_CARD]
    return envelope([rec], facility, date(2025, 8, 28))


def claims(ma_lks: list[str], facility: str = FAC_A) -> bytes:
    recs = [record(m, facility=facility) for m in ma_lks]
    return envelope(recs, facility, date(2025, 8, 28))


def fresh_pg_database() -> Iterator[str]:
    name = f"khoyte_gw_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(
    name="db_url", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def db_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None (SQLite in the data folder) or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    request.getfixturevalue("pg_url")  # skips (or fails in CI) without PostgreSQL
    yield from fresh_pg_database()


def settings_for(tmp_path: Path, db_url: str | None, **kw: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=db_url, **kw)  # type: ignore[arg-type]


@dataclass
class Gateway:
    settings: Settings
    client: TestClient
    service: IntakeService
    tokens: dict[str, str]

    def auth(self, facility: str = FAC_A) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[facility]}"}

    def post_xml(
        self, data: bytes, facility: str = FAC_A, path: str = "/api/v1/submissions"
    ) -> httpx.Response:
        return self.client.post(
            path, content=data, headers={**self.auth(facility), "Content-Type": "application/xml"}
        )


def register_facilities(
    service: IntakeService, codes: tuple[str, ...] = (FAC_A, FAC_B)
) -> dict[str, str]:
    tokens = {}
    with session_scope(service.sessions) as s:
        for i, code in enumerate(codes):
            add_facility(s, code, f"Cơ sở {code}", "huyen", f"2800{i}")
            tokens[code] = new_token(s, code)
    return tokens


@pytest.fixture(name="gateway")
def gateway_fixture(tmp_path: Path, db_url: str | None) -> Iterator[Gateway]:
    settings = settings_for(tmp_path, db_url)
    app = create_app(settings)
    service: IntakeService = app.state.services.intake
    tokens = register_facilities(service)
    with TestClient(app) as client:
        yield Gateway(settings, client, service, tokens)
    service.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``khoyte serve`` in a subprocess (the real thing: uvicorn, a port, signals)."""

    def __init__(self, data_dir: Path, db_url: str | None, *args: str, **env: str) -> None:
        self.args = list(args)  # more `khoyte serve` options (``--workers 2``)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "KHOYTE_DATA_DIR": str(data_dir), **env}
        if db_url:
            self.env["KHOYTE_DATABASE_URL"] = db_url
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"server-{self.port}.log"

    def start(self, timeout: float = 60) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as fh:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "khoyte.cli", "serve", "--port", str(self.port), *self.args],
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
