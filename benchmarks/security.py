"""Benchmark of the security layer, medians of several runs, with same-run baselines:

- audit append (one transaction per entry, hash chain + lock row) against inserting the same rows
  into a plain table with no chain (ratio = cost of the chain);
- audit verify: entries checked per second;
- requests to a bare FastAPI app (baseline) against a public route of the secured application
  (headers/CSRF/route-guard middleware) and an authenticated API request (bearer token looked
  up in the database, principal built).

- sign-in flood (finding F8): intake latency of one facility submitting files one after the
  other against one ``khoyte serve`` process (port 8103, loopback), idle and then while
  ``--flooders`` anonymous clients send wrong sign-ins as fast as they can; prints p50/p95 of
  both and their ratio, the flood's requests/s and answers, and the rows it wrote.

    python -m benchmarks.security [--entries 2000] [--requests 300] [--runs 3] [--quick]
    python -m benchmarks.security --flood-only [--flood-files 200] [--flooders 8]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert


def _append(n: int, tmp: Path) -> tuple[float, float, float]:
    from khoyte.security import audit
    from khoyte.store.db import make_engine, migrate, session_factory, session_scope

    engine = make_engine(url=f"sqlite:///{tmp / 'a.sqlite3'}")
    migrate(engine)
    factory = session_factory(engine)
    meta = MetaData()
    plain = Table(
        "plain_log", meta, Column("seq", Integer, primary_key=True),
        *(Column(c, String(200)) for c in ("at", "actor", "action", "target", "outcome", "ip")),
        Column("details", Text),
    )  # fmt: skip
    meta.create_all(engine)
    t = time.perf_counter()
    for i in range(n):
        with session_scope(factory) as s:
            s.execute(
                insert(plain).values(
                    at=audit.now_iso(), actor="user:a", action="record.view",
                    target=f"record:{i}", outcome="success", ip="10.0.0.1",
                    details='{"facility":"01001"}',
                )
            )  # fmt: skip
    baseline = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(n):
        with session_scope(factory) as s:
            audit.record(s, "user:a", "record.view", f"record:{i}", "success", "10.0.0.1",
                         details={"facility": "01001"})  # fmt: skip
    chained = time.perf_counter() - t
    t = time.perf_counter()
    with session_scope(factory) as s:
        verdict = audit.verify(s)
    verify = time.perf_counter() - t
    assert verdict.ok
    engine.dispose()
    return baseline, chained, verify


def _requests(n: int, tmp: Path) -> tuple[float, float, float]:
    from fastapi import FastAPI
    from fastapi.responses import Response
    from fastapi.testclient import TestClient

    from khoyte.layout import STATIC

    bare = FastAPI()
    js = (STATIC / "site.js").read_bytes()

    @bare.get("/static/site.js")
    def plain() -> Response:
        return Response(js, media_type="text/javascript")

    bare_client = TestClient(bare)
    t = time.perf_counter()
    for _ in range(n):
        assert bare_client.get("/static/site.js").status_code == 200
    unsecured = time.perf_counter() - t

    from khoyte.config import Settings
    from khoyte.security import service
    from khoyte.store.db import session_scope
    from khoyte.web.app import create_app

    settings = Settings(data_dir=tmp, database_url=f"sqlite:///{tmp / 'r.sqlite3'}")
    app = create_app(settings)
    with session_scope(app.state.security.factory) as s:
        service.create_user(
            s, settings, username="bench", password="Sông-Hồng-2025!", roles=["auditor"],
            scopes=["province"], actor="bench", ip="",
        )  # fmt: skip
    client = TestClient(app)
    tok = client.post(
        "/api/v1/auth/token", json={"username": "bench", "password": "Sông-Hồng-2025!"}
    ).json()["access_token"]
    h = {"Authorization": f"Bearer {tok}"}
    t = time.perf_counter()
    for _ in range(n):
        assert client.get("/static/site.js").status_code == 200
    public = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(n):
        assert client.get("/api/v1/auth/me", headers=h).status_code == 200
    authed = time.perf_counter() - t
    return unsecured, public, authed


FLOOD_PORT = 8103


async def _flood_phase(
    url: str, token: str, files: list[bytes], flooders: int
) -> tuple[list[float], Counter[int]]:
    import asyncio

    import httpx

    lat: list[float] = []
    answers: Counter[int] = Counter()
    stop = asyncio.Event()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:

        async def hammer() -> None:
            body = {"username": "nobody", "password": "x"}
            while not stop.is_set():
                r = await http.post("/api/v1/auth/token", json=body)
                answers[r.status_code] += 1

        tasks = [asyncio.create_task(hammer()) for _ in range(flooders)]
        # measure the steady state: the address's few evaluated guesses (Argon2) are done
        while flooders and not answers[429]:
            await asyncio.sleep(0.05)
        for data in files:
            t0 = time.perf_counter()
            r = await http.post("/api/v1/submissions", content=data, headers=headers)
            lat.append(time.perf_counter() - t0)
            assert r.status_code == 201, r.text[:300]
        stop.set()
        await asyncio.gather(*tasks)
    return lat, answers


def _rows(data_dir: Path) -> tuple[int, int]:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{data_dir / 'khoyte.sqlite3'}")
    with engine.connect() as conn:
        audit_rows = conn.execute(
            text("SELECT count(*) FROM sec_audit_log WHERE action LIKE 'login%'")
        ).scalar_one()
        throttle = conn.execute(text("SELECT count(*) FROM sec_login_throttle")).scalar_one()
    engine.dispose()
    return int(audit_rows), int(throttle)


def flood(n_files: int, flooders: int) -> None:
    import asyncio
    import uuid

    from tests.gateway_helpers import Server

    from benchmarks.gateway_load import make_files, pct
    from khoyte.config import Settings
    from khoyte.gateway.facilities import add_facility, new_token
    from khoyte.gateway.intake import IntakeService, ensure_schema
    from khoyte.store.db import session_scope

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        svc = IntakeService(Settings(data_dir=data_dir, rate_limit_per_minute=0))
        ensure_schema(svc.engine)
        with session_scope(svc.sessions) as s:
            add_facility(s, "90001", "Bench 90001")
            token = new_token(s, "90001")
        svc.engine.dispose()
        salt = uuid.uuid4().hex[:6]
        idle_files = make_files("90001", n_files, salt + "i")
        flood_files = make_files("90001", n_files, salt + "f")
        server = Server(data_dir, None, KHOYTE_RATE_LIMIT_PER_MINUTE="0")
        server.port, server.url = FLOOD_PORT, f"http://127.0.0.1:{FLOOD_PORT}"
        server.start()
        try:
            asyncio.run(_flood_phase(server.url, token, make_files("90001", 5, salt + "w"), 0))
            idle, _ = asyncio.run(_flood_phase(server.url, token, idle_files, 0))
            before = _rows(data_dir)
            t0 = time.perf_counter()
            flooded, answers = asyncio.run(_flood_phase(server.url, token, flood_files, flooders))
            elapsed = time.perf_counter() - t0
            after = _rows(data_dir)
        finally:
            server.stop()
    sent = sum(answers.values())
    p50i, p95i, p50f, p95f = (pct(x, p) * 1000 for x in (idle, flooded) for p in (50, 95))
    print(f"sign-in flood ({flooders} anonymous clients, one address) vs intake, {n_files} files:")
    print(f"  intake idle           : p50 {p50i:6.1f} ms, p95 {p95i:6.1f} ms")
    print(
        f"  intake under flood    : p50 {p50f:6.1f} ms, p95 {p95f:6.1f} ms  "
        f"(x{p50f / p50i:.2f} p50, x{p95f / p95i:.2f} p95 the idle time)"
    )
    print(
        f"  flood                 : {sent / elapsed:9.0f} req/s, answers "
        f"{dict(sorted(answers.items()))}"
    )
    per_1000 = 1000 * (after[0] - before[0]) / max(sent, 1)
    print(
        f"  rows written          : {after[0] - before[0]} sign-in audit entries "
        f"({per_1000:.1f} per 1000 attempts), {after[1]} throttle rows"
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--flood-only", action="store_true", help="only the sign-in flood")
    ap.add_argument("--flood-files", type=int, default=200)
    ap.add_argument("--flooders", type=int, default=8)
    a = ap.parse_args(argv)
    if a.quick:
        a.entries, a.requests, a.runs, a.flood_files = 200, 50, 3, 40
    if a.flood_only:
        flood(a.flood_files, a.flooders)
        return
    appends, reqs = [], []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory() as tmp:
            appends.append(_append(a.entries, Path(tmp)))
        with tempfile.TemporaryDirectory() as tmp:
            reqs.append(_requests(a.requests, Path(tmp)))
    base = statistics.median(x[0] for x in appends)
    chain = statistics.median(x[1] for x in appends)
    verify = statistics.median(x[2] for x in appends)
    bare = statistics.median(x[0] for x in reqs)
    public = statistics.median(x[1] for x in reqs)
    authed = statistics.median(x[2] for x in reqs)
    n, r = a.entries, a.requests
    print(f"audit append (SQLite, 1 transaction each, {n} entries, median of {a.runs}):")
    print(f"  plain insert baseline : {n / base:9.0f} entries/s")
    print(
        f"  hash-chained append   : {n / chain:9.0f} entries/s  (x{chain / base:.2f} the baseline time)"
    )
    print(f"  verify whole chain    : {n / verify:9.0f} entries/s")
    print(f"API requests ({r} each, median of {a.runs}):")
    print(f"  bare FastAPI baseline : {r / bare:9.0f} req/s")
    print(f"  public route, secured : {r / public:9.0f} req/s  (x{public / bare:.2f} the time)")
    print(f"  bearer-authenticated  : {r / authed:9.0f} req/s  (x{authed / bare:.2f} the time)")
    flood(a.flood_files, a.flooders)


if __name__ == "__main__":
    main()
