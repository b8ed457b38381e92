"""The dashboards' HTTP surface: every route declares its permission, the caller's scope limits
every number, the open-dashboard switch, exports (XLSX with Vietnamese headers and the filters
on the sheet, CSV) that carry the same numbers as the JSON twin."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from khoyte.access import Permission, Principal, Scope
from khoyte.config import Settings
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from khoyte.web import dashboard
from khoyte.web.app import create_app
from tests.synth_helpers import generate

PERIOD = {"from": "2025-01-01", "to": "2025-01-31"}
ROUTES = [
    "/kcb", "/completeness", "/api/v1/dashboards/kcb", "/api/v1/dashboards/kcb/daily",
    "/api/v1/dashboards/kcb/breakdown", "/api/v1/dashboards/completeness",
    "/api/v1/dashboards/kcb/export.xlsx", "/api/v1/dashboards/kcb/export.csv",
    "/api/v1/dashboards/completeness/export.csv",
]  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    synth = tmp_path_factory.mktemp("synth")
    generate(synth, seed=3, population=800, start=date(2025, 1, 1), end=date(2025, 1, 31))
    data_dir = tmp_path_factory.mktemp("data")
    wh = Warehouse(Settings(data_dir=data_dir))
    wh.rebuild(FileVersionSource(synth))
    wh.close()
    return synth, data_dir


def scoped(request: Request) -> Principal | None:
    """Test users: ``X-Test-Scope: facility:82001`` / ``commune:28477`` / ``none``."""
    value = request.headers.get("x-test-scope")
    if value is None:
        return None
    kind, _, code = value.partition(":")
    scope = {
        "facility": Scope(facilities=frozenset({code})),
        "commune": Scope(communes=frozenset({code})),
        "province": Scope.whole_province(),
    }.get(kind, Scope())
    perms = {Permission.VIEW_DASHBOARD, Permission.DATA_QUALITY, Permission.EXPORT}
    if kind == "viewer":
        perms = {Permission.VIEW_DASHBOARD}
        scope = Scope.whole_province()
    return Principal(kind="user", name=value, permissions=frozenset(perms), scope=scope)


@pytest.fixture(scope="module")
def client(data: tuple[Path, Path]) -> Iterator[TestClient]:
    # open_dashboard off; exact numbers (small-count suppression: test_dashboard_suppression.py)
    settings = Settings(data_dir=data[1], warehouse_refresh_seconds=0, small_count_threshold=0)
    app = create_app(settings)
    app.state.services.hooks.authenticators.insert(0, scoped)
    with TestClient(app) as c:
        yield c
    app.state.services.close()


def get(client: TestClient, url: str, who: str | None, **params: str) -> Any:
    headers = {"x-test-scope": who} if who else {}
    return client.get(url, params={**PERIOD, **params}, headers=headers)


def test_every_dashboard_route_declares_a_permission() -> None:
    mine = [
        r
        for r in dashboard.router.routes  # a module-level router: its routes can be imported
        if isinstance(r, APIRoute) and (r.path == "/" or "dashboards" in r.path or r.path in ROUTES)
    ]
    assert len(mine) >= 9  # /, /kcb, /completeness and the twins (static files are a mount)
    for route in mine:
        perms = [getattr(d.call, "permission", None) for d in route.dependant.dependencies]
        assert any(p is not None for p in perms), route.path


@pytest.mark.parametrize("url", ROUTES)
def test_anonymous_callers_are_refused_unless_the_dashboard_is_open(
    client: TestClient, url: str
) -> None:
    r = get(client, url, None)
    assert r.status_code == 401
    if url.startswith("/api"):
        assert r.json()["error"]["code"] == "unauthenticated"


def test_open_dashboard_setting(data: tuple[Path, Path]) -> None:
    app = create_app(Settings(data_dir=data[1], open_dashboard=True, warehouse_refresh_seconds=0))
    try:
        with TestClient(app) as c:
            assert c.get("/api/v1/dashboards/kcb", params=PERIOD).status_code == 200
            assert c.get("/kcb", params=PERIOD).status_code == 200
            assert c.get("/", follow_redirects=False).headers["location"] == "/kcb"
    finally:
        app.state.services.close()


def test_permissions_are_checked_per_route(client: TestClient) -> None:
    assert get(client, "/api/v1/dashboards/kcb", "viewer").status_code == 200
    assert get(client, "/api/v1/dashboards/completeness", "viewer").status_code == 403
    assert get(client, "/api/v1/dashboards/kcb/export.csv", "viewer").status_code == 403


def test_static_files_are_public_and_confined(client: TestClient) -> None:
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/static/site.css").status_code == 200
    assert client.get("/static/vendor/echarts.min.js").status_code == 200
    for bad in (
        "/static/../dashboard.py",
        "/static/%2e%2e/dashboard.py",
        "/static/nope.js",
        "/static/%00",  # F23: a malformed path is simply not found
        "/static/",
        "/static/vendor",
    ):
        assert client.get(bad).status_code == 404, bad


def test_scope_limits_every_number(client: TestClient) -> None:
    whole = get(client, "/api/v1/dashboards/kcb", "province").json()
    rows = get(client, "/api/v1/dashboards/kcb/breakdown", "province", by="facility").json()["rows"]
    fac = rows[0]
    mine = get(client, "/api/v1/dashboards/kcb", f"facility:{fac['code']}").json()
    assert mine["visits"]["total"] == fac["visits"] < whole["visits"]["total"]
    assert mine["facilities_reporting"] == 1
    # asking for another facility's numbers gives nothing
    other = rows[1]["code"]
    asked = get(client, "/api/v1/dashboards/kcb", f"facility:{fac['code']}", facility=other).json()
    assert asked["visits"]["total"] == 0
    # breakdown, daily, completeness and exports follow the scope too
    only = get(client, "/api/v1/dashboards/kcb/breakdown", f"facility:{fac['code']}", by="facility")
    assert [r["code"] for r in only.json()["rows"]] == [fac["code"]]
    daily = get(client, "/api/v1/dashboards/kcb/daily", f"facility:{fac['code']}").json()["daily"]
    assert sum(d["visits"] for d in daily) == fac["visits"]
    comp = get(client, "/api/v1/dashboards/completeness", f"facility:{fac['code']}").json()
    assert [f["facility"] for f in comp["facilities"]] == [fac["code"]]
    exported = get(
        client, "/api/v1/dashboards/kcb/export.csv", f"facility:{fac['code']}", table="facility"
    )
    csv_rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r[0] for r in csv_rows[1:]] == [fac["code"]]
    # a commune scope sees the facilities of that commune
    communes = get(client, "/api/v1/dashboards/kcb/breakdown", "province", by="commune").json()
    c = communes["rows"][0]
    in_commune = get(client, "/api/v1/dashboards/kcb", f"commune:{c['code']}").json()
    assert in_commune["visits"]["total"] == c["visits"]
    # an empty scope sees nothing at all
    nothing = get(client, "/api/v1/dashboards/kcb", "none").json()
    assert nothing["visits"]["total"] == 0
    assert nothing["top_icd10"] == []
    assert get(client, "/api/v1/dashboards/completeness", "none").json()["facilities"] == []


def test_xlsx_export_has_vietnamese_headers_filters_and_the_twins_numbers(
    client: TestClient,
) -> None:
    twin = get(client, "/api/v1/dashboards/kcb", "province", tier="xa").json()
    r = get(
        client, "/api/v1/dashboards/kcb/export.xlsx", "province", tier="xa", table="by_loai_kcb"
    )
    assert r.status_code == 200
    assert "spreadsheetml" in r.headers["content-type"]
    ws = load_workbook(io.BytesIO(r.content)).active
    cells = [list(row) for row in ws.iter_rows(values_only=True)]
    assert cells[0][0] == "Lượt KCB theo hình thức"
    labels = {row[0]: row[1] for row in cells[1:7] if row and row[0]}
    assert labels["Từ ngày"] == "2025-01-01"
    assert labels["Tuyến"] == "xa (Trạm y tế xã)"
    assert labels["Cơ sở KCB"] == "Tất cả"
    head = next(i for i, row in enumerate(cells) if row[0] == "Mã")
    assert cells[head] == ["Mã", "Nhóm", "Số lượt"]
    got = {row[0]: row[2] for row in cells[head + 1 :]}
    assert got == twin["visits"]["by_loai_kcb"]
    assert ws.freeze_panes is not None


def test_csv_exports_of_every_table(client: TestClient) -> None:
    twin = get(client, "/api/v1/dashboards/kcb", "province").json()
    for table in ("summary", "by_loai_kcb", "by_sex", "by_age_band", "top_icd10", "monthly",
                  "daily", "commune", "facility"):  # fmt: skip
        r = get(client, "/api/v1/dashboards/kcb/export.csv", "province", table=table)
        assert r.status_code == 200, table
        assert r.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
        assert len(rows) > 1, table
    r = get(client, "/api/v1/dashboards/kcb/export.csv", "province", table="top_icd10")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0] == ["Mã", "Tên", "Số lượt"]
    assert [(x[0], int(x[2])) for x in rows[1:]] == [
        (t["code"], t["count"]) for t in twin["top_icd10"]
    ]
    en = get(client, "/api/v1/dashboards/kcb/export.csv", "province", table="summary", lang="en")
    assert en.content.decode("utf-8-sig").splitlines()[0] == "Name,Value"
    comp = get(client, "/api/v1/dashboards/completeness/export.xlsx", "province")
    assert comp.status_code == 200
    assert get(client, "/api/v1/dashboards/kcb/export.pdf", "province").status_code == 404
    assert (
        get(client, "/api/v1/dashboards/kcb/export.csv", "province", table="x").status_code == 422
    )


def test_completeness_counts_days_records_and_silence(
    client: TestClient, data: tuple[Path, Path]
) -> None:
    body = get(client, "/api/v1/dashboards/completeness", "province", unit="day").json()
    facs = body["facilities"]
    total_records = sum(f["records"] for f in facs)
    twin = get(client, "/api/v1/dashboards/kcb", "province").json()
    assert total_records == twin["visits"]["total"]  # clean data: every record accepted
    assert all(f["rejected"] == 0 for f in facs)
    # one day per (facility, day) cell: the grid agrees with days_with_data
    per_fac: dict[str, int] = {}
    for g in body["grid"]:
        per_fac[g["facility"]] = per_fac.get(g["facility"], 0) + 1
    assert {f["facility"]: f["days_with_data"] for f in facs if f["days_with_data"]} == per_fac
    # silence is measured back from the end of the period
    late = get(client, "/api/v1/dashboards/completeness", "province",
               **{"from": "2025-01-01", "to": "2025-03-31"}).json()  # fmt: skip
    assert {f["facility"] for f in late["facilities"]} == set(late["silent"])
    assert all(f["silent_days"] is None or f["silent_days"] >= 59 for f in late["facilities"])
    assert sum(r["facilities"] for r in body["reporting"]) == len(body["grid"])


def test_a_locked_warehouse_gives_503_not_a_crash(tmp_path: Path) -> None:
    import subprocess
    import sys

    data = tmp_path / "data"
    Warehouse(Settings(data_dir=data)).close()
    # another process holds the DuckDB file open for writing
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys, time; c = duckdb.connect({str(data / 'warehouse.duckdb')!r}); "
         "print('ok', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "ok"
        app = create_app(Settings(data_dir=data, open_dashboard=True, warehouse_refresh_seconds=0))
        with TestClient(app) as c:
            r = c.get("/api/v1/dashboards/kcb", params=PERIOD)
            assert r.status_code == 503
            assert r.json()["error"]["code"] == "unavailable"
    finally:
        holder.kill()
        holder.wait()
