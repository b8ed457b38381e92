"""The report requests page (/requests, seed 000 §3.3.4.9) without a browser: a leader's form
creates a request to a unit of their scope (and is refused one outside it, on the page, in
Vietnamese first), the unit sees only its own requests with an answer form, the leader sees
who is late; the navigation shows the page to askers and to answering units."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import lxml.html as lhtml
import pytest

from tests.alerts_helpers import alerts_env, auth
from tests.security_helpers import Env, csrf_from, sign_in


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    return alerts_env(tmp_path, monkeypatch)


def _doc(html: str) -> Any:
    return lhtml.fromstring(html)


def _rows(html: str) -> list[dict[str, str]]:
    return [dict(li.attrib) for li in _doc(html).xpath('//li[contains(@class, "request")]')]


def test_leader_creates_unit_answers_leader_sees_who_is_late(env: Env) -> None:
    c = env.client()
    sign_in(c, "xa1")
    page = c.get("/requests")
    assert page.status_code == 200
    doc = _doc(page.text)
    assert doc.xpath("//h1")[0].text_content() == "Yêu cầu báo cáo"
    assert "/requests" in [a.get("href") for a in doc.xpath('//nav[@id="site-nav"]//a')]
    # only the leader's units are offered: facility F1 and commune C1, never F2 / C2
    offered = doc.xpath('//select[@id="rq-unit"]//option/@value')
    assert offered == ["", "facility:F1", "commune:C1"]
    today = env.clock().date()
    form = {"csrf_token": csrf_from(page.text), "title": "Báo cáo ca sốt xuất huyết",
            "body": "Danh sách ca tuần 9", "unit": "facility:F1",
            "due": (today + timedelta(days=2)).isoformat()}  # fmt: skip
    r = c.post("/requests", data=form)
    assert r.status_code == 303
    assert r.headers["location"] == "/requests"
    r = c.post("/requests", data={**form, "title": "Báo cáo tháng", "unit": "commune:C1",
                                  "due": (today + timedelta(days=1)).isoformat()})  # fmt: skip
    assert r.status_code == 303
    # outside the scope: the page again, with the reason, nothing created
    r = c.post("/requests", data={**form, "unit": "facility:F2"})
    assert r.status_code == 422
    assert "ngoài phạm vi" in _doc(r.text).xpath('//*[@id="request-error"]')[0].text_content()
    r = c.post("/requests?lang=en", data={**form, "title": "x"})
    assert r.status_code == 422
    assert "at least 3" in _doc(r.text).xpath('//*[@id="request-error"]')[0].text_content()
    rows = _rows(c.get("/requests").text)
    assert [(x["data-unit"], x["data-status"], x["data-late"]) for x in rows] == [
        ("commune:C1", "open", "false"),
        ("facility:F1", "open", "false"),
    ]
    first = next(int(x["data-id"]) for x in rows if x["data-unit"] == "facility:F1")

    # the unit (facility F1's staff) sees its request only, with an answer form
    staff = env.client()
    tok = env.token("nv1")
    other = env.token("nv2")
    assert [r["id"] for r in staff.get("/api/v1/report-requests", headers=auth(tok)).json()] == [
        first
    ]
    html = staff.get("/requests", headers=auth(tok)).text
    assert [x["data-id"] for x in _rows(html)] == [str(first)]
    assert _doc(html).xpath('//select[@id="rq-unit"]') == []  # staff do not ask
    assert _rows(staff.get("/requests", headers=auth(other)).text) == []
    r = staff.post("/api/v1/report-answers", headers=auth(tok),
                   data={"request_id": str(first), "note": "đã gửi"},
                   files={"file": ("ca.csv", b"MA_LK,MA_BENH\nA1,A91\n")})  # fmt: skip
    assert r.status_code == 200, r.text

    # three days on: the commune's request is late, the answered one is not
    env.clock.advance(days=3)
    c = env.client()
    sign_in(c, "xa1")
    late = c.get("/requests?show=late")
    rows = _rows(late.text)
    assert [(x["data-unit"], x["data-late"]) for x in rows] == [("commune:C1", "true")]
    assert "Trễ hạn" in _doc(late.text).xpath('//li[@data-unit="commune:C1"]')[0].text_content()
    answered = _rows(c.get("/requests?show=answered").text)
    assert [(x["data-unit"], x["data-late"]) for x in answered] == [("facility:F1", "false")]
    doc = _doc(c.get("/requests?show=answered&lang=en").text)
    assert doc.xpath("//h1")[0].text_content() == "Report requests"
    assert doc.xpath('//a[@class="request-file"]/@href') == [
        f"/api/v1/report-requests/{first}/file"
    ]


def test_the_page_needs_a_sign_in_and_creating_needs_the_permission(env: Env) -> None:
    c = env.client()
    assert c.get("/requests", headers={"accept": "application/json"}).status_code == 401
    tok = env.token("nv1")
    r = c.post("/requests", headers=auth(tok), data={"title": "abc", "unit": "facility:F1",
                                                      "due": "2026-03-05"})  # fmt: skip
    assert r.status_code == 403
