"""Real Chromium: each IOC dashboard of groups 4–8 on a phone (390×844) and a wide screen with no
console error, and a data-entry session by keyboard whose values the IOC twin then shows
(issue 13, items 3 and 6). Screenshots in ``test-artifacts/``."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from khoyte.aggregate.metadata import load
from khoyte.config import Settings
from khoyte.demo import _import_aggregates
from khoyte.registry.facilities import import_file
from khoyte.store.db import session_scope
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from tests.browser_helpers import Person, serve
from tests.security_helpers import Env, make_env
from tests.synth_helpers import generate

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # Chromium: out of the fast loop
PERIOD = "from=2025-01&to=2025-03"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, Path, str]]:
    synth, data = tmp_path_factory.mktemp("synth"), tmp_path_factory.mktemp("data")
    generate(synth, seed=5, population=3000, start=date(2025, 1, 1), end=date(2025, 3, 31))
    wh = Warehouse(Settings(data_dir=data, warehouse_refresh_seconds=0))
    try:
        wh.rebuild(FileVersionSource(synth))
    finally:
        wh.close()
    mp = pytest.MonkeyPatch()
    env = make_env(data, mp, warehouse_refresh_seconds=0)
    mp.undo()
    services = env.app.state.services
    with session_scope(services.sessions) as s:
        import_file(s, synth / "facilities.csv")
    _import_aggregates(services, synth / "aggregates", lambda _m: None)  # as `khoyte demo` does
    env.add_user("chuyenvien", ["doh_specialist"], ["province"])
    env.add_user("duyet", ["doh_specialist", "province_leader"], ["province"])  # enters, approves
    with serve(env.app) as base:
        yield env, synth, base
    services.close()


def _hover_charts(page: Any) -> None:
    """Move over every chart: ECharts' tooltips must not write inline styles (CSP)."""
    for box in page.locator(".chart").all():
        box.scroll_into_view_if_needed()
        b = box.bounding_box()
        if b:
            page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1920, 1080)])
def test_each_group_dashboard_loads(
    site: tuple[Env, Path, str], browser: Any, artifacts_dir: Path, width: int, height: int
) -> None:
    _, _, base = site
    p = Person(browser, width, height)
    try:
        p.sign_in(base, "chuyenvien")
        for code, group in load().groups.items():
            p.page.goto(f"{base}/ioc/{code}?{PERIOD}")
            p.page.wait_for_selector("body[data-ready]", timeout=30000)
            assert p.page.get_attribute("body", "data-ready") == "1", code
            panels = p.page.locator("#panels section[data-panel]")
            assert panels.count() == len(group.panels), code
            assert p.page.locator("#panels canvas").count() >= len(group.panels), code
            assert p.page.locator("#kpis .kpi").count() == len(group.panels)
            assert p.page.locator("#ioc-tabs a[aria-current=page]").get_attribute(
                "data-group"
            ) == code  # fmt: skip
            assert p.fits(), (code, width)
            _hover_charts(p.page)
            p.page.screenshot(path=str(artifacts_dir / f"ioc-{code}-{width}.png"), full_page=True)
        # drill down: a commune row of the population group opens the commune's view
        p.page.goto(f"{base}/ioc/dan_so?{PERIOD}")
        p.page.wait_for_selector("body[data-ready]", timeout=30000)
        link = p.page.locator("#breakdown-so_tre_sinh a.drill").first
        code = link.evaluate("a => a.closest('tr').getAttribute('data-code')")
        link.click()
        p.page.wait_for_selector("body[data-ready]", timeout=30000)
        assert f"orgunit={code}" in p.page.url
        assert p.page.locator("#orgunit-name").count() == 1
        # approved only, from the chip: the page and its twin say which reports count
        p.page.click("#approval-toggle")
        p.page.wait_for_selector("body[data-ready]", timeout=30000)
        assert "approved_only=true" in p.page.url
        assert f"orgunit={code}" in p.page.url
        assert p.page.inner_text("#approval-chip .chip-value") == "Chỉ tính báo cáo đã duyệt"
        assert p.page.inner_text("#approval-note").startswith("Chỉ tính báo cáo đã duyệt")
        p.page.click("[data-filter=orgunit] .chip-remove")  # back to the province
        p.page.wait_for_selector("body[data-ready]", timeout=30000)
        assert "orgunit" not in p.page.url
        assert p.errors == [], p.errors
    finally:
        p.close()


