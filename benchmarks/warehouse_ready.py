"""The first load after ``khoyte ingest``: from ``khoyte serve`` starting to the dashboards
being ``ready`` (every record the store held at start loaded into the warehouse).

A synthetic province is generated for one month and for one year and ingested into the
operational store (SQLite); then, ``--runs`` times each, the warehouse file is removed and the
app is started as ``khoyte serve`` starts it (``build_services`` + ``create_app`` + lifespan,
which starts the poller), and the time until ``Warehouse.freshness()["ready"]`` is measured.

Also timed: the refresh alone (``Warehouse.refresh()`` into a new warehouse file, no server), the
part of serve → ready this page's changes work on.

Same-run baseline: reading the same versions from the store alone (``StoreVersionSource``:
query + JSON decode), so the ratio says what loading (transform + DuckDB writes + aggregates)
costs on top of reading. Printed: medians, versions/s and the ratio, in wall-clock time and in
the process's CPU time (on a shared, loaded machine the CPU time varies far less).

Run: ``python -m benchmarks.warehouse_ready [--quick] [--population N] [--runs N] [--store DIR]``
(``--store``: keep the prepared stores in DIR and reuse them, so code before and after a change
can be timed on the same store within minutes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from fastapi.testclient import TestClient

from khoyte.config import Settings
from khoyte.gateway.ingest import ingest, local_submitter
from khoyte.gateway.versions import StoreVersionSource
from khoyte.persons.feed import StorePersonSource
from khoyte.services import build_services
from khoyte.synth.generate import SynthConfig, run
from khoyte.warehouse.engine import DuckDBEngine
from khoyte.warehouse.service import Warehouse
from khoyte.web.app import create_app


def prepare(root: Path, population: int, start: date, end: date) -> tuple[Settings, int]:
    """A province's period in the store, as after ``khoyte synth`` + ``khoyte ingest``."""
    out = root / "synth"
    run(SynthConfig(population=population, start=start, end=end, aggregates=False), out)
    settings = Settings(data_dir=root / "data", warehouse_refresh_seconds=0.05)
    services = build_services(settings, warehouse=False)
    summary = ingest([out / "xml"], local_submitter(services.intake))
    services.close()
    return settings, summary.records


def time_to_ready(settings: Settings) -> tuple[float, float, int]:
    for p in settings.data_dir.glob("warehouse.duckdb*"):
        p.unlink()  # a warehouse that has loaded nothing yet
    t0, c0 = time.perf_counter(), time.process_time()
    services = build_services(settings)
    assert services.warehouse is not None
    with TestClient(create_app(services=services)):  # the lifespan starts the poller
        # what ``freshness()["ready"]`` reads, without its query of DuckDB every 5 ms (CPU
        # that would be counted as the load's)
        while services.warehouse.catching_up_since is not None:
            time.sleep(0.005)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert services.warehouse.freshness()["ready"]
        loaded = services.warehouse.loader.watermark()
    services.close()
    return seconds, cpu, loaded


def refresh_only(settings: Settings) -> tuple[float, float]:
    """``Warehouse.refresh()`` into a new warehouse file, without the server."""
    services = build_services(settings, warehouse=False)
    with tempfile.TemporaryDirectory(prefix="khoyte-wh-") as tmp:
        wh = Warehouse(settings, engine=DuckDBEngine(Path(tmp) / "w.duckdb"),
                       source=services.source, persons=StorePersonSource(services.engine))  # fmt: skip
        t0, c0 = time.perf_counter(), time.process_time()
        wh.refresh()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        wh.close()
    services.close()
    return seconds, cpu


def kept(root: Path, population: int, start: date, end: date) -> tuple[Settings, int]:
    """``prepare`` once into ``root``; later runs reuse it."""
    marker = root / "prepared.txt"
    if marker.exists():
        settings = Settings(data_dir=root / "data", warehouse_refresh_seconds=0.05)
        return settings, int(marker.read_text())
    root.mkdir(parents=True, exist_ok=True)
    settings, records = prepare(root, population, start, end)
    marker.write_text(str(records))
    return settings, records


def read_only(settings: Settings) -> tuple[float, float]:
    services = build_services(settings, warehouse=False)
    t0, c0 = time.perf_counter(), time.process_time()
    n = sum(1 for _ in StoreVersionSource(services.engine).iter_versions())
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    services.close()
    assert n
    return seconds, cpu


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--population", type=int, default=None)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--store", default=None, help="keep the prepared stores here and reuse them")
    args = ap.parse_args(argv)
    population = args.population or (2000 if args.quick else 20000)
    periods = {
        "province-month": (date(2025, 3, 1), date(2025, 3, 31)),
        "province-year": (date(2025, 1, 1), date(2025, 12, 31)),
    }
    print(f"population {population}; median of {args.runs} runs each")
    for label, (start, end) in periods.items():
        with tempfile.TemporaryDirectory(prefix="khoyte-ready-") as tmp:
            root = Path(args.store) / f"{label}-{population}" if args.store else Path(tmp)
            settings, records = kept(root, population, start, end)
            ready = [time_to_ready(settings) for _ in range(args.runs)]
            alone = [refresh_only(settings) for _ in range(args.runs)]
            base = [read_only(settings) for _ in range(args.runs)]
            t = statistics.median(s for s, _, _ in ready)
            tc = statistics.median(c for _, c, _ in ready)
            r = statistics.median(s for s, _ in alone)
            rc = statistics.median(c for _, c in alone)
            b = statistics.median(s for s, _ in base)
            bc = statistics.median(c for _, c in base)
            versions = ready[0][2]
            print(
                f"{label:15s} {records:>8,} records in the store · serve → ready "
                f"{t:6.2f} s ({versions / t:,.0f} versions/s; runs "
                f"{', '.join(f'{s:.2f}' for s, _, _ in ready)}) · reading them alone {b:5.2f} s · "
                f"ratio {t / b:4.1f}× · CPU: ready {tc:5.2f} s, reading {bc:5.2f} s, "
                f"ratio {tc / bc:4.1f}× · refresh alone {r:5.2f} s, CPU {rc:5.2f} s "
                f"({rc / versions * 1e6:,.0f} µs a version; runs "
                f"{', '.join(f'{c:.2f}' for _, c in alone)})"
            )


if __name__ == "__main__":
    main()
