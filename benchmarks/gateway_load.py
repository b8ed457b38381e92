"""Gateway under load, and one-process ingest against the reader's own speed.

1. Load: ``--clients`` concurrent facility clients (one facility and credential each) POST
   distinct synthetic claim files (3 records each), back to back on kept-alive connections, for
   ``--duration`` seconds against one ``khoyte serve`` process, then against an intake tier of
   ``--intake-workers`` processes (``khoyte serve --intake-only``) with the full server beside it
   — on SQLite, then on PostgreSQL. Prints submissions/s, records/s, latency p50/p95/p99, errors
   (must be 0) and the CPU per request of the servers (from /proc, worker processes included)
   and of the load client (lean on purpose: it shares this machine's cores).
   Each load is preceded by a same-run baseline (read + validate of the same kind of files in
   this process), and the server's records/s is also printed as a ratio to it.
2. Ingest ratio: the same files through ``IntakeService.submit`` in one process (archive with
   fsync + parse + validate + a durable commit with its audit entry) versus ``validate_file``
   alone (read + validate), median of several runs; the ratio says what storing costs on top of
   reading. Ingest is measured one file after another (no commit can be shared) and from
   ``--threads`` threads (concurrent submissions share commits: group commit), and by bulk intake
   (``khoyte ingest``: a group of 32 files per transaction; read here, or by one reader
   process), on SQLite and on PostgreSQL; CPU time (user + system) per record is printed beside wall-clock throughput,
   because on a shared machine wall-clock ratios move with the neighbours' load.

Run: ``python -m benchmarks.gateway_load [--quick] [--no-pg]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess  # nosec B404 - runs this interpreter on our own module
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from tests.conftest import PG_ADMIN_URL
from tests.factories import record
from tests.gateway_helpers import Server

from khoyte.config import Settings
from khoyte.gateway.bulk import BulkIntake, default_jobs
from khoyte.gateway.facilities import add_facility, new_token
from khoyte.gateway.intake import IntakeService, ensure_schema
from khoyte.standards.writer import envelope
from khoyte.store.db import session_scope
from khoyte.validate.engine import validate_file

RECORDS_PER_FILE = 3


def make_files(facility: str, n: int, salt: str) -> list[bytes]:
    out = []
    base = datetime(2025, 8, 1, 7, 0)
    for i in range(n):
        recs = [
            record(f"{salt}{i:05d}{k}", facility=facility, start=base + timedelta(minutes=i % 600))
            for k in range(RECORDS_PER_FILE)
        ]
        out.append(envelope(recs, facility, date(2025, 8, 28)))
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def _post(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 request on a kept-alive connection: (status, body)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _load(
    url: str, clients: list[tuple[str, list[bytes]]], duration: float
) -> dict[str, Any]:
    """``len(clients)`` concurrent clients, each sending its files back to back on one kept-alive
    connection. The client is lean on purpose (pre-built requests on raw asyncio streams, not an
    HTTP library): on this 2-core machine the load generator shares the cores with the server,
    and its own CPU (printed) must not be what is measured."""
    host, port = url.removeprefix("http://").split(":")
    lat: list[float] = []
    kinds: list[str] = []
    errors = 0
    done = 0
    stop_at = time.monotonic() + duration

    async def client(token: str, files: list[bytes]) -> None:
        nonlocal errors, done
        reader, writer = await asyncio.open_connection(host, int(port))
        head = (
            f"POST /api/v1/submissions HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/xml\r\n"
        ).encode()
        try:
            for data in files:
                if time.monotonic() >= stop_at:
                    return
                request = head + b"Content-Length: %d\r\n\r\n" % len(data) + data
                t0 = time.perf_counter()
                try:
                    status, body = await _post(reader, writer, request)
                    ok = status == 201
                    if not ok:
                        kinds.append(f"{status} {body[:300]!r}")
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    ok = False
                    kinds.append(f"{type(exc).__name__}: {exc}")
                    writer.close()
                    reader, writer = await asyncio.open_connection(host, int(port))
                lat.append(time.perf_counter() - t0)
                if ok:
                    done += 1
                else:
                    errors += 1
        finally:
            writer.close()

    c0 = _cpu()
    t0 = time.monotonic()
    await asyncio.gather(*(client(tok, files) for tok, files in clients))
    elapsed = time.monotonic() - t0
    client_cpu = _cpu() - c0
    return {
        "submissions": done,
        "elapsed": elapsed,
        "subs_per_s": done / elapsed,
        "records_per_s": done * RECORDS_PER_FILE / elapsed,
        "p50_ms": pct(lat, 50) * 1000,
        "p95_ms": pct(lat, 95) * 1000,
        "p99_ms": pct(lat, 99) * 1000,
        "errors": errors,
        "kinds": kinds,
        "client_cpu_ms": client_cpu / max(1, done + errors) * 1000,
    }


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _children_cpu() -> float:
    """CPU of this process's ended children (the bulk reader's worker processes, once shut)."""
    t = os.times()
    return t.children_user + t.children_system


def _tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a live process and its live descendants (Linux /proc;
    NaN elsewhere): the server's cost, its worker processes included."""
    stats: dict[int, tuple[int, float]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir() if Path("/proc/self/stat").exists() else ():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    if not stats:
        return float("nan")
    tree, total, grew = {pid}, 0.0, True
    while grew:
        grew = False
        for p, (ppid, _) in stats.items():
            if ppid in tree and p not in tree:
                tree.add(p)
                grew = True
    for p in tree:
        total += stats.get(p, (0, 0.0))[1]
    return total


def read_rate(files: list[bytes]) -> float:
    """Records/s of read + validate alone, in this process, now (the same-run baseline)."""
    t0 = time.perf_counter()
    for data in files:
        validate_file(data, "x.xml")
    return len(files) * RECORDS_PER_FILE / (time.perf_counter() - t0)


def run_load(
    label: str,
    db_url: str | None,
    n_clients: int,
    duration: float,
    per_client: int,
    serve_args: tuple[str, ...] = (),
) -> None:
    baseline = read_rate(make_files("82001", 100, uuid.uuid4().hex[:6]))
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        settings = Settings(data_dir=data_dir, database_url=db_url, rate_limit_per_minute=0)
        svc = IntakeService(settings)
        ensure_schema(svc.engine)
        clients = []
        with session_scope(svc.sessions) as s:
            for i in range(n_clients):
                code = f"9{i:04d}"
                add_facility(s, code, f"Bench {code}")
                clients.append((new_token(s, code), code))
        svc.engine.dispose()
        salt = uuid.uuid4().hex[:6]
        prepared = [(tok, make_files(code, per_client, salt)) for tok, code in clients]
        # With the intake tier the full server runs beside it, as deployed: it loads the
        # warehouse and links persons for everything the tier takes, and its CPU counts too.
        full = Server(data_dir, db_url) if "--intake-only" in serve_args else None
        server = Server(data_dir, db_url, *serve_args, KHOYTE_RATE_LIMIT_PER_MINUTE="0")
        try:
            for srv in (full, server):
                if srv is not None:  # a loaded shared machine can take minutes to start one
                    srv.start(timeout=300)
            time.sleep(2)  # every worker process up (/healthz answers from the first one)
            pids = [srv.proc.pid for srv in (full, server) if srv is not None and srv.proc]
            s0 = sum(_tree_cpu(pid) for pid in pids)
            res = asyncio.run(_load(server.url, prepared, duration))
            server_cpu = sum(_tree_cpu(pid) for pid in pids) - s0
        finally:
            server.stop()
            if full is not None:
                full.stop()
        for kind in res["kinds"][:5]:
            print(f"  error: {kind}")
        if res["errors"]:
            log = server.log.read_text(errors="replace")
            print("  server log tail:\n" + log[-3000:])
    exhausted = res["submissions"] + res["errors"] >= n_clients * per_client
    requests = max(1, res["submissions"] + res["errors"])
    print(
        f"{label:<10} {' '.join(serve_args) or '1 process'}, "
        f"{n_clients} clients {res['elapsed']:.1f}s: {res['subs_per_s']:.1f} submissions/s, "
        f"{res['records_per_s']:.1f} records/s, p50 {res['p50_ms']:.0f} ms, p95 "
        f"{res['p95_ms']:.0f} ms, p99 {res['p99_ms']:.0f} ms, errors {res['errors']:.0f}; "
        f"same-run read+validate {baseline:,.0f} records/s, server/read ratio "
        f"{res['records_per_s'] / baseline:.2f}; CPU per request: server "
        f"{server_cpu / requests * 1000:.1f} ms, load client {res['client_cpu_ms']:.1f} ms"
        + (" (ran out of distinct files)" if exhausted else "")
    )


def reader_start_cpu(settings: Settings) -> float:
    """CPU seconds one bulk reader process costs to start and stop (a fresh interpreter that
    imports khoyte): paid once a command, taken out of the bulk rows' CPU per record."""
    with tempfile.TemporaryDirectory() as tmp:
        svc = IntakeService(settings.model_copy(update={"data_dir": Path(tmp)}))
        k0 = _children_cpu()
        with BulkIntake(svc, jobs=1) as bulk:
            bulk.start()
        svc.engine.dispose()
        return _children_cpu() - k0


FRESH = -100  # bulk intake as khoyte ingest runs it: default readers, a fresh process


def _ingest(files: list[bytes], db_url: str | None, threads: int) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, submissions per commit) to ingest ``files`` into a fresh
    store."""
    with tempfile.TemporaryDirectory() as tmp:
        pg = _pg_database() if db_url == "pg" else None
        if db_url == "pg" and pg is None:
            return float("nan"), float("nan"), float("nan")
        if threads == FRESH:
            try:
                return _ingest_fresh(files, Path(tmp), pg[1] if pg else "")
            finally:
                if pg:
                    _drop(pg[0])
        svc = IntakeService(Settings(data_dir=Path(tmp), database_url=pg[1] if pg else None))
        try:
            ensure_schema(svc.engine)
            bulk = BulkIntake(svc, jobs=-threads - 1) if threads < 0 else None
            if bulk is not None:  # its start (≈ 2 s, once a command) apart: the steady state
                bulk.start([(data, "warm.xml") for data in files[:20]])
            c0, k0, t0 = _cpu(), _children_cpu(), time.perf_counter()
            if bulk is not None:  # bulk intake (khoyte ingest): -threads - 1 reader processes
                with bulk:
                    items = [(data, f"f{i}.xml") for i, data in enumerate(files)]
                    for outcome in bulk.submit_many(items):
                        assert not isinstance(outcome, Exception), outcome
            elif threads == 1:
                for data in files:
                    svc.submit(data, channel="ingest")
            else:
                with ThreadPoolExecutor(threads) as pool:
                    list(pool.map(lambda d: svc.submit(d, channel="ingest"), files))
            # the reading processes (bulk) count too: reaped when the pool shut down
            wall = time.perf_counter() - t0
            cpu = _cpu() - c0 + _children_cpu() - k0
            group = getattr(svc, "group", None)  # absent before group commit
            per_commit = group.items / group.batches if group and group.batches else 1.0
            if bulk is not None:
                per_commit = float(bulk.chunk)
        finally:
            svc.engine.dispose()
            if pg:
                _drop(pg[0])
    return wall, cpu, per_commit


def _ingest_fresh(files: list[bytes], tmp: Path, url: str) -> tuple[float, float, float]:
    """Bulk intake of ``files`` written to a folder, by ``benchmarks.bulk_child`` in a new
    process: what ``khoyte ingest`` is (this process's heap holds every row's files)."""
    folder = tmp / "in"
    folder.mkdir()
    for i, data in enumerate(files):
        (folder / f"f{i:05d}.xml").write_bytes(data)
    out = subprocess.run(  # nosec B603 - this interpreter, our own module, no shell
        [sys.executable, "-m", "benchmarks.bulk_child", str(folder), url, str(default_jobs())],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent,
    )  # fmt: skip
    wall, cpu, per_commit = json.loads(out.stdout.strip().splitlines()[-1])
    return float(wall), float(cpu), float(per_commit)


def _read_validate(files: list[bytes]) -> tuple[float, float]:
    """(wall, CPU) seconds of reading and validating ``files`` here: the baseline."""
    c0, t0 = _cpu(), time.perf_counter()
    for data in files:
        validate_file(data, "x.xml")
    return time.perf_counter() - t0, _cpu() - c0


def ingest_ratio(n_files: int, runs: int, threads: int, with_pg: bool) -> None:
    """Each way of ingesting, ``runs`` times, each run beside its own baseline (read+validate
    measured just before it: this machine's speed drifts by a third within minutes, so a
    baseline taken a minute earlier would move the ratio more than the code does); the ratio
    printed is the median of the runs' ratios."""
    files = make_files("82001", n_files, uuid.uuid4().hex[:6])
    n_records = n_files * RECORDS_PER_FILE
    base_t: list[float] = []
    base_c: list[float] = []
    got: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
    stores = ["SQLite", "PostgreSQL"] if with_pg else ["SQLite"]
    for data in files[:20]:  # warm up: imports, caches, the compiled reader's first use
        validate_file(data, "x.xml")
    for _ in range(runs):
        for store in stores:
            # -1: bulk, read here; -2: bulk, one reader process; FRESH: as khoyte ingest runs
            for n in (1, threads, -1, -2, FRESH):
                url = "pg" if store == "PostgreSQL" else None
                bt, bcpu = _read_validate(files)
                base_t.append(bt)
                base_c.append(bcpu)
                got.setdefault((store, n), []).append((*_ingest(files, url, n), bt))
    start = statistics.median(reader_start_cpu(Settings()) for _ in range(3))
    for (store, n), values in got.items():  # the reader's start, once a command, apart
        if -1 > n > FRESH:  # (a new process measures its readers after their start)
            got[(store, n)] = [(w, c - start * (-n - 1), k, bt) for w, c, k, bt in values]
    b, bc = statistics.median(base_t), statistics.median(base_c)
    print(
        f"one process, {n_files} files / {n_records} records, median of {len(base_t)}: "
        f"read+validate {n_records / b:,.0f} records/s ({n_records / max(base_t):,.0f}–"
        f"{n_records / min(base_t):,.0f}; {bc / n_records * 1000:.2f} ms CPU per record); a "
        f"bulk reader process costs {start:.2f} s CPU to start (once a command, not counted)"
    )
    for (store, n), values in got.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        share = statistics.median(v[2] for v in values)
        ratios = [v[3] / v[0] for v in values]
        how = (f"{n} thread{'s' if n > 1 else ' '}" if n > 0
               else f"bulk, {default_jobs()} reader(s), a new process (khoyte ingest)" if n == FRESH
               else f"bulk, {-n - 1} reader process{'es' if n < -2 else ''}")  # fmt: skip
        print(
            f"  ingest {store:<10} {how}: {n_records / wall:,.0f} records/s, ingest/read ratio "
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}); CPU "
            f"{cpu / n_records * 1000:.2f} ms per record ({cpu / bc:.2f}x read+validate); "
            f"{share:.1f} submissions per commit"
        )


