"""Sign-in, CSRF and lock-out in real Chromium against a real server (uvicorn on a free port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page

from khoyte.security.service import utcnow
from tests.browser_helpers import serve
from tests.security_helpers import PASSWORD, Env, make_env, totp_now

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # Chromium: out of the fast loop


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    mp = pytest.MonkeyPatch()
    env = make_env(tmp_path_factory.mktemp("browser"), mp, login_max_failures=3)
    mp.undo()
    env.app.state.security.clock = utcnow  # real time: the TOTP code is typed in the page
    with serve(env.app) as base:
        yield env, base


def _login(page: Page, base: str, user: str, password: str, otp: str = "") -> None:
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", password)
    if otp:
        page.fill("#otp", otp)
    page.click("#login-submit")
    page.wait_for_load_state()


def test_login_and_logout(server: tuple[Env, str], page: Page, artifacts_dir: Path) -> None:
    env, base = server
    env.add_user("kiemtoan", ["auditor"], ["province"])
    _login(page, base, "kiemtoan", "Sai-mat-khau-99")
    assert page.locator("#login-error").is_visible()
    assert "không đúng" in page.locator("#login-error").inner_text()
    _login(page, base, "kiemtoan", PASSWORD)
    assert page.url.endswith("/account")
    assert page.locator("#account-name").inner_text() == "kiemtoan"
    assert page.locator("#account-roles li[data-role=auditor]").count() == 1
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["khoyte_session"]["httpOnly"] is True
    assert cookies["khoyte_session"]["sameSite"] == "Lax"
    page.goto(f"{base}/audit")
    assert page.locator("table#audit tbody tr").count() >= 2
    page.screenshot(path=str(artifacts_dir / "security-audit-page.png"), full_page=True)
    page.click("#logout")
    page.wait_for_load_state()
    assert page.url.endswith("/login")
    page.goto(f"{base}/audit")  # signed out: the page sends the person to sign in again
    assert "/login?next=%2Faudit" in page.url
    assert page.locator("#login-submit").is_visible()
    assert page.violations == []  # type: ignore[attr-defined]


def test_tampered_csrf_token_is_refused(server: tuple[Env, str], page: Page) -> None:
    env, base = server
    env.add_user("nv-csrf", ["facility_staff"], ["facility:01001"])
    page.goto(f"{base}/login")
    page.fill("#username", "nv-csrf")
    page.fill("#password", PASSWORD)
    page.eval_on_selector("input[name=csrf_token]", "e => e.value = 'f'.repeat(64)")
    page.click("#login-submit")
    page.wait_for_load_state()
    # a person gets the error as a page in the layout, with the stable code to quote
    assert page.inner_text("#error-code") == "csrf_failed"
    assert page.locator("#error-home").count() == 1
    assert "khoyte_session" not in {c["name"] for c in page.context.cookies()}
    # The untouched form works.
    _login(page, base, "nv-csrf", PASSWORD)
    assert page.url.endswith("/account")


def test_lockout_in_the_browser(server: tuple[Env, str], page: Page) -> None:
    env, base = server
    env.add_user("nv-lock", ["facility_staff"], ["facility:01001"])
    for _ in range(env.settings.login_max_failures):
        _login(page, base, "nv-lock", "Sai-mat-khau-99")
        assert page.locator("#login-error").is_visible()
    _login(page, base, "nv-lock", PASSWORD)  # right password, locked account
    assert page.locator("#login-error").is_visible()
    assert not page.url.endswith("/account")


def test_admin_with_totp_uses_the_admin_page(server: tuple[Env, str], page: Page) -> None:
    env, base = server
    uri = env.add_user("quantri", ["it_admin"], ["province"])
    assert uri
    _login(page, base, "quantri", PASSWORD, otp=totp_now(uri, env.app.state.security.clock()))
    page.goto(f"{base}/admin/users")
    form = page.locator("#create-user")
    form.locator("input[name=username]").fill("moi-tu-trinh-duyet")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("input[name=roles][value=province_leader]").check()
    form.locator("textarea[name=scopes]").fill("commune:00001")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator("#admin-message.ok").is_visible()
    row = page.locator('tr[data-username="moi-tu-trinh-duyet"]')
    assert row.count() == 1
    # disabling asks for confirmation through the page's external script
    dialogs: list[str] = []

    def answer(d: Dialog) -> None:
        dialogs.append(d.message)
        d.accept()

    page.once("dialog", answer)
    row.locator("form[action$='/active'] button").click()
    page.wait_for_load_state()
    assert dialogs == ["Xác nhận?"]
    assert "đã khoá" in page.locator('tr[data-username="moi-tu-trinh-duyet"]').inner_text()
    assert page.violations == []  # type: ignore[attr-defined]