def test_keyboard_data_entry_reaches_the_twin(
    site: tuple[Env, Path, str], browser: Any, artifacts_dir: Path
) -> None:
    _, synth, base = site
    with (synth / "aggregates" / "2025-03.csv").open(encoding="utf-8") as fh:
        commune = sorted({r["ma_don_vi"] for r in csv.DictReader(fh) if r["bao_cao"] == "khhgd"})[3]
    p = Person(browser)
    try:
        p.sign_in(base, "chuyenvien")
        # choose the report through the form, by keyboard
        p.page.goto(f"{base}/aggregate/entry")
        p.page.select_option("#e-dataset", "khhgd")
        p.page.select_option("#e-period", "202504")  # the picker offers the data set's periods
        p.page.select_option("#e-orgunit", commune)
        p.page.focus("#e-period")
        p.page.keyboard.press("Enter")  # submits the form
        p.page.wait_for_selector("body[data-ready]", timeout=30000)
        assert p.page.get_attribute("body", "data-ready") == "1"
        first = p.page.locator("#entry input.cell").first
        assert first.evaluate("e => e === document.activeElement")  # the first cell has focus
        # last period's value and the earlier range are shown for each cell
        row = p.page.locator("#entry tbody tr[data-coc=dat_vong]")
        assert row.locator("td.last").inner_text() != "—"
        assert "–" in row.locator("td.range").inner_text()
        p.page.keyboard.type("1.234")  # Vietnamese thousands separator
        p.page.keyboard.press("Enter")  # next cell (and the first is saved)
        p.page.keyboard.type("56")
        p.page.keyboard.press("Tab")
        p.page.keyboard.type("7x")  # not a number: refused in place, nothing sent
        p.page.keyboard.press("Enter")
        p.page.wait_for_selector("#entry tbody tr[data-coc=dat_vong][data-state=saved]")
        p.page.wait_for_selector("#entry tbody tr[data-coc=thuoc_uong][data-state=saved]")
        p.page.wait_for_selector("#entry tbody tr[data-coc=bao_cao_su][data-state=error]")
        assert row.locator("input.cell").input_value() == "1.234"
        p.page.screenshot(path=str(artifacts_dir / "aggregate-entry-1920.png"), full_page=True)
        twin = p.page.request.get(
            f"{base}/api/v1/ioc/dan_so?from=2025-04&to=2025-04&orgunit={commune}"
        ).json()
        panel = next(x for x in twin["panels"] if x["code"] == "nguoi_su_dung_bptt")
        assert panel["actual"] == 1290
        by = {o["code"]: o["value"] for o in panel["by_option"]}
        assert (by["dat_vong"], by["thuoc_uong"]) == (1234, 56)
        assert p.errors == [], p.errors
    finally:
        p.close()


def test_an_approver_empties_a_cell_and_approves_from_the_page(
    site: tuple[Env, Path, str], browser: Any, artifacts_dir: Path
) -> None:
    _, synth, base = site
    with (synth / "aggregates" / "2025-03.csv").open(encoding="utf-8") as fh:
        commune = sorted({r["ma_don_vi"] for r in csv.DictReader(fh) if r["bao_cao"] == "khhgd"})[4]
    p = Person(browser)
    try:
        p.sign_in(base, "duyet")
        # a commune's report: the province approves it after the commune (no button yet)
        p.page.goto(f"{base}/aggregate/entry?dataSet=khhgd&period=202503&orgUnit={commune}")
        p.page.wait_for_selector("body[data-ready]", timeout=30000)
        assert p.page.locator("#e-approve").is_hidden()
        # the province's food-safety report: chosen with the picker, a cell emptied, approved
        p.page.select_option("#e-dataset", "attp")
        p.page.select_option("#e-period", "202503")  # a month with the synth's values
        p.page.select_option("#e-orgunit", "82")
        p.page.click("#e-open")
        p.page.wait_for_selector("body[data-ready]", timeout=30000)
        row = p.page.locator("#entry tbody tr[data-de=nguoi_tu_vong]")
        assert row.locator("input.cell").input_value() != ""
        row.locator("input.cell").fill("")  # emptied: the stored value is deleted
        row.locator("input.cell").press("Tab")
        p.page.wait_for_selector("#entry tbody tr[data-de=nguoi_tu_vong][data-state=saved]")
        got = p.page.request.get(
            f"{base}/api/v1/aggregate/entry?dataSet=attp&period=202503&orgUnit=82"
        ).json()
        assert next(c["value"] for c in got["cells"] if c["dataElement"] == "nguoi_tu_vong") is None
        p.page.click("#e-approve")
        p.page.wait_for_selector("#entry-locked:not([hidden])")
        assert row.locator("input.cell").get_attribute("readonly") is not None
        assert p.page.locator("#e-approve").is_hidden()
        p.page.screenshot(path=str(artifacts_dir / "aggregate-entry-approved.png"), full_page=True)
        assert p.errors == [], p.errors
    finally:
        p.close()
