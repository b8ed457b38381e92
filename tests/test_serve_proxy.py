"""``khoyte serve`` believes ``X-Forwarded-For`` only from the proxies it is told to trust
(security test 2026-12, F19): by default none, not even 127.0.0.1. The real server, on this
helper's port, and the address the audit trail records for a refused sign-in."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from khoyte.gateway.cli import proxy_options
from tests.gateway_helpers import Server

PORT = 8104


def _audited_ip(data: Path) -> str:
    """The address of the newest audit entry (the refused sign-in: each server has its own
    store, and that is the only request it served)."""
    eng = create_engine(f"sqlite:///{data / 'khoyte.sqlite3'}")
    with eng.connect() as c:
        ip = c.execute(text("SELECT ip FROM sec_audit_log ORDER BY seq DESC LIMIT 1")).scalar()
    eng.dispose()
    return str(ip)


def _refused_sign_in(data: Path, username: str, **env: str) -> str:
    data.mkdir(parents=True, exist_ok=True)
    # the store named explicitly: whatever KHOYTE_* the test process carries, this is the file
    srv = Server(data, f"sqlite:///{data / 'khoyte.sqlite3'}", **env)
    srv.port, srv.url = PORT, f"http://127.0.0.1:{PORT}"
    with socket.socket() as probe:  # never talk to another server left on the port
        assert probe.connect_ex(("127.0.0.1", PORT)) != 0, f"port {PORT} is already taken"
    try:
        srv.start(timeout=300)  # the machine is shared: starting may be slow
        r = httpx.post(srv.url + "/api/v1/auth/token", timeout=30,
                       json={"username": username, "password": "not-the-password"},
                       headers={"X-Forwarded-For": "203.0.113.77"})  # fmt: skip
        assert r.status_code == 401, r.text
    finally:
        srv.stop()
    return _audited_ip(data)


@pytest.mark.slow  # starts `khoyte serve` processes: half a minute
def test_forwarded_for_is_ignored_unless_the_proxy_is_trusted(tmp_path: Path) -> None:
    assert _refused_sign_in(tmp_path / "a", "nosuchuser_a") == "127.0.0.1"
    trusted = _refused_sign_in(
        tmp_path / "b", "nosuchuser_b", KHOYTE_FORWARDED_ALLOW_IPS="127.0.0.1"
    )
    assert trusted == "203.0.113.77"


def test_proxy_options() -> None:
    assert proxy_options("") == (False, "")
    assert proxy_options(" 10.0.0.1 , 10.0.0.2/32 ") == (True, "10.0.0.1,10.0.0.2/32")
