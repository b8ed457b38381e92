"""Aggregate reporting for a province-year: importing its aggregate files, and generating every
statutory form (JSON cells and the official-layout XLSX), against reading the same files alone
measured in the same run. Time (wall and CPU) and peak Python memory (``tracemalloc``: DuckDB's
own memory is not in it), medians of ``--runs``.

A synthetic province (``--population``, claims and aggregate reports for the 12 months of 2025,
with the programme reports of groups 6 and 7) is generated and its claims loaded into a
warehouse once (not timed). Then, each run:

- baseline: read and parse every aggregate file of the year (``importer.read``), storing nothing;
- import: the same files into a new operational store (SQLite), all-or-nothing per file, as
  ``khoyte aggregate import`` does;
- forms: all 14 forms for the year 2025, province-wide caller: the cells (claims rows from the
  warehouse, collected rows from the store) and the workbook of each.

Run: ``python -m benchmarks.aggregate [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path

from khoyte.access import Scope
from khoyte.aggregate import form_claims, forms, importer, periods, store, workbook
from khoyte.aggregate.metadata import load
from khoyte.config import Settings
from khoyte.registry.facilities import import_file
from khoyte.services import Services, build_services
from khoyte.store.db import session_scope
from khoyte.synth.generate import SynthConfig, run
from khoyte.warehouse.engine import DuckDBEngine
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource


def _measure(fn: Callable[[], object]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak MiB of Python allocations) of one call."""
    tracemalloc.start()
    t, c = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return wall, cpu, peak


def _files(root: Path) -> list[Path]:
    return [p for p in sorted((root / "aggregates").glob("*.csv")) if p.name != "ke_hoach.csv"]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    population = 3000 if args.quick else args.population
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "synth"
        t = time.perf_counter()
        run(SynthConfig(seed=11, population=population, start=date(2025, 1, 1),
                        end=date(2025, 12, 31), programmes=True), root)  # fmt: skip
        wh_settings = Settings(data_dir=Path(tmp) / "wh", warehouse_refresh_seconds=0)
        wh = Warehouse(wh_settings)
        try:
            wh.rebuild(FileVersionSource(root))
        finally:
            wh.close()
        files = _files(root)
        size = sum(p.stat().st_size for p in files)
        print(f"province of {population} people, year 2025: {len(files)} aggregate files "
              f"({size / 2**20:.1f} MiB), claims loaded, in {time.perf_counter() - t:.0f} s")  # fmt: skip
        blobs = [(p.name, p.read_bytes()) for p in files]
        values = 0

        def baseline() -> None:
            nonlocal values
            values = sum(len(importer.read(data, name)[1]) for name, data in blobs)

        stores: list[Settings] = []

        def new_store() -> Services:
            """A new operational store knowing the facilities (not timed)."""
            settings = Settings(data_dir=Path(tmp) / f"store{len(stores)}",
                                warehouse_refresh_seconds=0)  # fmt: skip
            stores.append(settings)
            services = build_services(settings, warehouse=False)
            with session_scope(services.sessions) as s:
                import_file(s, root / "facilities.csv")
            return services

        def import_year(services: Services) -> None:
            for name, data in blobs:
                fmt, cells, problems = importer.read(data, name)
                with session_scope(services.sessions) as s:
                    receipt = store.store(s, cells, problems, data=data, filename=name,
                                          fmt=fmt, who="bench", now=datetime.now(UTC))  # fmt: skip
                assert receipt["status"] != "rejected", receipt["problems"][:3]

        results: dict[str, list[tuple[float, float, float]]] = {"read": [], "import": [],
                                                                 "forms": []}  # fmt: skip
        for _ in range(args.runs):
            results["read"].append(_measure(baseline))
            services = new_store()
            try:
                results["import"].append(_measure(partial(import_year, services)))
            finally:
                services.close()
        services = build_services(stores[-1], warehouse=False)
        eng = DuckDBEngine(wh_settings.duckdb_path, read_only=True)
        md, year, scope = load(), periods.parse("2025"), Scope.whole_province()
        cells_count = 0

        def all_forms() -> None:
            nonlocal cells_count
            cells_count = 0
            for code, form in md.forms.items():
                with session_scope(services.sessions) as s:
                    collected = form_claims.collected_values(s, scope, form, year, None)
                cells = forms.cells(eng, scope, code, year, forms.Target(), collected)
                cells_count += len(cells)
                workbook.render(form, cells, year, "Tỉnh", "82", datetime.now(UTC))

        try:
            for _ in range(args.runs):
                results["forms"].append(_measure(all_forms))
        finally:
            eng.close()
            services.close()
        base = statistics.median(r[0] for r in results["read"])
        print(f"{values} values; {cells_count} cells in {len(md.forms)} forms; medians of "
              f"{args.runs} runs")  # fmt: skip
        print(f"{'step':<40}{'wall s':>9}{'CPU s':>9}{'peak MiB':>10}{'× read':>9}")
        labels = {"read": "read the files alone (baseline)",
                  "import": "import the province-year (SQLite)",
                  "forms": "all 14 forms for 2025 (cells + XLSX)"}  # fmt: skip
        for key, rows in results.items():
            wall, cpu, peak = (statistics.median(r[i] for r in rows) for i in range(3))
            print(f"{labels[key]:<40}{wall:>9.2f}{cpu:>9.2f}{peak:>10.1f}{wall / base:>9.1f}")


if __name__ == "__main__":
    main()
