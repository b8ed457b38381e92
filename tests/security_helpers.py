"""Helpers for the security tests: an application on a real database, users, a settable clock,
sign-in through the real pages."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from khoyte.config import Settings
from khoyte.security import service
from khoyte.security.web import SecurityState
from khoyte.store.db import session_scope
from khoyte.web.app import Component, create_app

PASSWORD = "Sông-Hồng-2025!"


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 3, 1, 8, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class Env:
    app: FastAPI
    settings: Settings
    clock: Clock

    @property
    def sec(self) -> SecurityState:
        st: SecurityState = self.app.state.security
        return st

    def client(self, https: bool = False, ip: str = "testclient") -> TestClient:
        base = "https://testserver" if https else "http://testserver"
        return TestClient(self.app, base_url=base, follow_redirects=False, client=(ip, 50000))

    def add_user(
        self, username: str, roles: list[str], scopes: list[str], password: str = PASSWORD
    ) -> str | None:
        with session_scope(self.sec.factory) as s:
            _, uri = service.create_user(
                s, self.settings, username=username, password=password, roles=roles,
                scopes=scopes, actor="test", ip="test",
            )  # fmt: skip
        return uri

    def token(self, username: str, password: str = PASSWORD, otp: str | None = None) -> str:
        r = self.client().post(
            "/api/v1/auth/token", json={"username": username, "password": password, "otp": otp}
        )
        assert r.status_code == 200, r.text
        tok: str = r.json()["access_token"]
        return tok


def make_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None = None,
    components: Sequence[Component] = (),
    **overrides: Any,
) -> Env:
    settings = Settings(
        data_dir=tmp_path,
        database_url=database_url or f"sqlite:///{tmp_path / 'k.sqlite3'}",
        **overrides,
    )
    app = create_app(settings, components=components)
    clock = Clock()
    app.state.security.clock = clock
    return Env(app, settings, clock)


def csrf_from(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, otp: str = "") -> Any:
    page = client.get("/login")
    assert page.status_code == 200
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "otp": otp,
            "csrf_token": csrf_from(page.text),
        },
    )


def totp_now(uri: str, at: datetime) -> str:
    secret = pyotp.parse_uri(uri).secret
    return str(pyotp.TOTP(secret).at(at))
