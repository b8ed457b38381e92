"""One house: every page in real Chromium has the same header (navigation by the person's
permissions, account, language, sign-out), errors are pages with a way back, the facility view
and the filters say what is selected, chart tooltips raise no CSP error (F24), and the pages fit
a phone (390×844) and a wide screen (1920×1080). Screenshots go to the artifacts folder."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from khoyte.config import Settings
from khoyte.security.service import utcnow
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from tests.browser_helpers import Person as BasePerson
from tests.browser_helpers import serve
from tests.security_helpers import Env, make_env, totp_now
from tests.synth_helpers import generate

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # Chromium: out of the fast loop
PERIOD = "from=2024-12-01&to=2025-02-28"
Facilities = dict[str, dict[str, str]]
NAV = {  # what each person's main navigation holds, in order
    "chuyenvien": [
        "/kcb",
        "/ioc",
        "/completeness",
        "/aggregate/entry",
        "/quality",
        "/findings",
        "/epidemic",
        "/alerts",
        "/requests",
        "/persons/review",
    ],
    "lanhdao": ["/kcb", "/ioc", "/epidemic", "/alerts", "/requests"],
    "kiemtoan": ["/audit"],
    "quantri": ["/admin/users", "/admin/facilities", "/admin/alert-delivery"],
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, Facilities, str]]:
    # a small province (the layout needs data on every chart, not volume), behind sign-in
    synth, data = tmp_path_factory.mktemp("synth"), tmp_path_factory.mktemp("data")
    generate(synth, seed=7, population=300, start=date(2024, 12, 1), end=date(2025, 2, 28))
    wh = Warehouse(Settings(data_dir=data, warehouse_refresh_seconds=0))
    try:
        wh.rebuild(FileVersionSource(synth))
    finally:
        wh.close()
    with (synth / "facilities.csv").open(encoding="utf-8") as fh:
        facilities = {r["ma_cskcb"]: r for r in csv.DictReader(fh)}
    mp = pytest.MonkeyPatch()
    env = make_env(data, mp, warehouse_refresh_seconds=0)
    mp.undo()
    env.app.state.security.clock = utcnow  # real time: TOTP codes are typed in the page
    env.add_user("chuyenvien", ["doh_specialist"], ["province"])
    env.add_user("lanhdao", ["province_leader"], ["province"])
    env.add_user("kiemtoan", ["auditor"], ["province"])
    uri = env.add_user("quantri", ["it_admin"], ["province"])
    assert uri
    env.totp_uri = uri  # type: ignore[attr-defined]
    with serve(env.app) as base:
        yield env, facilities, base
    env.app.state.services.close()


class Person(BasePerson):
    """One signed-in browser context, with its console errors collected."""

    def sign_in_as(self, base: str, env: Env, user: str) -> None:
        otp = totp_now(env.totp_uri, utcnow()) if user == "quantri" else None  # type: ignore[attr-defined]
        self.sign_in(base, user, otp=otp)

    def open(self, url: str, dashboard: bool = False) -> Any:
        response = self.page.goto(url)
        if dashboard:
            self.page.wait_for_selector("body[data-ready]", timeout=30000)
            assert self.page.get_attribute("body", "data-ready") == "1"
        return response


def header(page: Any) -> dict[str, Any]:
    """The shared header of the page, as data."""
    return {
        "headers": page.locator("header#site-header").count(),
        "nav": page.eval_on_selector_all(
            "#site-nav a", "as => as.map(a => new URL(a.href).pathname)"
        ),
        "current": page.eval_on_selector_all(
            "#site-nav a[aria-current=page]", "as => as.map(a => new URL(a.href).pathname)"
        ),
        "who": page.inner_text("#who") if page.locator("#who").count() else None,
        "logout": page.locator("form#logout-form[action='/logout'] input[name=csrf_token]").count(),
        "lang": page.locator("#lang-toggle").count(),
        "styles": page.eval_on_selector_all(
            "link[rel=stylesheet]", "ls => ls.map(l => new URL(l.href).pathname)"
        ),
    }


@pytest.mark.parametrize("user", sorted(NAV))
def test_every_page_has_the_same_header(
    site: tuple[Env, Facilities, str], browser: Any, artifacts_dir: Path, user: str
) -> None:
    env, _, base = site
    p = Person(browser)
    try:
        p.sign_in_as(base, env, user)
        pages = ["/account", *NAV[user]]
        for path in pages:
            dashboard = path in ("/kcb", "/completeness")
            p.open(f"{base}{path}?{PERIOD}" if dashboard else f"{base}{path}", dashboard)
            h = header(p.page)
            assert h == {
                "headers": 1,
                "nav": NAV[user],
                "current": [path] if path in NAV[user] else [],
                "who": user,
                "logout": 1,
                "lang": 1,
                "styles": ["/static/site.css"],
            }, path
            name = path.strip("/").replace("/", "-")
            p.page.screenshot(path=str(artifacts_dir / f"layout-{user}-{name}-1920.png"))
        # the account name leads to the account page; sign-out ends the session
        p.page.click("#who")
        p.page.wait_for_url("**/account")
        p.page.click("#logout")
        p.page.wait_for_url("**/login")
        h = header(p.page)
        assert (h["nav"], h["who"], h["logout"], h["styles"]) == ([], None, 0, ["/static/site.css"])
        assert p.errors == []
    finally:
        p.close()


def test_leader_opening_admin_gets_a_page_with_a_way_back(
    site: tuple[Env, Facilities, str], browser: Any, artifacts_dir: Path
) -> None:
    env, _, base = site
    p = Person(browser)
    try:
        p.sign_in_as(base, env, "lanhdao")
        response = p.open(f"{base}/admin/users")
        assert response.status == 403
        assert response.headers["content-type"].startswith("text/html")
        page = p.page
        assert page.get_attribute("html", "lang") == "vi"
        assert page.inner_text("#error-title") == "Không có quyền truy cập trang này"
        assert page.inner_text("#error-code") == "forbidden"
        assert header(page)["nav"] == NAV["lanhdao"]  # the person's own header, still signed in
        assert header(page)["logout"] == 1
        page.screenshot(path=str(artifacts_dir / "error-403-1920.png"))
        # English on request
        p.open(f"{base}/admin/users?lang=en")
        assert page.get_attribute("html", "lang") == "en"
        assert page.inner_text("#error-title") == "You may not open this page"
        # a way back: the person's first page
        p.open(f"{base}/admin/users")
        page.click("#error-home")
        page.wait_for_selector("body[data-ready='1']", timeout=30000)
        assert page.url.startswith(f"{base}/kcb")
        # and "back" returns to where they came from
        p.open(f"{base}/account")
        p.open(f"{base}/admin/users")
        page.click("#error-back")
        page.wait_for_url("**/account")
        # the same address for an API client: the JSON error shape (same cookies)
        api = p.ctx.request.get(f"{base}/admin/users", headers={"Accept": "application/json"})
        assert api.status == 403
        assert api.json()["error"]["code"] == "forbidden"
        # a page that does not exist
        response = p.open(f"{base}/khong-co-trang-nay")
        assert response.status == 404
        assert page.inner_text("#error-code") == "not_found"
        assert page.locator("#error-home").get_attribute("href") == "/kcb"
        # failed loads of the error pages themselves are expected; nothing else
        assert [e for e in p.errors if "status of 40" not in e] == []
    finally:
        p.close()


def test_chart_tooltips_raise_no_console_error(
    site: tuple[Env, Facilities, str], browser: Any, artifacts_dir: Path
) -> None:
    """F24: hovering every chart shows its tooltip without a Content-Security-Policy error."""
    env, _, base = site
    p = Person(browser)
    try:
        p.sign_in_as(base, env, "chuyenvien")
        for path, charts in (
            ("/kcb", ("monthly", "daily", "by_loai_kcb", "by_sex", "by_age_band", "top_icd10")),
            ("/completeness", ("reporting",)),
        ):
            p.open(f"{base}{path}?{PERIOD}", dashboard=True)
            for key in charts:
                p.page.locator(f"#chart-{key}").scroll_into_view_if_needed()
                box = p.page.locator(f"#chart-{key}").bounding_box()
                for fx, fy in ((0.5, 0.5), (0.3, 0.4), (0.7, 0.45)):
                    p.page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                    p.page.wait_for_timeout(120)  # let the tooltip draw (not an assertion)
        box = p.page.locator("#chart-reporting").bounding_box()
        assert box is not None
        p.page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        p.page.screenshot(path=str(artifacts_dir / "tooltip-completeness.png"))
        assert p.errors == []
    finally:
        p.close()


def test_facility_view_names_the_facility_and_filters_show_the_selection(
    site: tuple[Env, Facilities, str], browser: Any, artifacts_dir: Path
) -> None:
    env, facilities, base = site
    code, fac = sorted(facilities.items())[0]
    p = Person(browser)
    try:
        p.sign_in_as(base, env, "chuyenvien")
        page = p.page
        p.open(f"{base}/kcb?{PERIOD}&facility={code}&tier={fac['tuyen']}&loai_kcb=01", True)
        assert page.inner_text("#facility-name") == fac["ten"]
        assert code in page.inner_text("#facility-meta")
        chips = page.eval_on_selector_all(
            "#filter-summary .chip", "cs => cs.map(c => c.getAttribute('data-filter'))"
        )
        assert chips == ["period", "facility", "tier", "loai_kcb"]
        assert page.inner_text(".chip[data-filter=period] .chip-value") == "01/12/2024 – 28/02/2025"
        assert (
            page.inner_text(".chip[data-filter=facility] .chip-value") == f"{code} — {fac['ten']}"
        )
        assert page.locator(".chip[data-filter=period] .chip-remove").count() == 0
        page.screenshot(path=str(artifacts_dir / "facility-view-1920.png"))
        # removing one filter keeps the others
        page.click(".chip[data-filter=loai_kcb] .chip-remove")
        page.wait_for_selector("body[data-ready='1']", timeout=30000)
        assert "loai_kcb" not in page.url
        assert f"facility={code}" in page.url
        chips = page.eval_on_selector_all(
            "#filter-summary .chip", "cs => cs.map(c => c.getAttribute('data-filter'))"
        )
        assert chips == ["period", "facility", "tier"]
        assert page.input_value("#f-loai") == ""
        # a commune: its name in the title and in a chip
        commune, commune_name = fac["ma_xa"], fac["ten_xa"]
        p.open(f"{base}/kcb?{PERIOD}&commune={commune}&lang=en", True)
        assert page.inner_text("#commune-name") == commune_name
        assert page.inner_text(".chip[data-filter=commune] .chip-value") == commune_name
        assert page.inner_text(".chip[data-filter=period] .chip-value") == "2024-12-01 – 2025-02-28"
        assert p.errors == []
    finally:
        p.close()


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1920, 1080)])
def test_phone_and_wide_layouts(
    site: tuple[Env, Facilities, str], browser: Any, artifacts_dir: Path, width: int, height: int
) -> None:
    env, _, base = site
    p = Person(browser, width, height)
    try:
        p.open(f"{base}/login")
        assert p.page.evaluate("document.documentElement.scrollWidth") <= width
        assert p.page.locator("#login-submit").is_visible()
        p.page.screenshot(path=str(artifacts_dir / f"layout-login-{width}x{height}.png"))
        p.sign_in_as(base, env, "chuyenvien")
        for path, dashboard in (
            (f"/kcb?{PERIOD}", True),
            (f"/completeness?{PERIOD}", True),
            ("/account", False),
            ("/audit", False),  # 403 page for this person
        ):
            p.open(f"{base}{path}", dashboard)
            page = p.page
            # nothing wider than the screen: no sideways scrolling of the page
            assert page.evaluate("document.documentElement.scrollWidth") <= width, path
            for sel in ("#brand", "#site-nav a >> nth=0", "#logout", "#lang-toggle"):
                box = page.locator(sel).bounding_box()
                assert box is not None, (path, sel)
                assert box["x"] >= 0, (path, sel, box)
                assert box["x"] + box["width"] <= width, (path, sel, box)
                assert page.locator(sel).is_visible(), (path, sel)
            name = path.split("?")[0].strip("/")
            page.screenshot(path=str(artifacts_dir / f"layout-{name}-{width}x{height}.png"))
        # on a phone the header stays one compact block above the content
        head = p.page.locator("#site-header").bounding_box()
        assert head is not None
        assert head["height"] < (height / 4 if width < 700 else 80)
        assert [e for e in p.errors if "status of 403" not in e] == []
    finally:
        p.close()
