"""The report requests page in real Chromium (issue 15, item 6; seed 000 §3.3.4.9): a commune
leader creates two requests on a phone (390×844), the facility's staff answers one with a file
from the page, the leader then sees it answered and the other one late; Vietnamese first,
English on ?lang=en; no console errors, the page never scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from khoyte.security.service import utcnow
from tests.alerts_helpers import alerts_env, services
from tests.browser_helpers import Person, serve
from tests.security_helpers import Env, totp_now

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str, str | None]]:
    mp = pytest.MonkeyPatch()
    env = alerts_env(tmp_path_factory.mktemp("requests"), mp)
    mp.undo()
    uri = env.add_user("tram1", ["facility_staff"], ["facility:F1"])  # signs in with a code
    env.app.state.security.clock = utcnow  # sessions in real time; the requests' clock stays
    with serve(env.app) as base:
        yield env, base, uri
    services(env).close()


def _create(page: Any, title: str, unit: str, due: str) -> None:
    page.fill("#rq-title", title)
    page.fill("#rq-body", "Gửi trước hạn, kèm danh sách ca.")
    page.select_option("#rq-unit", unit)
    page.fill("#rq-due", due)
    page.press("#rq-due", "Enter")  # the keyboard submits the form
    page.wait_for_selector(f'li.request[data-unit="{unit}"]')


def _states(page: Any) -> dict[str, tuple[str | None, str | None]]:
    out = {}
    for li in page.locator("li.request").all():
        out[li.get_attribute("data-unit") or ""] = (
            li.get_attribute("data-status"),
            li.get_attribute("data-late"),
        )
    return out


def test_create_answer_and_see_who_is_late_on_a_phone(
    site: tuple[Env, str, str | None], browser: Any
) -> None:
    env, base, uri = site
    today = env.clock().date()
    leader = Person(browser, 390, 844)
    staff = Person(browser, 390, 844)
    try:
        leader.sign_in(base, "xa1")
        leader.page.goto(f"{base}/requests")
        assert leader.page.text_content("h1") == "Yêu cầu báo cáo"
        _create(leader.page, "Báo cáo ca sốt xuất huyết tuần 9", "facility:F1",
                (today + timedelta(days=2)).isoformat())  # fmt: skip
        _create(leader.page, "Báo cáo tháng 2", "commune:C1",
                (today + timedelta(days=1)).isoformat())  # fmt: skip
        assert _states(leader.page) == {
            "facility:F1": ("open", "false"),
            "commune:C1": ("open", "false"),
        }
        assert leader.fits()

        # the facility's staff: only the facility's request, answered with a file
        otp = totp_now(uri, utcnow()) if uri else None
        staff.sign_in(base, "tram1", otp=otp)
        page = staff.page
        page.goto(f"{base}/requests")
        assert list(_states(page)) == ["facility:F1"]
        form = page.locator('li.request[data-unit="facility:F1"] form.answer-form')
        form.locator('button[type="submit"]').click()  # nothing attached: said, not sent
        assert "tệp hoặc dữ liệu" in (form.locator(".status").text_content() or "")
        form.locator('input[name="note"]').fill("Đã tổng hợp")
        form.locator('input[type="file"]').set_input_files(
            {"name": "ca-sxh.csv", "mimeType": "text/csv", "buffer": b"MA_LK,MA_BENH\nA1,A91\n"}
        )
        form.locator('button[type="submit"]').click()
        page.wait_for_selector("#answered-ok")
        assert _states(page) == {"facility:F1": ("answered", "false")}
        assert page.locator(".request-file").text_content() == "ca-sxh.csv"
        assert staff.fits()

        # three days on, the leader sees the answer and who is late
        env.clock.advance(days=3)
        page = leader.page
        page.goto(f"{base}/requests")
        assert _states(page) == {
            "facility:F1": ("answered", "false"),
            "commune:C1": ("open", "true"),
        }
        assert page.locator('#request-filter a[data-show="late"]').text_content() == "Trễ hạn (1)"
        page.click('#request-filter a[data-show="late"]')
        page.wait_for_url("**show=late")
        assert list(_states(page)) == ["commune:C1"]
        assert page.locator("li.request .badge.bad").text_content() == "Trễ hạn"
        assert leader.fits()
        page.goto(f"{base}/requests?show=answered&lang=en")
        assert page.text_content("h1") == "Report requests"
        href = page.get_attribute(".request-file", "href")
        got = page.request.get(f"{base}{href}")
        assert got.ok
        assert got.body() == b"MA_LK,MA_BENH\nA1,A91\n"
        assert leader.errors == []
        assert staff.errors == []
    finally:
        leader.close()
        staff.close()
