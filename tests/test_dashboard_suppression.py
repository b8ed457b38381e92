"""Small counts are suppressed in the dashboards' twins and exports for callers who may not
see records (security test 2026-12, F6): no count of people from 1 to threshold − 1 leaves the
server, no hidden cell can be recovered from a published total, and callers with
``view_records`` (or, for completeness, ``data_quality``) get the exact numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request
from fastapi.testclient import TestClient

from khoyte.access import Permission, Principal, Scope
from khoyte.config import Settings
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from khoyte.web.app import create_app
from tests.synth_helpers import generate

P = Permission
T = 5  # the default small_count_threshold
PEOPLE = {"total", "outpatient", "inpatient", "emergencies", "deaths", "bhyt_records", "count",
          "visits", "visits_last_year"}  # fmt: skip
WHO = {
    "leader": {P.VIEW_DASHBOARD, P.EXPORT},
    "records": {P.VIEW_DASHBOARD, P.EXPORT, P.VIEW_RECORDS},
    "quality": {P.VIEW_DASHBOARD, P.EXPORT, P.DATA_QUALITY},
}


def caller(request: Request) -> Principal | None:
    who = request.headers.get("x-test-who")
    if who is None:
        return None
    return Principal("user", who, permissions=frozenset(WHO[who]), scope=Scope.whole_province())


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    synth = tmp_path_factory.mktemp("synth")
    generate(synth, seed=3, population=800, start=date(2025, 1, 1), end=date(2025, 1, 31))
    data_dir = tmp_path_factory.mktemp("data")
    wh = Warehouse(Settings(data_dir=data_dir))
    wh.rebuild(FileVersionSource(synth))
    wh.close()
    app = create_app(Settings(data_dir=data_dir, warehouse_refresh_seconds=0))
    app.state.services.hooks.authenticators.insert(0, caller)
    with TestClient(app) as c:
        yield c
    app.state.services.close()


def _get(c: TestClient, url: str, who: str, **params: str) -> Any:
    r = c.get(url, params=params, headers={"x-test-who": who})
    assert r.status_code == 200, r.text
    return r


def _people(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every count of people in a twin (by key; the by_* breakdowns hold only such counts)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("by_loai_kcb", "by_sex", "by_age_band") and isinstance(v, dict):
                yield from ((f"{k}.{x}", y) for x, y in v.items())
            else:
                yield from _people(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _people(item, key)
    elif key in PEOPLE:
        yield key, node


def _small_facility(c: TestClient) -> str:
    """The facility with the fewest visits in January (a commune station)."""
    rows = _get(c, "/api/v1/dashboards/kcb/breakdown", "records", by="facility",
                **{"from": "2025-01-01", "to": "2025-01-31"}).json()["rows"]  # fmt: skip
    return str(min((r for r in rows if r["visits"]), key=lambda r: r["visits"])["code"])


def _hidden_alone(group: dict[str, Any], total: int | None) -> bool:
    """One hidden cell, and the total published: recoverable by subtraction."""
    return total is not None and sum(1 for v in group.values() if v is None) == 1


def test_no_small_count_leaves_for_aggregate_only_callers(client: TestClient) -> None:
    # a small facility on one day: the finest view a leader can ask for
    fac = _small_facility(client)
    twin_full = _get(client, "/api/v1/dashboards/kcb", "records", **{"from": "2025-01-01",
                     "to": "2025-01-31", "facility": fac}).json()  # fmt: skip
    small = [(k, v) for k, v in _people(twin_full) if isinstance(v, int) and 0 < v < T]
    assert small, "the fixture has no small count: the test would prove nothing"
    for params in (
        {"from": "2025-01-01", "to": "2025-01-31", "facility": fac},
        {"from": "2025-01-07", "to": "2025-01-07"},
        {"from": "2025-01-01", "to": "2025-01-31", "loai_kcb": "03"},
    ):
        twin = _get(client, "/api/v1/dashboards/kcb", "leader", **params).json()
        leaked = [(k, v) for k, v in _people(twin) if isinstance(v, int) and 0 < v < T]
        assert not leaked, (params, leaked)
        assert twin["suppressed_below"] == T
        v = twin["visits"]
        if v["total"] is not None:
            for g in ("by_loai_kcb", "by_sex", "by_age_band"):
                assert not _hidden_alone(v[g], v["total"]), (g, v[g])
            assert not _hidden_alone({"o": v["outpatient"], "i": v["inpatient"]}, v["total"])
        months = {str(i): m["visits"] for i, m in enumerate(twin["monthly"])}
        assert not _hidden_alone(months, v["total"])
        for path, key in (("/api/v1/dashboards/kcb/daily", "daily"),
                          ("/api/v1/dashboards/kcb/breakdown", "rows")):  # fmt: skip
            rows = _get(client, path, "leader", **params).json()[key]
            assert not [r for r in rows if 0 < (r["visits"] or 0) < T]
            assert not _hidden_alone({str(i): r["visits"] for i, r in enumerate(rows)}, v["total"])


def test_the_people_twin_hides_small_counts_of_persons(client: TestClient) -> None:
    """Persons served, re-admissions and referral flows (``/kcb/people``): the record viewer
    sees small counts, the leader none of them."""
    keys = {"served", "discharges", "readmitted", "total", "count", "followed_up"}
    month = {"from": "2025-01-01", "to": "2025-01-31"}
    for params in (month, {**month, "facility": _small_facility(client)}):
        url = "/api/v1/dashboards/kcb/people"
        full = _get(client, url, "records", **params).json()
        small = [(k, v) for k, v in _counts(full, keys) if isinstance(v, int) and 0 < v < T]
        assert small, ("no small count: the test would prove nothing", params)
        assert full["suppressed_below"] == 0
        twin = _get(client, url, "leader", **params).json()
        assert twin["suppressed_below"] == T
        leaked = [(k, v) for k, v in _counts(twin, keys) if isinstance(v, int) and 0 < v < T]
        assert not leaked, (params, leaked)
        flows = {str(i): f["count"] for i, f in enumerate(twin["referrals"]["flows"])}
        assert not _hidden_alone(flows, twin["referrals"]["total"])


def _counts(node: Any, keys: set[str], key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _counts(v, keys, k)
    elif isinstance(node, list):
        for item in node:
            yield from _counts(item, keys, key)
    elif key in keys:
        yield key, node


def test_exports_write_small_counts_as_below_the_threshold(client: TestClient) -> None:
    params = {"from": "2025-01-01", "to": "2025-01-31", "facility": _small_facility(client)}
    seen_marker = False
    for table, column in (("top_icd10", 2), ("by_age_band", 2), ("by_sex", 2), ("daily", 1)):
        url = "/api/v1/dashboards/kcb/export.csv"
        rows = list(csv.reader(io.StringIO(
            _get(client, url, "leader", table=table, **params).content.decode("utf-8-sig"))))  # fmt: skip
        cells = [r[column] for r in rows[1:]]
        assert not [c for c in cells if c.isdigit() and 0 < int(c) < T], (table, cells)
        seen_marker |= f"< {T}" in cells
        full = list(csv.reader(io.StringIO(
            _get(client, url, "records", table=table, **params).content.decode("utf-8-sig"))))  # fmt: skip
        assert f"< {T}" not in [r[column] for r in full[1:]]
    assert seen_marker
    xlsx = _get(client, "/api/v1/dashboards/kcb/export.xlsx", "leader", table="top_icd10", **params)
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")


def test_record_viewers_and_data_quality_get_exact_numbers(client: TestClient) -> None:
    params = {"from": "2025-01-01", "to": "2025-01-31", "facility": _small_facility(client)}
    full = _get(client, "/api/v1/dashboards/kcb", "records", **params).json()
    assert full["suppressed_below"] == 0
    assert all(v is not None for _, v in _people(full))
    comp = _get(client, "/api/v1/dashboards/completeness", "quality",
                **{"from": "2025-01-01", "to": "2025-01-07"}).json()  # fmt: skip
    records = [f["records"] for f in comp["facilities"]]
    assert all(isinstance(n, int) for n in records)
    assert any(0 < n < T for n in records)  # reporting counts stay exact for data quality


@pytest.mark.browser
@pytest.mark.slow  # Chromium
def test_a_suppressed_page_renders_without_errors(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: str, artifacts_dir: Path
) -> None:
    """The KCB page of a small facility, for a visitor without ``view_records`` (the open demo
    dashboard): hidden counts and money show a dash, charts draw, no console error."""

    from playwright.sync_api import sync_playwright

    from tests.browser_helpers import serve
    from tests.conftest import CHROMIUM_ARGS
    from tests.test_dashboard_browser import Page

    synth = tmp_path_factory.mktemp("synth-b")
    generate(synth, seed=3, population=800, start=date(2025, 1, 1), end=date(2025, 1, 31))
    data_dir = tmp_path_factory.mktemp("data-b")
    wh = Warehouse(Settings(data_dir=data_dir))
    wh.rebuild(FileVersionSource(synth))
    wh.close()
    app = create_app(Settings(data_dir=data_dir, warehouse_refresh_seconds=0, open_dashboard=True))
    with serve(app) as base:
        with TestClient(app) as c:
            fac = _small_facility_open(c)
        query = f"from=2025-01-01&to=2025-01-31&facility={fac}"
        twin = httpx_get(f"{base}/api/v1/dashboards/kcb?{query}")
        assert twin["suppressed_below"] == T
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path, headless=True,
                                        args=CHROMIUM_ARGS)  # fmt: skip
            page = Page(browser, 1280, 900)
            shown = page.open(f"{base}/kcb?{query}")
            shown.screenshot(path=str(artifacts_dir / "kcb-suppressed.png"), full_page=True)
            values = {"visits": twin["visits"]["total"], "inpatient": twin["visits"]["inpatient"],
                      "deaths": twin["deaths"], "cost_total": twin["costs"]["total"]}  # fmt: skip
            assert None in values.values(), values  # something is hidden on this page
            for key, value in values.items():
                text = shown.inner_text(f'[data-kpi="{key}"] .value').strip()
                if value is None:
                    assert text == "—", (key, text)
            assert page.errors == [], page.errors
            page.close()
            browser.close()
    app.state.services.close()


def _small_facility_open(c: TestClient) -> str:
    rows = c.get("/api/v1/dashboards/kcb/breakdown", params={"by": "facility",
                 "from": "2025-01-01", "to": "2025-01-31"}).json()["rows"]  # fmt: skip
    known = [r for r in rows if r["visits"] is None]
    return str((known or rows)[-1]["code"])


def httpx_get(url: str) -> Any:
    import httpx

    return httpx.get(url, timeout=30).json()
