"""The facility registry's IT page in real Chromium against a real server: sign in as an
administrator, edit a facility (a wrong commune is refused with the field named, a right one is
saved), add one, paste rows copied from a spreadsheet; no Content-Security-Policy violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from khoyte.registry.adminunits import communes
from khoyte.registry.facilities import add_facility
from khoyte.security.service import utcnow
from khoyte.store.db import session_scope
from tests.browser_helpers import serve
from tests.security_helpers import PASSWORD, Env, make_env, totp_now

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # Chromium: out of the fast loop


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    mp = pytest.MonkeyPatch()
    env = make_env(tmp_path_factory.mktemp("registry-browser"), mp)
    mp.undo()
    env.app.state.security.clock = utcnow  # real time: the TOTP code is typed in the page
    with session_scope(env.sec.factory) as s:
        add_facility(s, "82001", "Bệnh viện Đa khoa tỉnh", "tinh", "28477")
    with serve(env.app) as base:
        yield env, base


def test_an_administrator_edits_and_adds_facilities(
    server: tuple[Env, str], page: Page, artifacts_dir: Path
) -> None:
    env, base = server
    uri = env.add_user("quantri", ["it_admin"], ["province"])
    assert uri is not None
    page.goto(f"{base}/login?next=/admin/facilities")
    page.fill("#username", "quantri")
    page.fill("#password", PASSWORD)
    page.fill("#otp", totp_now(uri, utcnow()))
    page.click("#login-submit")
    page.wait_for_load_state()
    assert page.url.endswith("/admin/facilities")
    row = page.locator("#facilities tr[data-code='82001']")
    assert row.locator("td.name").inner_text().startswith("Bệnh viện Đa khoa tỉnh")
    assert row.locator("td.commune small").inner_text() == communes()["28477"][0]

    row.locator("a").click()
    page.wait_for_load_state()
    page.fill("#edit-facility input[name=ma_xa]", "99999")
    page.click("#edit-facility button[type=submit]")
    page.wait_for_load_state()
    problem = page.locator("#registry-problems li[data-column=ma_xa]")
    assert "99999" in problem.inner_text()
    assert "không phải mã xã/phường năm 2025" in problem.inner_text()

    page.fill("#edit-facility input[name=ma_xa]", "28249")
    page.fill("#edit-facility input[name=ten]", "Bệnh viện Đa khoa tỉnh Đồng Tháp")
    page.fill("#edit-facility input[name=giuong]", "900")
    page.click("#edit-facility button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#registry-message").is_visible()
    page.screenshot(path=str(artifacts_dir / "registry-facility-edit.png"), full_page=True)

    page.goto(f"{base}/admin/facilities")
    page.fill("#create-facility input[name=ma_cskcb]", "82050")
    page.fill("#create-facility input[name=ten]", "Trạm Y tế mới")
    page.select_option("#create-facility select[name=tuyen]", "xa")
    page.fill("#create-facility input[name=ma_xa]", "28477")
    page.click("#create-facility button[type=submit]")
    page.wait_for_load_state()
    assert "82050" in page.locator("#registry-message").inner_text()
    rows = page.locator("#facilities tbody tr")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.code)") == ["82001", "82050"]
    edited = page.locator("#facilities tr[data-code='82001']")
    assert edited.locator("td.commune").inner_text().startswith("28249")
    # cells copied from a spreadsheet come tab-separated: pasted, checked, imported
    page.fill("#paste-facilities textarea[name=rows]",
              "ma_cskcb\tten\ttuyen\tma_xa\n82050\tTrạm Y tế Nhị Quý\txa\t28477\n"
              "82051\tPhòng khám An Bình\ttu_nhan\t28249\n")  # fmt: skip
    page.click("#paste-facilities button[type=submit]")
    page.wait_for_load_state()
    assert "1 mới, 1 thay đổi" in page.locator("#registry-message").inner_text()
    names = page.locator("#facilities td.name").all_inner_texts()
    assert "Trạm Y tế Nhị Quý" in names
    assert any(n.startswith("Phòng khám An Bình") for n in names)
    page.fill("#paste-facilities textarea[name=rows]", "ma_cskcb,ten,tuyen\n82052,X,huyen\n")
    page.click("#paste-facilities button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#registry-problems li[data-column=tuyen][data-row='2']").count() == 1
    assert page.locator("#facilities tr[data-code='82052']").count() == 0
    page.screenshot(path=str(artifacts_dir / "registry-facilities.png"), full_page=True)
    assert page.violations == []  # type: ignore[attr-defined]
