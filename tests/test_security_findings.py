"""Regression tests for the findings of the 2026-12 security test
(shared/reviews/security-test-2026-12.md): F1, F3, F5 (role administration; the matrix part is
in test_security_matrix.py), F8, F9, F10, F11, F12, F14, F15, F20. Each failed on the code
before its fix. Where the store is involved they run on SQLite and on PostgreSQL (a fresh
database per test)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from khoyte.cli import app as cli
from khoyte.security import audit, models, service
from khoyte.security.models import AuditEntry
from khoyte.store.db import session_scope
from tests.gateway_helpers import db_url_fixture
from tests.security_helpers import PASSWORD, Env, csrf_from, make_env, sign_in, totp_now

assert db_url_fixture  # the fixture `db_url` (SQLite and PostgreSQL)


@pytest.fixture
def env(db_url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    return make_env(tmp_path, monkeypatch, database_url=db_url)


def _entries(env: Env) -> list[dict[str, Any]]:
    with session_scope(env.sec.factory) as s:
        return [audit.as_dict(e) for e in s.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def _count(env: Env, model: Any) -> int:
    with session_scope(env.sec.factory) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _parallel(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """``fn(i)`` in ``n`` threads released together (a barrier), results in order."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(run, range(n)))


def _admin_session(env: Env, name: str = "quantri") -> tuple[str, str]:
    """An it_admin signed in with TOTP: (session cookie value, CSRF token)."""
    uri = env.add_user(name, ["it_admin"], ["province"])
    assert uri
    c = env.client()
    assert sign_in(c, name, otp=totp_now(uri, env.clock.now)).status_code == 303
    session = c.cookies["khoyte_session"]
    return session, csrf_from(c.get("/admin/users").text)


# --- F1: one cookie parser for CSRF and sessions -----------------------------------------------

HOSTILE_COOKIES = [
    "version=1; khoyte_session={s}",  # a reserved attribute name first
    'junk="abc; khoyte_session={s}',  # a value SimpleCookie's grammar rejects
    "path=/admin; khoyte_session={s}",
    "expires=x; max-age=1; khoyte_session={s}",
    "khoyte_session={s}; version=1",
    "khoyte_session=nonsense; khoyte_session={s}",  # a duplicate: the last one wins for both
    "$Version=1; khoyte_session={s}",
]


def test_f1_hostile_cookie_orders_never_skip_the_csrf_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(tmp_path, monkeypatch)
    session, _ = _admin_session(env)
    bare = env.client()  # no cookie jar in play: the header is sent exactly as written
    for i, pattern in enumerate(HOSTILE_COOKIES):
        cookie = pattern.format(s=session)
        form = {"username": f"csrf{i}", "password": PASSWORD, "roles": ["province_leader"],
                "scopes": "province"}  # fmt: skip
        r = bare.post("/admin/users", data=form, headers={"cookie": cookie})
        assert r.status_code == 403, (cookie, r.status_code)
        assert r.json()["error"]["code"] == "csrf_failed"
        r = bare.post("/logout", headers={"cookie": cookie})
        assert r.status_code == 403, cookie
        # the no-store decision sees the session as well
        r = bare.get("/admin/users", headers={"cookie": cookie})
        assert r.status_code == 200, cookie
        assert r.headers["cache-control"] == "no-store", cookie
    # the same, split over two Cookie headers (HTTP/2 sends one per cookie)
    r = bare.post(
        "/logout", headers=[("cookie", "version=1"), ("cookie", f"khoyte_session={session}")]
    )
    assert r.status_code == 403
    created = [e["target"] for e in _entries(env) if e["action"] == "user.create"]
    assert created == ["user:quantri"]  # nothing was created by the forged posts
    assert bare.get("/api/v1/auth/me", headers={"cookie": f"khoyte_session={session}"}).is_success


# --- F3: lock-out and the per-address limit under parallel guesses ----------------------------


