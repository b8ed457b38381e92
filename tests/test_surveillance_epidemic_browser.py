"""The epidemic page in real Chromium (issue 15, item 7): at 390×844 and wide, every signal's
chart (observed, expected, bound, alarms), the communes ranked by excess with the outbreak's
commune first, Vietnamese first and English on ?lang=en, the caller's scope; no console errors
(a CSP violation is one)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from khoyte.security.service import utcnow
from tests.alerts_helpers import alerts_env, services
from tests.browser_helpers import Person, serve
from tests.security_helpers import Env
from tests.test_surveillance_epidemic import episodes, fill

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Env, str]]:
    mp = pytest.MonkeyPatch()
    env = alerts_env(tmp_path_factory.mktemp("epi"), mp)
    mp.undo()
    fill(env, episodes(7, outbreak_in="C2"))
    env.app.state.security.clock = utcnow  # sessions in real time; the data's clock stays
    with serve(env.app) as base:
        yield env, base
    services(env).close()


def _open(person: Person, url: str) -> None:
    person.page.goto(url)
    person.page.wait_for_selector("#epi-status[data-state]", timeout=120000)
    assert person.page.get_attribute("#epi-status", "data-state") == "ready"


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1920, 1080)])
def test_the_province_sees_the_outbreak_first(
    site: tuple[Env, str], browser: Any, width: int, height: int
) -> None:
    _, base = site
    person = Person(browser, width, height)
    try:
        person.sign_in(base, "tinh")
        _open(person, f"{base}/epidemic")
        page = person.page
        assert page.text_content("h1") == "Giám sát dịch bệnh"
        assert page.locator("#epi-charts .panel[data-signal]").count() == 6
        assert page.locator("#epi-charts canvas").count() >= 6  # ECharts drew every signal
        dengue = page.get_attribute(".panel[data-signal=dengue] .alarm-count", "data-alarms")
        assert dengue is not None
        assert int(dengue) >= 1
        first = page.locator("#ranking-table tbody tr").first
        assert first.get_attribute("data-commune") == "C2"
        assert first.get_attribute("class") == "alarm"
        assert page.locator("#ranking-table tbody tr").count() == 2
        assert person.fits()
        _open(person, f"{base}/epidemic?lang=en&signal=dengue&frequency=day")
        assert page.text_content("h1") == "Epidemic watch"
        assert page.locator("#epi-charts .panel[data-signal]").count() == 1
        assert person.fits()
        assert person.errors == []
    finally:
        person.close()


def test_a_commune_leader_sees_only_their_commune(site: tuple[Env, str], browser: Any) -> None:
    _, base = site
    person = Person(browser, 390, 844)
    try:
        person.sign_in(base, "xa1")
        _open(person, f"{base}/epidemic?signal=dengue")
        rows = person.page.locator("#ranking-table tbody tr")
        assert rows.count() == 1
        assert rows.first.get_attribute("data-commune") == "C1"
        assert person.errors == []
    finally:
        person.close()
