"""Benchmark of the security layer, medians of several runs, with same-run baselines:

- audit append (one transaction per entry, hash chain + lock row) against inserting the same rows
  into a plain table with no chain (ratio = cost of the chain);
- audit verify: entries checked per second;
- requests to a bare FastAPI app (baseline) against a public route of the secured application
  (headers/CSRF/route-guard middleware) and an authenticated API request (bearer token looked
  up in the database, principal built).

    python -m benchmarks.security [--entries 2000] [--requests 300] [--runs 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
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

    from khoyte.security.web import STATIC

    bare = FastAPI()
    js = STATIC["security.js"][1].read_bytes()

    @bare.get("/static/security/security.js")
    def plain() -> Response:
        return Response(js, media_type="text/javascript")

    bare_client = TestClient(bare)
    t = time.perf_counter()
    for _ in range(n):
        assert bare_client.get("/static/security/security.js").status_code == 200
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
        assert client.get("/static/security/security.js").status_code == 200
    public = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(n):
        assert client.get("/api/v1/auth/me", headers=h).status_code == 200
    authed = time.perf_counter() - t
    return unsecured, public, authed


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args(argv)
    if a.quick:
        a.entries, a.requests, a.runs = 200, 50, 3
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


if __name__ == "__main__":
    main()
