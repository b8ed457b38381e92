"""The IOC dashboards of groups 4–8: what each group's JSON twin costs over a province's
aggregates and claims, against the KCB dashboard's twin measured in the same run.

A synthetic province (``--population``, claims for a quarter, aggregates for 15 months from
``--aggregates-from``) is loaded as ``khoyte demo`` loads it (warehouse, registry, the synth's
aggregate files); each twin is asked for the 12 months up to the last one with data, for the
province, as a province-wide caller (medians of ``--runs``).

Run: ``python -m benchmarks.ioc [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from fastapi import Request
from fastapi.testclient import TestClient

from khoyte.access import Principal, Scope
from khoyte.aggregate.metadata import load
from khoyte.config import Settings
from khoyte.demo import _import_aggregates
from khoyte.registry.facilities import import_file
from khoyte.security.roles import permissions_of
from khoyte.services import build_services
from khoyte.store.db import session_scope
from khoyte.synth.generate import SynthConfig, run
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from khoyte.web.app import create_app


def _median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def _leader(_request: Request) -> Principal:
    return Principal(kind="user", name="bench", scope=Scope.whole_province(),
                     permissions=permissions_of({"province_leader"}))  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    population, runs = (3000, 5) if args.quick else (args.population, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        root, data = Path(tmp) / "synth", Path(tmp) / "data"
        t = time.perf_counter()
        run(SynthConfig(seed=11, population=population, start=date(2025, 1, 1),
                        end=date(2025, 3, 31), aggregates_from=date(2024, 1, 1)), root)  # fmt: skip
        settings = Settings(data_dir=data, warehouse_refresh_seconds=0)
        wh = Warehouse(settings)
        try:
            wh.rebuild(FileVersionSource(root))
        finally:
            wh.close()
        services = build_services(settings, warehouse=False)
        try:
            with session_scope(services.sessions) as s:
                import_file(s, root / "facilities.csv")
            _import_aggregates(services, root / "aggregates", lambda m: print(f"  {m}"))
        finally:
            services.close()
        print(f"province of {population} people loaded in {time.perf_counter() - t:.1f} s")
        app = create_app(settings)
        app.state.services.hooks.authenticators.insert(0, _leader)
        with TestClient(app) as c:
            period = {"from": "2024-04", "to": "2025-03"}
            kcb = {"from": "2024-04-01", "to": "2025-03-31"}
            base = _median_ms(lambda: c.get("/api/v1/dashboards/kcb", params=kcb), runs)
            print(f"KCB twin (baseline): {base:.1f} ms (median of {runs})")
            for code in load().groups:
                url = f"/api/v1/ioc/{code}"
                assert c.get(url, params=period).status_code == 200
                ms = _median_ms(lambda url=url: c.get(url, params=period), runs)  # type: ignore[misc]
                both = _median_ms(
                    lambda url=url: c.get(url, params={**period, "approved_only": "true"}), runs
                )  # type: ignore[misc]
                print(f"IOC {code}: {ms:.1f} ms, approved only {both:.1f} ms "
                      f"(ratio to KCB {ms / base:.2f})")  # fmt: skip
        app.state.services.close()


if __name__ == "__main__":
    main()
