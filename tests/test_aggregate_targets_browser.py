"""Real Chromium: a provincial specialist edits a plan by keyboard on ``/aggregate/targets``
(Vietnamese number format), sees it saved and in the JSON twin, with no console error; the page
does not scroll sideways on a phone (390×844). Screenshots in ``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from khoyte.registry import adminunits
from khoyte.registry.models import Facility
from khoyte.store.db import session_scope
from tests.browser_helpers import Person, serve
from tests.security_helpers import Env, make_env

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # Chromium: out of the fast loop
PROVINCE = "82"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    mp = pytest.MonkeyPatch()
    env = make_env(tmp_path_factory.mktemp("targets"), mp, warehouse_refresh_seconds=0)
    mp.undo()
    services = env.app.state.services
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(services.sessions) as s:  # the registry serves province 82
        for i, (commune, _) in enumerate(adminunits.communes_of(PROVINCE)[:3]):
            s.add(Facility(code=f"8200{i}", name=f"Trạm Y tế {commune}", commune=commune,
                           province=PROVINCE, created_at=now, revision=1))  # fmt: skip
    env.add_user("chuyenvien", ["doh_specialist"], ["province"])
    with serve(env.app) as base:
        yield env, base
    services.close()


def test_a_plan_edited_by_keyboard_is_saved(
    site: tuple[Env, str], browser: Any, artifacts_dir: Path
) -> None:
    _, base = site
    p = Person(browser)
    try:
        p.sign_in(base, "chuyenvien")
        p.page.goto(f"{base}/aggregate/targets?year=2025")
        p.page.wait_for_selector("body[data-ready]")
        row = p.page.locator("#targets tbody tr[data-indicator=so_tre_sinh][data-orgunit='82']")
        cell = row.locator("input.cell")
        assert cell.input_value() == "25.000"  # the package's plan, the Vietnamese way
        cell.focus()
        p.page.keyboard.press("Control+A")
        p.page.keyboard.type("26.500,5")
        p.page.keyboard.press("Enter")  # saved, and the next cell has the focus
        p.page.wait_for_selector(
            "#targets tbody tr[data-indicator=so_tre_sinh][data-orgunit='82'][data-state=saved]"
        )
        assert cell.input_value() == "26.500,5"
        assert not cell.evaluate("e => e === document.activeElement")
        assert p.page.evaluate("document.activeElement.classList.contains('cell')")
        assert row.locator("td.who").inner_text() == "chuyenvien"
        assert row.locator("button.t-delete").count() == 1  # stored now: it may be deleted
        # a cell that is not a number is refused in place, nothing sent
        missing = p.page.locator("#targets tbody tr.missing").first
        missing.locator("input.cell").focus()
        p.page.keyboard.type("12x")
        p.page.keyboard.press("Enter")
        assert missing.get_attribute("data-state") == "error"
        twin = p.page.request.get(f"{base}/api/v1/aggregate/targets?year=2025&orgunit=82").json()
        got = {r["indicator"]: r for r in twin["rows"]}
        assert (got["so_tre_sinh"]["target"], got["so_tre_sinh"]["storedBy"]) == (
            "26500.5", "chuyenvien")  # fmt: skip
        assert sum(r["stored"] for r in twin["rows"]) == 1
        p.page.reload()
        p.page.wait_for_selector("body[data-ready]")
        assert cell.input_value() == "26.500,5"
        p.page.screenshot(path=str(artifacts_dir / "aggregate-targets-1920.png"), full_page=True)
        assert p.errors == [], p.errors
    finally:
        p.close()


def test_an_upload_shows_its_receipt_and_a_deletion_restores_the_default(
    site: tuple[Env, str], browser: Any, artifacts_dir: Path
) -> None:
    _, base = site
    p = Person(browser)
    try:
        p.sign_in(base, "chuyenvien")
        p.page.goto(f"{base}/aggregate/targets?year=2027")
        p.page.wait_for_selector("body[data-ready]")
        bad = b"indicator,orgunit,year,target\nso_tre_sinh,82,2027,24000\nso_tre_sinh,82,2O27,1\n"
        p.page.set_input_files("#t-file", files=[{"name": "kế hoạch.csv", "mimeType": "text/csv",
                                                  "buffer": bad}])  # fmt: skip
        p.page.click("#t-send")
        p.page.wait_for_selector("#t-problems")
        cells = p.page.locator("#t-problems tbody tr").first.locator("td").all_inner_texts()
        assert cells == ["3", "year", "2O27", "Năm không hợp lệ (2000–2100)"]
        good = b"indicator,orgunit,year,target\nso_tre_sinh,82,2027,24000\n"
        p.page.set_input_files("#t-file", files=[{"name": "kế hoạch.csv", "mimeType": "text/csv",
                                                  "buffer": good}])  # fmt: skip
        p.page.click("#t-send")  # stored: the page reloads and shows the receipt and the plan
        p.page.wait_for_selector("#t-receipt-status")
        assert p.page.inner_text("#t-receipt-status") == "Đã lưu: 1 mới, 0 sửa."
        row = p.page.locator("#targets tbody tr[data-indicator=so_tre_sinh][data-year='2027']")
        assert row.locator("input.cell").input_value() == "24.000"
        assert row.locator("td.source").inner_text() == "kế hoạch.csv"
        p.page.once("dialog", lambda d: d.accept())
        row.locator("button.t-delete").click()
        p.page.wait_for_selector(
            "#targets tbody tr[data-indicator=so_tre_sinh][data-year='2027'][data-state=saved]"
        )
        assert row.locator("input.cell").input_value() == ""  # no package plan for 2027
        twin = p.page.request.get(f"{base}/api/v1/aggregate/targets?year=2027").json()
        assert twin["rows"] == []
        assert p.errors == [], p.errors
    finally:
        p.close()


def test_the_page_fits_a_phone(site: tuple[Env, str], browser: Any, artifacts_dir: Path) -> None:
    _, base = site
    p = Person(browser, 390, 844)
    try:
        p.sign_in(base, "chuyenvien")
        for lang in ("vi", "en"):
            p.page.goto(f"{base}/aggregate/targets?lang={lang}")
            p.page.wait_for_selector("body[data-ready]")
            assert p.page.locator("#targets tbody tr").count() > 1
            assert p.fits(), lang
        p.page.screenshot(path=str(artifacts_dir / "aggregate-targets-390.png"), full_page=True)
        assert p.errors == [], p.errors
    finally:
        p.close()
