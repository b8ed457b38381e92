"""A facility's credential cannot fill the archive (security test 2026-12, F13): a daily quota
of new bytes per facility (SQLite and PostgreSQL), and a bounded number of bodies in flight per
credential."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from khoyte.gateway.models import IntakeEvent
from khoyte.store.db import session_scope
from khoyte.web.app import create_app
from khoyte.web.bodylimit import BodyLimit
from tests.gateway_helpers import (
    FAC_A,
    FAC_B,
    claim,
    db_url_fixture,
    register_facilities,
    settings_for,
)

__all__ = ["db_url_fixture"]


def test_daily_archive_quota_per_facility(tmp_path: Path, db_url: str | None) -> None:
    files = [claim(f"LKQ{i}") for i in range(4)]
    quota = sum(len(f) for f in files[:3]) + 10  # room for three files
    settings = settings_for(tmp_path, db_url, archive_quota_bytes_per_day=quota,
                            warehouse_refresh_seconds=0)  # fmt: skip
    app = create_app(settings)
    service = app.state.services.intake
    tokens = register_facilities(service)

    def post(data: bytes, fac: str = FAC_A) -> Any:
        return c.post("/api/v1/submissions", content=data, headers={
            "Authorization": f"Bearer {tokens[fac]}", "Content-Type": "application/xml"})  # fmt: skip

    with TestClient(app) as c:
        for f in files[:3]:
            assert post(f).status_code == 201
        over = post(files[3])
        assert over.status_code == 429, over.text
        err = over.json()["error"]
        assert err["code"] == "quota_exceeded"
        assert err["details"]["facility"] == FAC_A
        assert err["details"]["quota_bytes"] == quota
        assert int(over.headers["retry-after"]) >= 1
        assert "UTC" in err["message_vi"]
        assert post(files[0]).status_code == 200  # a resend adds nothing: still answered
        assert post(claim("LKQ9", facility=FAC_B), FAC_B).status_code == 201  # others unaffected
    with session_scope(service.sessions) as s:
        kinds = s.scalars(select(IntakeEvent.kind).where(IntakeEvent.facility == FAC_A)).all()
    assert "quota_exceeded" in kinds
    archived = {p.name for p in settings.archive_dir.rglob("*") if p.is_file()}
    assert len(archived) == 4  # three of FAC_A, one of FAC_B: the refused file was not kept
    app.state.services.close()


def test_bodies_in_flight_per_credential_are_bounded() -> None:
    """With one slot, a credential's second file waits until the first is done, before any of
    its body is read; another credential is not held up."""
    started: list[str] = []
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        who = dict(scope["headers"])[b"authorization"].decode()
        started.append(who)
        if len(started) == 1:
            await release.wait()  # the first request holds its slot
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    mw = BodyLimit(app, limit=1024, timeout=30, large={"/api/v1/submissions": 1 << 20},
                   parallel=1)  # fmt: skip

    async def call(token: str) -> None:
        scope = {"type": "http", "method": "POST", "path": "/api/v1/submissions",
                 "headers": [(b"authorization", token.encode())]}  # fmt: skip

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"x", "more_body": False}

        async def send(_: Any) -> None:
            return None

        await mw(scope, receive, send)

    async def main() -> None:
        first = asyncio.create_task(call("Bearer A"))
        await asyncio.sleep(0)
        second = asyncio.create_task(call("Bearer A"))
        other = asyncio.create_task(call("Bearer B"))
        await other
        for _ in range(10):
            await asyncio.sleep(0)
        assert started == ["Bearer A", "Bearer B"]  # the second A waits for its slot
        release.set()
        await asyncio.gather(first, second)
        assert started == ["Bearer A", "Bearer B", "Bearer A"]
        assert mw.slots == {}

    asyncio.run(main())
