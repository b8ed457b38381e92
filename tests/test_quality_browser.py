"""The data-quality workspace in real Chromium: the specialist's overview drills down to the
records, the facility's list exports and links each record to its receipt, nothing raises a
console error, and both pages fit a phone (390×844) and a wide screen (1920×1080).
Screenshots go to the artifacts folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.browser_helpers import Person as BasePerson
from tests.browser_helpers import serve
from tests.gateway_helpers import FAC_A, FAC_B, register_facilities
from tests.quality_helpers import load
from tests.security_helpers import Env, make_env

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PERIOD = "from=2025-08-01&to=2025-10-31"
SIZES = {"phone": (390, 844), "wide": (1920, 1080)}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    data = tmp_path_factory.mktemp("data")
    mp = pytest.MonkeyPatch()
    env = make_env(data, mp, warehouse_refresh_seconds=0)
    mp.undo()
    services = env.app.state.services
    tokens = register_facilities(services.intake)
    with TestClient(env.app) as client:
        load(client, services, tokens)
    env.add_user("chuyenvien", ["doh_specialist"], ["province"])
    env.add_user("nhanvien", ["facility_staff"], [f"facility:{FAC_A}"])
    with serve(env.app) as base:
        yield env, base
    services.close()


class Person(BasePerson):
    def __init__(self, browser: Any, size: tuple[int, int]) -> None:
        super().__init__(browser, *size)


def rows(page: Any, selector: str, attr: str) -> list[str]:
    return list(page.eval_on_selector_all(selector, f"es => es.map(e => e.getAttribute('{attr}'))"))


@pytest.mark.parametrize("size", sorted(SIZES))
def test_specialist_overview_and_drill_down(
    site: tuple[Env, str], browser: Any, artifacts_dir: Path, size: str
) -> None:
    _, base = site
    p = Person(browser, SIZES[size])
    try:
        p.sign_in(base, "chuyenvien")
        page = p.page
        response = page.goto(f"{base}/quality?{PERIOD}")
        assert response.status == 200
        assert page.inner_text("#page-title") == "Chất lượng dữ liệu"
        assert "/quality" in rows(page, "#site-nav a[aria-current=page]", "href")[0]
        assert sorted(rows(page, "#q-facilities tbody tr", "data-facility")) == [FAC_A, FAC_B]
        assert rows(page, "#q-trend tbody tr", "data-month") == ["2025-08", "2025-09", "2025-10"]
        assert page.locator("#q-rules tbody tr[data-code]").count() >= 3
        assert page.locator("#q-facilities [data-convention=GDV_ZERO]").count() == 2
        assert page.locator("#q-worst li").count() == 2
        assert p.fits(), "the page scrolls sideways"
        page.screenshot(path=str(artifacts_dir / f"quality-specialist-{size}.png"), full_page=True)
        # what a rule means and how to fix it, opened in place
        first = page.locator("#q-rules tbody tr[data-code] details").first
        first.locator("summary").click()
        assert first.locator("p").first.inner_text().strip() != ""
        # the facility-wide XLSX export answers a spreadsheet
        href = page.get_attribute("#export-facilities", "href")
        got = p.ctx.request.get(f"{base}{href}")
        assert got.status == 200
        assert "spreadsheetml" in got.headers["content-type"]
        # drill: a rule → its records, all carrying it
        code = page.get_attribute("#q-rules tbody tr[data-code]", "data-code")
        page.click(f"#q-rules tr[data-code='{code}'] a.drill")
        page.wait_for_url("**/findings?**")
        listed = page.locator("#f-records tbody tr[data-ma-lk]")
        assert listed.count() > 0
        for i in range(listed.count()):
            codes = (
                listed.nth(i)
                .locator("li[data-code]")
                .evaluate_all("es => es.map(e => e.getAttribute('data-code'))")
            )
            assert code in codes
        assert page.input_value("#q-code") == code
        assert p.fits(), "the list scrolls sideways"
        page.screenshot(path=str(artifacts_dir / f"quality-drill-{size}.png"), full_page=True)
        assert p.errors == []
    finally:
        p.ctx.close()


@pytest.mark.parametrize("size", sorted(SIZES))
def test_facility_list_filters_exports_and_links_receipts(
    site: tuple[Env, str], browser: Any, artifacts_dir: Path, size: str
) -> None:
    _, base = site
    p = Person(browser, SIZES[size])
    try:
        p.sign_in(base, "nhanvien")
        page = p.page
        assert rows(page, "#site-nav a", "href") == ["/findings", "/requests"]
        page.goto(f"{base}/findings?{PERIOD}")
        assert page.inner_text("#page-title") == "Hồ sơ có lỗi"
        assert set(rows(page, "#f-records tbody tr[data-ma-lk]", "data-facility")) == {FAC_A}
        assert rows(page, "#q-facility option", "value") == [FAC_A]  # only their own
        total = page.locator("#f-records tbody tr[data-ma-lk]").count()
        # filter by month through the form
        page.fill("#q-month", "2025-09")
        page.click("#q-apply")
        page.wait_for_url("**month=2025-09**")
        days = page.eval_on_selector_all(
            "#f-records tbody tr[data-ma-lk] td:nth-child(3)", "es => es.map(e => e.textContent)"
        )
        assert days
        assert all(d.startswith("2025-09") for d in days)
        assert len(days) < total
        # the export holds what the list shows
        got = p.ctx.request.get(f"{base}{page.get_attribute('#export-xlsx', 'href')}")
        assert got.status == 200
        assert "spreadsheetml" in got.headers["content-type"]
        # each record links to its receipt
        href = page.get_attribute("#f-records a.receipt", "href")
        assert href is not None
        assert href.startswith("/api/v1/submissions/")
        receipt = p.ctx.request.get(f"{base}{href}")
        assert receipt.status == 200
        assert receipt.json()["facility"] == FAC_A
        assert p.fits(), "the page scrolls sideways"
        page.screenshot(path=str(artifacts_dir / f"quality-facility-{size}.png"), full_page=True)
        # another facility's list: not found
        other = page.goto(f"{base}/findings?{PERIOD}&facility={FAC_B}")
        assert other.status == 404
        assert [e for e in p.errors if "status of 404" not in e] == []
    finally:
        p.ctx.close()
