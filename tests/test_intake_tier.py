"""The intake tier (``khoyte serve --intake-only``) beside the one full server, and what the full
server refuses: several worker processes over the embedded DuckDB warehouse (docs/operations.md
"Nhiều tiến trình tiếp nhận / scaling intake")."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from khoyte.cli import app as cli_app
from khoyte.config import Settings
from khoyte.gateway.facilities import add_facility, new_token
from khoyte.standards.writer import envelope
from khoyte.store.db import session_scope
from khoyte.web.app import create_intake_app
from tests.factories import record
from tests.gateway_helpers import Server

AUG = {"from": "2025-08-01", "to": "2025-08-31"}


def _file(facility: str, n: int, salt: str) -> bytes:
    recs = [record(f"{salt}{k:04d}", facility=facility, start=datetime(2025, 8, 3 + k % 20, 8))
            for k in range(n)]  # fmt: skip
    return envelope(recs, facility, date(2025, 8, 28))


def test_the_full_server_refuses_several_workers(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli_app, ["serve", "--workers", "2"], env={"KHOYTE_DATA_DIR": str(tmp_path)}
    )
    assert res.exit_code == 2, res.output
    assert "--intake-only" in res.output
    assert "DuckDB" in res.output
    assert "Máy chủ đầy đủ chạy một tiến trình" in res.output  # Vietnamese first


def test_the_intake_app_serves_the_gateway_and_nothing_else(tmp_path: Path) -> None:
    app = create_intake_app(Settings(data_dir=tmp_path))
    services = app.state.services
    assert services.warehouse is None  # never opens the DuckDB file a full server holds
    with session_scope(services.sessions) as s:
        add_facility(s, "82001", "Cơ sở 82001")
        token = new_token(s, "82001")
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    try:
        with TestClient(app) as c:
            assert c.get("/healthz").status_code == 200
            assert c.get("/readyz").status_code == 200
            r = c.post("/api/v1/submissions", content=_file("82001", 2, "IT"), headers=auth)
            assert r.status_code == 201, r.text
            assert (
                r.json()["counts"]["accepted"] + r.json()["counts"]["accepted_with_warnings"] == 2
            )
            again = c.get(r.headers["Location"], headers={"Authorization": auth["Authorization"]})
            assert again.status_code == 200
            assert c.get("/api/v1/submissions").status_code == 401  # guarded as in the full app
            for path in ("/kcb", "/login", "/admin/users", "/api/v1/dashboards/kcb", "/docs"):
                assert c.get(path, params=AUG).status_code == 404, path
    finally:
        services.close()


@pytest.mark.slow  # three server processes
def test_intake_tier_beside_the_full_server_reaches_the_dashboard(tmp_path: Path) -> None:
    data = tmp_path / "data"
    full = Server(data, None, KHOYTE_OPEN_DASHBOARD="true", KHOYTE_SMALL_COUNT_THRESHOLD="0")
    full.start(timeout=300)
    intake = Server(data, None, "--intake-only", "--workers", "2",
                    KHOYTE_RATE_LIMIT_PER_MINUTE="0")  # fmt: skip
    try:
        intake.start(timeout=300)
        settings = Settings(data_dir=data)
        from khoyte.services import build_services

        services = build_services(settings, warehouse=False, migrate=False)
        tokens = {}
        with session_scope(services.sessions) as s:
            for code in ("82001", "82002", "82003"):
                add_facility(s, code, f"Cơ sở {code}")
                tokens[code] = new_token(s, code)
        services.close()
        sent = 0
        with httpx.Client(timeout=60) as http:
            for i in range(12):  # several connections: both worker processes take some
                code = ("82001", "82002", "82003")[i % 3]
                r = http.post(intake.url + "/api/v1/submissions",
                              content=_file(code, 3, f"T{i:02d}"),
                              headers={"Authorization": f"Bearer {tokens[code]}",
                                       "Content-Type": "application/xml",
                                       "Connection": "close"})  # fmt: skip
                assert r.status_code == 201, r.text
                sent += 3
            assert http.get(intake.url + "/kcb").status_code == 404  # no pages in the tier
            deadline, total = time.monotonic() + 30, None
            while time.monotonic() < deadline:  # the full server's poller loads them
                twin = http.get(full.url + "/api/v1/dashboards/kcb", params=AUG).json()
                total = twin["visits"]["total"]
                if total == sent and twin["ready"]:
                    break
                time.sleep(0.3)
        assert total == sent
    finally:
        intake.stop()
        full.stop()