@pytest.mark.slow  # parallel guesses on both stores: load, out of the fast loop
def test_f3_parallel_guesses_lock_the_account_after_the_limit(env: Env) -> None:
    env.add_user("race1", ["auditor"], ["province"])
    n, limit = 12, env.settings.login_max_failures

    def guess(i: int) -> int:
        c = env.client(ip=f"192.0.2.{100 + i}")  # every guess from its own address
        body = {"username": "race1", "password": f"Wrong-guess-{i:04d}"}
        return c.post("/api/v1/auth/token", json=body).status_code

    assert _parallel(n, guess) == [401] * n
    why = [e["details"]["why"] for e in _entries(env)
           if e["action"] == "login" and e["target"] == "user:race1"]  # fmt: skip
    assert why.count("invalid") == limit  # exactly the limit was evaluated
    assert why.count("locked") == n - limit
    assert [e["action"] for e in _entries(env)].count("user.lock") == 1
    right = {"username": "race1", "password": PASSWORD}
    r = env.client(ip="192.0.2.250").post("/api/v1/auth/token", json=right)
    assert r.status_code == 401  # locked


@pytest.mark.slow  # parallel guesses on both stores: load, out of the fast loop
def test_f3_parallel_guesses_from_one_address_stop_at_its_limit(
    db_url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(tmp_path, monkeypatch, database_url=db_url, login_ip_max_failures=6)
    n = 16

    def guess(i: int) -> int:
        c = env.client(ip="198.51.100.7")
        body = {"username": f"nobody{i}", "password": "Wrong-guess-0000"}
        return c.post("/api/v1/auth/token", json=body).status_code

    codes = _parallel(n, guess)
    assert codes.count(401) == 6  # evaluated: exactly the limit
    assert codes.count(429) == n - 6


# --- F8: a sign-in flood writes bounded rows; other addresses still sign in --------------------


@pytest.mark.slow  # a sign-in flood: load, out of the fast loop
def test_f8_flood_writes_bounded_rows_and_others_still_sign_in(
    db_url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(tmp_path, monkeypatch, database_url=db_url, login_ip_max_failures=5)
    env.sec.limiter.refuse_delay = 0  # the gate's pacing is measured by benchmarks.security
    env.add_user("that", ["auditor"], ["province"])
    before = _count(env, AuditEntry)

    def hammer(i: int) -> list[int]:
        flood = env.client(ip="203.0.113.9")
        body = {"username": "nobody", "password": "x"}
        return [flood.post("/api/v1/auth/token", json=body).status_code for _ in range(30)]

    codes = [c for batch in _parallel(4, hammer) for c in batch]
    assert codes.count(401) == 5
    assert codes.count(429) == 115
    # rows: one audit entry per evaluated failure, one for the address being refused, one
    # throttle row, whatever the number of refused attempts
    added = _entries(env)[before:]
    assert len(added) == 5 + 1, [(e["action"], e["details"]) for e in added]
    assert [e["action"] for e in added].count("login.rate_limited") == 1
    assert _count(env, models.LoginThrottle) == 1
    with session_scope(env.sec.factory) as s:
        row = s.scalars(select(models.LoginThrottle)).one()
        assert (row.ip, row.failures) == ("203.0.113.9", 5)
        assert row.refused >= 1
    # someone at another address is not affected
    other = env.client(ip="198.51.100.20")
    assert sign_in(other, "that").status_code == 303
    # the flooded address stays refused, still without a row per attempt
    flood = env.client(ip="203.0.113.9")
    right = {"username": "that", "password": PASSWORD}
    assert flood.post("/api/v1/auth/token", json=right).status_code == 429
    assert len(_entries(env)) == before + 6 + 1  # + the other address's successful sign-in


# --- F9: one TOTP code, one sign-in, even in parallel ------------------------------------------


def test_f9_one_totp_code_gives_one_token_under_concurrency(env: Env) -> None:
    uri = env.add_user("quantri", ["it_admin"], ["province"])
    assert uri
    code = totp_now(uri, env.clock.now)

    def try_code(i: int) -> int:
        c = env.client(ip=f"192.0.2.{10 + i}")
        body = {"username": "quantri", "password": PASSWORD, "otp": code}
        return c.post("/api/v1/auth/token", json=body).status_code

    assert sorted(_parallel(6, try_code)) == [200] + [401] * 5
    why = [e["details"].get("why") for e in _entries(env) if e["action"] == "login"]
    # the others: the code was taken, or (in-flight guesses count) the account was at its limit
    assert why.count("totp_replayed") >= 1
    assert why.count("totp_replayed") + why.count("locked") == 5


# --- F10: editing roles/scopes that keeps one ---------------------------------------------------


def test_f10_edit_that_keeps_a_role_or_scope_is_saved(env: Env) -> None:
    env.add_user("lead", ["province_leader"], ["commune:28285"])
    session, csrf = _admin_session(env)
    c = env.client()
    c.cookies.set("khoyte_session", session)
    r = c.post(
        "/admin/users/lead/access",
        data={"csrf_token": csrf, "roles": ["province_leader"],
              "scopes": "commune:28285\ncommune:28435"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    with session_scope(env.sec.factory) as s:
        user = service.get_user(s, "lead")
        assert user is not None
        assert service.user_scope_strings(user) == ["commune:28285", "commune:28435"]
        # and through the service, the same for a kept role with a role added and one removed
        service.set_roles_and_scopes(s, user, ["province_leader", "auditor"], ["commune:28435"],
                                     "test", "test")  # fmt: skip
    with session_scope(env.sec.factory) as s:
        user = service.get_user(s, "lead")
        assert user is not None
        assert sorted(service.user_roles(user)) == ["auditor", "province_leader"]
        assert service.user_scope_strings(user) == ["commune:28435"]


# --- F11: weak passwords ----------------------------------------------------------------------

WEAK = [
    "Password1234", "Password123!", "Qwerty123456", "Abc123456789", "P@ssw0rd2024",
    "Admin@123456", "Matkhau@2025", "abcdabcdabcdabcdabcd", "12341234123412341234",
    "Khoyte@2025!",
]  # fmt: skip


@pytest.mark.parametrize("password", WEAK)
def test_f11_common_and_patterned_passwords_are_refused(password: str) -> None:
    problems = service.password_problems(password, "nv01", 12)
    assert problems, password
    assert all(vi and en for vi, en in problems)


def test_f11_the_policy_applies_to_new_accounts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(tmp_path, monkeypatch)
    with pytest.raises(service.SecurityError, match="weak_password"):
        env.add_user("pw1", ["auditor"], ["province"], password="Password1234")
    env.add_user("pw2", ["auditor"], ["province"], password="mây trắng bay qua đèo")


# --- F12: TOTP accounts do not confirm the password --------------------------------------------


def test_f12_right_password_without_code_looks_like_a_wrong_password(env: Env) -> None:
    env.add_user("quantri", ["it_admin"], ["province"])
    c = env.client()
    right = c.post("/api/v1/auth/token", json={"username": "quantri", "password": PASSWORD})
    wrong = c.post("/api/v1/auth/token", json={"username": "quantri", "password": "Sai-ma-99x!"})
    assert right.status_code == wrong.status_code == 401
    assert right.json() == wrong.json()
    page_right = sign_in(env.client(), "quantri")
    page_wrong = sign_in(env.client(), "quantri", "Sai-ma-99x!")
    assert page_right.status_code == page_wrong.status_code == 401

    def error(r: Any) -> str:
        return str(r.text.split('id="login-error"')[1].split("</p>")[0])  # the message only

    assert error(page_right) == error(page_wrong)
    # the reason stays in the trail for auditors
    assert "totp_required" in [e["details"].get("why") for e in _entries(env)]


# --- F14: revoking one's own bearer token -------------------------------------------------------


def test_f14_logout_with_a_bearer_token_revokes_it(env: Env) -> None:
    env.add_user("a", ["auditor"], ["province"])
    c = env.client()
    for path in ("/logout", "/api/v1/auth/logout"):
        h = {"Authorization": f"Bearer {env.token('a')}"}
        assert c.get("/api/v1/auth/me", headers=h).status_code == 200
        assert c.post(path, headers=h).status_code in (200, 303)
        assert c.get("/api/v1/auth/me", headers=h).status_code == 401, path
    # everywhere: every token and session of the caller
    others = [{"Authorization": f"Bearer {env.token('a')}"} for _ in range(2)]
    browser = env.client()
    assert sign_in(browser, "a").status_code == 303
    page = browser.get("/account").text  # what is still valid is listed for the owner
    assert page.count('data-kind="token"') == 2
    assert page.count('data-kind="session"') == 1
    r = c.post("/api/v1/auth/logout?everywhere=true", headers=others[0])
    assert r.json() == {"revoked": 3}
    assert all(c.get("/api/v1/auth/me", headers=h).status_code == 401 for h in others)
    assert browser.get("/api/v1/auth/me").status_code == 401
    # a token of someone else is not touched
    env.add_user("b", ["auditor"], ["province"])
    hb = {"Authorization": f"Bearer {env.token('b')}"}
    assert c.get("/api/v1/auth/me", headers=hb).status_code == 200


# --- F15: an unsigned head is not accepted when a key is configured ----------------------------


def test_f15_verify_head_requires_the_signature_when_a_key_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("KHOYTE_DATABASE_URL", raising=False)
    monkeypatch.delenv("KHOYTE_AUDIT_SIGNING_KEY", raising=False)
    add = ["user", "add", "a1", "--role", "auditor", "--scope", "province", "--password-stdin"]
    assert runner.invoke(cli, add, input=PASSWORD + "\n").exit_code == 0
    res = runner.invoke(cli, ["audit", "export-head"])
    assert res.exit_code == 0, res.output
    unsigned = tmp_path / "head.json"
    unsigned.write_text(res.stdout, encoding="utf-8")
    # no key: accepted, but the answer says nothing was checked
    res = runner.invoke(cli, ["audit", "verify", "--head", str(unsigned)])
    assert res.exit_code == 0
    assert "KHOYTE_AUDIT_SIGNING_KEY" in res.output
    # a key: the unsigned head is refused, a signed one accepted
    monkeypatch.setenv("KHOYTE_AUDIT_SIGNING_KEY", "k" * 40)
    res = runner.invoke(cli, ["audit", "verify", "--head", str(unsigned)])
    assert res.exit_code == 1
    assert "not signed" in res.output
    signed = tmp_path / "signed.json"
    signed.write_text(runner.invoke(cli, ["audit", "export-head", "--sign"]).stdout)
    assert runner.invoke(cli, ["audit", "verify", "--head", str(signed)]).exit_code == 0
    forged = json.loads(signed.read_text())
    forged["signature"] = "0" * 64
    signed.write_text(json.dumps(forged))
    assert runner.invoke(cli, ["audit", "verify", "--head", str(signed)]).exit_code == 1


# --- F20: a password typed as the username is not stored ---------------------------------------


def test_f20_unknown_usernames_are_stored_as_keyed_pseudonyms(env: Env) -> None:
    c = env.client()
    typed = "My-Secret-Passw0rd!"
    for _ in range(2):
        r = c.post("/api/v1/auth/token", json={"username": typed, "password": "spec_prov"})
        assert r.status_code == 401
    with session_scope(env.sec.factory) as s:
        entries = [audit.as_dict(e) for e in s.scalars(select(AuditEntry))]
    assert typed not in json.dumps(entries, ensure_ascii=False)
    names = [e["actor"] for e in entries if e["action"] == "login"]
    assert names == [service.pseudonym(typed, env.settings)] * 2  # the same text, the same name
    assert names[0].startswith("unknown:")
    assert "My-Secret" not in names[0]
    # an existing account keeps its name in the trail
    env.add_user("nv", ["auditor"], ["province"])
    c.post("/api/v1/auth/token", json={"username": "nv", "password": "Sai-mat-khau-99"})
    assert "user:nv" in [e["actor"] for e in _entries(env)]


# --- F5: an IT administrator cannot give itself (or a puppet) clinical access -----------------


def _admin_token(env: Env, name: str) -> dict[str, str]:
    uri = env.add_user(name, ["it_admin"], ["province"])
    assert uri
    return {"Authorization": f"Bearer {env.token(name, otp=totp_now(uri, env.clock.now))}"}


def test_f5_clinical_access_needs_a_second_administrator(env: Env) -> None:
    a1, a2 = _admin_token(env, "quantri"), _admin_token(env, "quantri2")
    c = env.client()

    def users() -> dict[str, Any]:
        return {u["username"]: u for u in c.get("/api/v1/admin/users", headers=a1).json()}

    def pending() -> list[dict[str, Any]]:
        return list(c.get("/api/v1/admin/grants", headers=a1).json())

    # no self-grant, no self-reset
    r = c.post("/admin/users/quantri/access",
               data={"roles": ["it_admin", "facility_staff"], "scopes": "province"}, headers=a1)  # fmt: skip
    assert r.status_code == 400
    assert users()["quantri"]["roles"] == ["it_admin"]
    new_pw = "Mây-trắng-bay-qua-đèo-2026"
    assert (
        c.post("/admin/users/quantri/reset", data={"password": new_pw}, headers=a1).status_code
        == 400
    )
    # a puppet with province-wide clinical access: created without it, the grant waits
    r = c.post(
        "/admin/users",
        data={"username": "shadow1", "password": PASSWORD, "roles": ["facility_staff"],
              "scopes": "province"},
        headers=a1,
    )  # fmt: skip
    assert r.status_code == 200
    assert users()["shadow1"]["roles"] == []
    # resetting another administrator: waits too, the old password still works
    r = c.post("/admin/users/quantri2/reset", data={"password": new_pw}, headers=a1)
    assert r.status_code == 200
    grants = {g["username"]: g for g in pending()}
    assert grants["shadow1"]["roles"] == ["facility_staff"]
    assert grants["quantri2"]["kind"] == "reset"
    assert "password" not in json.dumps(grants["quantri2"])  # the hash is never shown
    shadow, reset = grants["shadow1"]["id"], grants["quantri2"]["id"]
    # not by the one who asked, not by the target, not twice
    assert c.post(f"/admin/grants/{shadow}/approve", headers=a1).status_code == 400
    assert c.post(f"/admin/grants/{reset}/approve", headers=a2).status_code == 400
    assert c.post(f"/admin/grants/{shadow}/approve", headers=a2).status_code == 200
    assert c.post(f"/admin/grants/{shadow}/approve", headers=a2).status_code == 400
    assert users()["shadow1"]["roles"] == ["facility_staff"]
    assert c.post(f"/admin/grants/{reset}/reject", headers=a1).status_code == 200  # withdrawn
    assert pending() == []
    r = c.post("/api/v1/auth/token", json={"username": "quantri2", "password": new_pw})
    assert r.status_code == 401  # the reset never happened
    # every step is on the trail, for auditors
    actions = [(e["action"], e["actor"], e["target"]) for e in _entries(env)]
    assert ("grant.request", "user:quantri", "user:shadow1") in actions
    assert ("grant.request", "user:quantri", "user:quantri2") in actions
    assert ("grant.approve", "user:quantri2", "user:shadow1") in actions
    assert ("user.roles_scopes", "user:quantri2", "user:shadow1") in actions
    assert ("grant.reject", "user:quantri", "user:quantri2") in actions
