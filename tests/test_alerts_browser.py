"""The leaders' phone view in real Chromium (issue 15, item 5): at 390×844 it opens on the open
alerts and key numbers, installs its service worker, and after the network drops a reload
still shows the last data, marked offline; no console errors. Also the alerts page's forms."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from khoyte.security.service import utcnow
from tests.alerts_helpers import alarm, alerts_env, cycle, services
from tests.conftest import CHROMIUM_ARGS
from tests.security_helpers import PASSWORD, Env

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    mp = pytest.MonkeyPatch()
    env = alerts_env(tmp_path_factory.mktemp("data"), mp)
    mp.undo()
    env.clock.now = utcnow()
    cycle(env, [alarm("C1"), alarm("C2", signal="hfmd")])
    env.app.state.security.clock = utcnow
    services(env).clock = utcnow
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(env.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:  # a start-up wait, not a timed assertion
        time.sleep(0.05)
    yield env, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)
    services(env).close()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _signed_in(browser: Any, base: str, user: str) -> tuple[Any, Any, list[str]]:
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/account")
    return ctx, page, errors


def _titles(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        "#phone-alerts .alert-title", "xs => xs.map(x => x.textContent)"
    )


def test_phone_view_offline_reload_shows_the_last_data(
    site: tuple[Env, str], browser: Any, artifacts_dir: Path
) -> None:
    _env, base = site
    ctx, page, errors = _signed_in(browser, base, "xa1")
    try:
        page.goto(f"{base}/m/")
        page.wait_for_selector("body[data-ready='1']")
        online = _titles(page)
        assert len(online) == 1
        assert "C1" in online[0]
        assert "Dengue" in online[0]
        page.wait_for_selector("body[data-sw='1']", timeout=20000)  # the worker controls it
        page.reload()  # now controlled by the worker: what it fetches is kept
        page.wait_for_selector("body[data-ready='1']")
        assert page.get_attribute("body", "data-offline") == "0"
        numbers = page.eval_on_selector_all("#numbers dd", "xs => xs.map(x => x.textContent)")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width  # nothing wider than the phone
        manifest = page.evaluate("fetch('/m/manifest.webmanifest').then(r => r.json())")
        assert manifest["start_url"] == "/m/"
        assert manifest["display"] == "standalone"
        ctx.set_offline(True)
        page.reload()
        page.wait_for_selector("body[data-ready='1']")
        assert _titles(page) == online
        assert page.get_attribute("body", "data-offline") == "1"
        assert page.text_content("#phone-state") == "Ngoại tuyến — dữ liệu lần cuối"
        assert (
            page.eval_on_selector_all("#numbers dd", "xs => xs.map(x => x.textContent)") == numbers
        )
        page.screenshot(path=str(artifacts_dir / "alerts-phone-offline-390.png"), full_page=True)
        ctx.set_offline(False)
        assert errors == []
    finally:
        ctx.close()


def test_alerts_page_acknowledge_in_the_browser(site: tuple[Env, str], browser: Any) -> None:
    _env, base = site
    ctx, page, errors = _signed_in(browser, base, "xa2")
    try:
        page.goto(f"{base}/alerts")
        items = page.locator("#alert-list li.alert")
        assert items.count() == 1
        assert "C2" in items.first.text_content()
        items.first.locator("input[name=note]").fill("đã nhận, cử đội xuống xã")
        items.first.locator("button[type=submit]").click()
        page.wait_for_url("**/alerts")
        assert page.locator("#alert-list li.alert").count() == 0  # no longer open
        page.goto(f"{base}/alerts?status=acknowledged")
        assert page.get_attribute("#alert-list li.alert", "data-status") == "acknowledged"
        assert errors == []
    finally:
        ctx.close()
