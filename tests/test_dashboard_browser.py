"""The dashboards in real Chromium: they render with data, filters and the drill-down
province → commune → facility work, there is no console error, and they fit a phone
(390×844) and a wall screen (1920×1080). Screenshots go to the artifacts folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from khoyte.web.app import create_app
from tests.browser_helpers import Person, serve
from tests.warehouse_helpers import Province, make_province

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # Chromium: out of the fast loop
PERIOD = "from=2024-01-01&to=2025-02-28"


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Province:
    return make_province(tmp_path_factory.mktemp("synth"), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def server(province: Province) -> Iterator[str]:
    app = create_app(province.settings)
    with serve(app) as base:
        yield base
    app.state.services.close()


class Page(Person):
    """A page with its console errors and failed requests collected."""

    def __init__(self, browser: Any, width: int, height: int) -> None:
        super().__init__(browser, width, height)
        self.page.on(
            "response",
            lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )

    def open(self, url: str) -> Any:
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready]", timeout=30000)
        assert self.page.get_attribute("body", "data-ready") == "1", self.page.inner_text("#status")
        return self.page


def number(text: str) -> int:
    return int(re.sub(r"\D", "", text))


def kpi(page: Any, key: str) -> int:
    return number(page.inner_text(f'[data-kpi="{key}"] .value'))


def twin(base: str, query: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{base}/api/v1/dashboards/kcb?{query}").json()
    return body


def breakdown_rows(page: Any) -> list[list[str]]:
    rows: list[list[str]] = page.eval_on_selector_all(
        "#table-breakdown tbody tr",
        "trs => trs.map(tr => Array.from(tr.cells).map(td => td.textContent))",
    )
    return rows


def test_kcb_renders_filters_and_drills_down(
    server: str, browser: Any, province: Province, artifacts_dir: Path
) -> None:
    p = Page(browser, 1920, 1080)
    try:
        page = p.open(f"{server}/kcb?{PERIOD}")
        assert page.get_attribute("html", "lang") == "vi"
        assert page.inner_text("h1") == "Khám chữa bệnh toàn tỉnh"
        assert kpi(page, "visits") == province.manifest["totals"]["visits"]
        assert kpi(page, "deaths") == province.manifest["totals"]["deaths"]
        for key in ("monthly", "daily", "by_loai_kcb", "by_sex", "by_age_band", "top_icd10"):
            assert page.locator(f"#chart-{key} canvas").count() >= 1, key
            assert page.locator(f"#table-{key} tbody tr").count() >= 1, key
        # every chart is also a table
        assert page.locator("#table-top_icd10 tbody tr").count() == 10
        # people, not visits (issue 14): persons served and the referral flows
        whole = httpx.get(f"{server}/api/v1/dashboards/kcb/people?{PERIOD}").json()
        assert kpi(page, "persons_served") == whole["persons"]["served"] > 0
        flows = whole["referrals"]["flows"]
        assert len(flows) >= 1
        assert page.locator("#chart-referrals canvas").count() >= 1
        assert page.locator("#table-referrals tbody tr").count() == len(flows)
        page.screenshot(path=str(artifacts_dir / "dashboard-kcb-1920x1080.png"), full_page=True)

        # sorting a column of the drill-down table
        page.click("#table-breakdown th button[data-key='visits']")
        visits = [number(r[2]) for r in breakdown_rows(page)]
        assert visits == sorted(visits, reverse=True)
        assert sum(visits) == province.manifest["totals"]["visits"]

        # province → commune
        page.click("#table-breakdown a.drill >> nth=0")
        page.wait_for_selector("body[data-ready='1']")
        assert "commune=" in page.url
        commune = re.search(r"commune=(\d+)", page.url)
        assert commune
        want = twin(server, f"{PERIOD}&commune={commune.group(1)}")
        assert kpi(page, "visits") == want["visits"]["total"] > 0
        assert page.locator("#crumbs a").count() == 1
        rows = breakdown_rows(page)
        assert (
            sum(number(r[3]) for r in rows) == want["visits"]["total"]
        )  # code, name, tier, visits

        # commune → facility: the facility's own monthly view
        page.click("#table-breakdown a.drill >> nth=0")
        page.wait_for_selector("body[data-ready='1']")
        facility = re.search(r"facility=(\d+)", page.url)
        assert facility
        want = twin(server, f"{PERIOD}&commune={commune.group(1)}&facility={facility.group(1)}")
        assert kpi(page, "visits") == want["visits"]["total"]
        assert page.locator("#crumbs a").count() == 2
        assert "Theo dõi hằng tháng của cơ sở" in page.inner_text("h1")
        assert page.locator("#table-monthly tbody tr").count() == 14
        page.screenshot(
            path=str(artifacts_dir / "dashboard-facility-1920x1080.png"), full_page=True
        )

        # back to the province through the breadcrumb, then filter by tier and visit type
        page.click("#crumbs a >> nth=0")
        page.wait_for_selector("body[data-ready='1']")
        assert kpi(page, "visits") == province.manifest["totals"]["visits"]
        page.select_option("#f-tier", "xa")
        page.select_option("#f-loai", "01")
        page.click("#apply")
        page.wait_for_selector("body[data-ready='1']")
        assert "tier=xa" in page.url
        assert "loai_kcb=01" in page.url
        want = twin(server, f"{PERIOD}&tier=xa&loai_kcb=01")
        assert kpi(page, "visits") == want["visits"]["total"] > 0
        assert kpi(page, "visits") < province.manifest["totals"]["visits"]
        assert p.errors == []
    finally:
        p.close()


def test_phone_layout_and_english(server: str, browser: Any, artifacts_dir: Path) -> None:
    p = Page(browser, 390, 844)
    try:
        page = p.open(f"{server}/kcb?{PERIOD}&lang=en")
        assert page.get_attribute("html", "lang") == "en"
        assert page.inner_text("h1") == "Examination and treatment, whole province"
        # nothing wider than the screen: no sideways scrolling of the page
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390
        box = page.locator("#chart-monthly").bounding_box()
        assert box is not None
        assert box["width"] <= 390
        assert page.locator("#chart-monthly canvas").count() >= 1
        page.screenshot(path=str(artifacts_dir / "dashboard-kcb-390x844.png"), full_page=False)
        page.screenshot(path=str(artifacts_dir / "dashboard-kcb-390x844-full.png"), full_page=True)
        # the language toggle keeps the filters
        page.click("#lang-toggle")
        page.wait_for_selector("body[data-ready='1']")
        assert page.get_attribute("html", "lang") == "vi"
        assert "from=2024-01-01" in page.url
        assert p.errors == []
    finally:
        p.close()


def test_completeness_page(server: str, browser: Any, artifacts_dir: Path) -> None:
    p = Page(browser, 1920, 1080)
    try:
        page = p.open(f"{server}/completeness?from=2025-02-01&to=2025-02-28")
        n = page.locator("#table-facilities tbody tr").count()
        assert n > 50
        assert page.locator("#chart-reporting canvas").count() >= 1
        assert page.locator("#table-reporting tbody tr").count() == 28
        page.screenshot(
            path=str(artifacts_dir / "dashboard-completeness-1920x1080.png"), full_page=True
        )
        assert p.errors == []
    finally:
        p.close()


def test_api_reference_renders_without_cdn(server: str, browser: Any, artifacts_dir: Path) -> None:
    """/docs (Swagger UI from the npm registry, no inline script) works under the strict CSP."""
    p = Page(browser, 1280, 900)
    requested: list[str] = []
    p.page.on("request", lambda r: requested.append(r.url))
    p.page.goto(f"{server}/docs")
    p.page.wait_for_selector(".opblock-tag", timeout=30000)
    tags = p.page.locator(".opblock-tag").all_inner_texts()
    assert any("intake" in t for t in tags), tags
    assert all(u.startswith(server) for u in requested), [
        u for u in requested if not u.startswith(server)
    ]
    p.page.screenshot(path=str(artifacts_dir / "api-docs.png"))
    assert not p.errors, p.errors
    p.close()
