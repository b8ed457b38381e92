"""Errors for people and for programs: a browser asking for a page gets an HTML page in the
site's layout (Vietnamese first, English with ``?lang=en``, a way back); API clients (``/api/``,
``Accept: application/json``, a bearer credential) keep the one JSON error shape."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends
from lxml import html as lhtml

from khoyte.access import Permission, Principal, requires
from tests.security_helpers import Env, make_env, sign_in

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    e = make_env(tmp_path, monkeypatch, warehouse_refresh_seconds=0)

    @e.app.get("/boom", include_in_schema=False)
    def boom(_: Annotated[Principal, Depends(requires(Permission.PUBLIC))]) -> None:
        raise RuntimeError("a bug")

    e.add_user("lanhdao", ["province_leader"], ["province"])
    return e


def _page(text: str) -> lhtml.HtmlElement:
    return lhtml.fromstring(text)


def _one(doc: lhtml.HtmlElement, id_: str) -> str:
    found = doc.xpath(f'//*[@id="{id_}"]')
    assert len(found) == 1, id_
    return str(found[0].text_content()).strip()


def _attr(doc: lhtml.HtmlElement, id_: str, name: str) -> str | None:
    found = doc.xpath(f'//*[@id="{id_}"]')
    assert len(found) == 1, id_
    value = found[0].get(name)
    return None if value is None else str(value)


def _nav(doc: lhtml.HtmlElement) -> list[str]:
    return [str(a.get("href")) for a in doc.xpath('//nav[@id="site-nav"]//a')]


def test_signed_in_leader_opening_admin_gets_a_page(env: Env) -> None:
    c = env.client()
    sign_in(c, "lanhdao")
    r = c.get("/admin/users", headers=HTML)
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("text/html")
    doc = _page(r.text)
    assert doc.get("lang") == "vi"
    assert _one(doc, "error-title") == "Không có quyền truy cập trang này"
    assert _one(doc, "error-code") == "forbidden"
    assert _attr(doc, "error-home", "href") == "/kcb"  # the person's first page
    assert _nav(doc) == ["/kcb", "/ioc", "/epidemic", "/alerts", "/requests"]  # a leader's pages
    assert len(doc.xpath('//form[@id="logout-form"]//input[@name="csrf_token"]')) == 1
    en = _page(c.get("/admin/users?lang=en", headers=HTML).text)
    assert en.get("lang") == "en"
    assert _one(en, "error-title") == "You may not open this page"
    # the same address for a program: JSON
    r = c.get("/admin/users", headers={"accept": "application/json"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/nothing-here", HTML),  # the API answers JSON even to a browser
        ("/nothing-here", {"accept": "application/json"}),
        ("/nothing-here", {**HTML, "authorization": "Bearer x"}),  # an API client
        ("/nothing-here", {}),  # no preference: JSON (scripts, curl)
    ],
)
def test_programs_keep_the_json_error_shape(env: Env, path: str, headers: dict[str, str]) -> None:
    r = env.client().get(path, headers=headers)
    assert r.status_code in (401, 404)
    assert r.headers["content-type"] == "application/json"
    assert set(r.json()["error"]) == {"status", "code", "message_vi", "message_en", "details"}


def test_not_found_and_internal_error_pages(env: Env) -> None:
    c = env.client()
    r = c.get("/khong-co", headers=HTML)
    assert r.status_code == 404
    doc = _page(r.text)
    assert _one(doc, "error-code") == "not_found"
    assert _one(doc, "error-title") == "Không tìm thấy trang"
    # anonymous: no navigation, a way to sign in, and home
    assert _nav(doc) == []
    assert _attr(doc, "sign-in", "href") == "/login?next=%2Fkhong-co"
    r = c.get("/static/%00", headers=HTML)  # F23: a malformed static path is not found
    assert r.status_code == 404
    crash = env.client()
    crash_client = type(crash)(env.app, raise_server_exceptions=False, follow_redirects=False)
    r = crash_client.get("/boom?lang=en", headers=HTML)
    assert r.status_code == 500
    doc = _page(r.text)
    assert _one(doc, "error-title") == "Something went wrong"
    assert "a bug" not in r.text  # nothing of the exception reaches the person
    assert _attr(doc, "error-home", "href") == "/"
    r = crash_client.get("/boom")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal_error"


def test_form_answers_are_pages_too(env: Env) -> None:
    """A form sent with a stale token: the person sees a page that says what to do."""
    c = env.client()
    c.get("/login")
    r = c.post(
        "/login",
        data={"username": "lanhdao", "password": "x", "csrf_token": "f" * 64},
        headers=HTML,
    )
    assert r.status_code == 403
    doc = _page(r.text)
    assert _one(doc, "error-code") == "csrf_failed"
    assert "tải lại trang" in _one(doc, "error-message")
    # its language switch leads to a page that answers GET (the form's address does not)
    assert _attr(doc, "lang-toggle", "href") == "/?lang=en"


def test_account_pages_follow_the_language_switch(env: Env) -> None:
    c = env.client()
    sign_in(c, "lanhdao")
    vi = _page(c.get("/account", headers=HTML).text)
    assert _one(vi, "account-name") == "lanhdao"
    assert vi.xpath("//h1")[0].text_content().startswith("Tài khoản")
    assert _attr(vi, "lang-toggle", "href") == "/account?lang=en"
    en = _page(c.get("/account?lang=en", headers=HTML).text)
    assert en.get("lang") == "en"
    assert en.xpath("//h1")[0].text_content().startswith("Account")
    assert [li.text_content() for li in en.xpath('//ul[@id="account-roles"]/li')] == [
        "Province leader"
    ]
    assert _nav(en) == [
        "/kcb?lang=en",
        "/ioc?lang=en",
        "/epidemic?lang=en",
        "/alerts?lang=en",
        "/requests?lang=en",
    ]  # the navigation keeps the language
    assert _attr(en, "lang-toggle", "href") == "/account?lang=vi"