def _pg_database() -> tuple[str, str] | None:
    name = f"khoyte_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:  # no PostgreSQL: say so and go on
        print(f"PostgreSQL unavailable, skipped: {str(exc).splitlines()[0]}")
        return None
    return name, f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def _drop(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, help="seconds of load per database")
    ap.add_argument("--no-ingest", action="store_true", help="skip the one-process ratio")
    ap.add_argument("--no-load", action="store_true", help="skip the loads over HTTP")
    ap.add_argument("--tier-only", action="store_true", help="load only the intake tier")
    ap.add_argument("--no-sqlite", action="store_true", help="loads on PostgreSQL only")
    ap.add_argument("--threads", type=int, default=8, help="threads of the concurrent ingest")
    ap.add_argument(
        "--intake-workers",
        type=int,
        default=2,
        help="also load an intake tier of this many processes beside the full server (0: no)",
    )
    args = ap.parse_args(argv)
    duration, per_client = (3.0, 20) if args.quick else (60.0, 120)
    if args.duration:
        duration, per_client = args.duration, max(per_client, int(args.duration * 2))
    runs, n_files = (1, 60) if args.quick else (3, 1000)
    if not args.no_ingest:
        ingest_ratio(n_files, runs, args.threads, not args.no_pg)
    if args.no_load:
        return
    setups: list[tuple[str, ...]] = [] if args.tier_only else [()]
    if args.intake_workers:
        setups.append(("--intake-only", "--workers", str(args.intake_workers)))
    for serve_args in setups:
        if not args.no_sqlite:
            run_load("SQLite", None, args.clients, duration, per_client, serve_args)
        if not args.no_pg:
            pg = _pg_database()
            if pg is not None:
                try:
                    run_load("PostgreSQL", pg[1], args.clients, duration, per_client, serve_args)
                finally:
                    _drop(pg[0])


if __name__ == "__main__":
    main()
