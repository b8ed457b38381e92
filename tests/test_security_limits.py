"""Request bodies are bounded before anyone is authenticated (security test 2026-12, F2, F18).

The big and slow bodies are fed to the real application through its ASGI interface, by a
``receive`` that counts what the application pulled: the proof that a body was *not* read whole
is the count, not a memory measurement.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from khoyte.config import Settings
from khoyte.web.app import create_app
from tests.gateway_helpers import FAC_A, claims, register_facilities

CHUNK = 64 * 1024


def _settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", warehouse_refresh_seconds=0, **kw)


async def _call(
    app: Any, path: str, chunks: AsyncIterator[bytes], headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, Any], int]:
    """POST through the ASGI app; (status, JSON body, bytes the app pulled)."""
    pulled = 0
    out: dict[str, Any] = {"status": 0, "body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return out["status"], json.loads(out["body"]), pulled


def test_a_200_mb_anonymous_sign_in_body_is_refused_after_the_limit(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    app = create_app(settings)

    async def body() -> AsyncIterator[bytes]:  # {"username":"a","password":"AAAA…"} of 200 MB
        yield b'{"username":"a","password":"'
        for _ in range(200 * 1024 * 1024 // CHUNK):
            yield b"A" * CHUNK

    status, answer, pulled = asyncio.run(
        _call(app, "/api/v1/auth/token", body(), [(b"content-type", b"application/json")])
    )
    assert status == 413
    assert answer["error"]["code"] == "too_large"
    assert answer["error"]["details"]["max_bytes"] == settings.max_request_body_bytes
    assert pulled <= settings.max_request_body_bytes + CHUNK  # never read beyond the limit


def test_a_declared_oversize_body_is_refused_unread(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    with TestClient(app) as c:
        r = c.post(
            "/api/v1/auth/token",
            content=b'{"username":"a","password":"' + b"A" * 300_000 + b'"}',
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "too_large"
        assert r.headers["x-content-type-options"] == "nosniff"
        # the sign-in form too (urlencoded, read by FastAPI before the route runs)
        r = c.post("/login", content=b"username=" + b"a" * 300_000,
                   headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert r.status_code == 413
        bad = c.post("/api/v1/auth/token", content=b"{}",
                     headers={"content-type": "application/json", "content-length": "x1"})  # fmt: skip
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "bad_content_length"
        # a small body still works: the ordinary answer (wrong password)
        ok = c.post("/api/v1/auth/token", json={"username": "nobody", "password": "x" * 12})
        assert ok.status_code == 401


def test_a_slow_body_is_cut_off_on_every_route(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, request_timeout=0.5))

    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"username":"a",'
        await asyncio.Event().wait()  # the rest never comes
        yield b""

    status, answer, pulled = asyncio.run(
        _call(app, "/api/v1/auth/token", trickle(), [(b"content-type", b"application/json")])
    )
    assert status == 408
    assert answer["error"]["code"] == "request_timeout"
    assert answer["error"]["details"]["timeout_seconds"] == 0.5
    assert pulled == len(b'{"username":"a",')


def test_files_keep_the_larger_intake_limit(tmp_path: Path) -> None:
    """The submission routes take files up to ``max_body_bytes``, above the general limit."""
    settings = _settings(tmp_path, max_request_body_bytes=4096)
    app = create_app(settings)
    tokens = register_facilities(app.state.services.intake)
    data = claims([f"LKBIG{i:03d}" for i in range(12)])
    assert len(data) > 8 * settings.max_request_body_bytes
    with TestClient(app) as c:
        r = c.post(
            "/api/v1/submissions",
            content=data,
            headers={"Authorization": f"Bearer {tokens[FAC_A]}", "Content-Type": "application/xml"},
        )
        assert r.status_code == 201, r.text
    app.state.services.close()


def test_a_nul_byte_in_a_static_path_is_not_found(tmp_path: Path) -> None:
    """F23: ``/static/%00`` answered 500 with a traceback in the log."""
    with TestClient(create_app(_settings(tmp_path)), raise_server_exceptions=False) as c:
        for path in ("/static/%00", "/static/a%00b.css", "/static/%00/../x"):
            r = c.get(path)
            assert r.status_code == 404, (path, r.status_code)
            assert r.json()["error"]["code"] == "not_found"


def test_who_may_read_the_metrics_is_a_setting(tmp_path: Path, monkeypatch: Any) -> None:
    """F26: ``metrics_access`` = public | permission | off."""
    from tests.security_helpers import make_env, totp_now

    public = TestClient(create_app(_settings(tmp_path / "p")))
    assert public.get("/metrics").status_code == 200
    off = TestClient(create_app(_settings(tmp_path / "o", metrics_access="off")))
    assert off.get("/metrics").status_code == 404
    env = make_env(tmp_path / "g", monkeypatch, metrics_access="permission",
                   warehouse_refresh_seconds=0)  # fmt: skip
    c = env.client()
    assert c.get("/metrics").status_code == 401
    env.add_user("spec-m", ["doh_specialist"], ["province"])
    spec = {"Authorization": f"Bearer {env.token('spec-m')}"}
    assert c.get("/metrics", headers=spec).status_code == 403
    uri = env.add_user("admin-m", ["it_admin"], ["province"])
    assert uri is not None
    admin = {"Authorization": f"Bearer {env.token('admin-m', otp=totp_now(uri, env.clock.now))}"}
    r = c.get("/metrics", headers=admin)
    assert r.status_code == 200
    assert "khoyte_submissions_total" in r.text
