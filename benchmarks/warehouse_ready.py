"""The first load after ``khoyte ingest``: from ``khoyte serve`` starting to the dashboards
being ``ready`` (every record the store held at start loaded into the warehouse).

A synthetic province is generated for one month and for one year and ingested into the
operational store (SQLite); then, ``--runs`` times each, the warehouse file is removed and the
app is started as ``khoyte serve`` starts it (``build_services`` + ``create_app`` + lifespan,
which starts the poller), and the time until ``Warehouse.freshness()["ready"]`` is measured.

Same-run baseline: reading the same versions from the store alone (``StoreVersionSource``:
query + JSON decode), so the ratio says what loading (transform + DuckDB writes + aggregates)
costs on top of reading. Printed: medians, versions/s and the ratio, in wall-clock time and in
the process's CPU time (on a shared, loaded machine the CPU time varies far less).

Run: ``python -m benchmarks.warehouse_ready [--quick] [--population N] [--runs N]``.
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
from khoyte.services import build_services
from khoyte.synth.generate import SynthConfig, run
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
        while not services.warehouse.freshness()["ready"]:
            time.sleep(0.005)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        loaded = services.warehouse.loader.watermark()
    services.close()
    return seconds, cpu, loaded


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
    args = ap.parse_args(argv)
    population = args.population or (2000 if args.quick else 20000)
    periods = {
        "province-month": (date(2025, 3, 1), date(2025, 3, 31)),
        "province-year": (date(2025, 1, 1), date(2025, 12, 31)),
    }
    print(f"population {population}; median of {args.runs} runs each")
    for label, (start, end) in periods.items():
        with tempfile.TemporaryDirectory(prefix="khoyte-ready-") as tmp:
            settings, records = prepare(Path(tmp), population, start, end)
            ready = [time_to_ready(settings) for _ in range(args.runs)]
            base = [read_only(settings) for _ in range(args.runs)]
            t = statistics.median(s for s, _, _ in ready)
            tc = statistics.median(c for _, c, _ in ready)
            b = statistics.median(s for s, _ in base)
            bc = statistics.median(c for _, c in base)
            versions = ready[0][2]
            print(
                f"{label:15s} {records:>8,} records in the store · serve → ready "
                f"{t:6.2f} s ({versions / t:,.0f} versions/s; runs "
                f"{', '.join(f'{s:.2f}' for s, _, _ in ready)}) · reading them alone {b:5.2f} s · "
                f"ratio {t / b:4.1f}× · CPU: ready {tc:5.2f} s, reading {bc:5.2f} s, "
                f"ratio {tc / bc:4.1f}×"
            )


if __name__ == "__main__":
    main()
