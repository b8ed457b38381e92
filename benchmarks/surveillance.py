"""Detection cost (issue 15, "What it must show": benchmark): every signal for every commune
over five years of weekly counts, every algorithm, on 2 worker processes.

``python -m benchmarks.surveillance [--quick]``. Series are seeded Poisson counts with a yearly
season (the shape of a commune's dengue or diarrhoea visits); each (signal, commune) series is
five years (261 weeks) long. Two workloads per algorithm, medians of 3 runs:

* **cycle** — what the alert cycle does every time: judge the last week of every series;
* **year** — judge each of the last 52 weeks of every series (what the epidemic page computes
  for a cold cache, and what re-judging a year after a change of parameters costs).

Farrington methods use ``b = 3`` (the years a 261-week series holds before its last year, w
included) and
the signals' parameters (``noPeriods = 10``, ``pastWeeksNotIncluded = 26``); EARS the defaults.
The verdict cache of :func:`khoyte.surveillance.detect.judge` is bypassed: these are the
algorithms' own costs.

**Arrival → alert** (:func:`latency`): a synthetic province's 16 weeks, one claim file per visit
(``--per-visit``), with a measles outbreak (B05, factor 10) in one commune in the last complete
week; its visits are held back, the rest ingested into the store and the warehouse, and an alert
cycle run (no measles alert). Then the held-back files arrive (``local_submitter``, as
``khoyte ingest`` sends them), the warehouse refreshes and one alert cycle runs: the time from
the first arrival to the alert row, split into submit / refresh / cycle. A running server adds
at most ``warehouse_refresh_seconds`` + ``alerts_interval_seconds`` of waiting to this.
"""

from __future__ import annotations

import csv
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select

from khoyte.config import Settings
from khoyte.gateway.ingest import ingest, local_submitter
from khoyte.services import build_services
from khoyte.store.db import session_scope
from khoyte.surveillance import runner
from khoyte.surveillance.algorithms import detect
from khoyte.surveillance.tables import AlertRow
from khoyte.synth.generate import SynthConfig, run
from khoyte.synth.province import build_province
from khoyte.synth.visits import Outbreak

COMMUNES = 102  # the synthetic province's communes (2025 units)
SIGNALS = 6  # data/signals.toml
WEEKS = 261
PARAMS = {
    "ears_c1": {},
    "ears_c2": {},
    "ears_c3": {},
    "farrington": {"b": "3"},
    "farrington_flexible": {"b": "3", "noPeriods": "10", "pastWeeksNotIncluded": "26"},
}


def make_series(n: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.arange(WEEKS)
    out = []
    for _ in range(n):
        level = rng.uniform(0.5, 12)
        mu = level * (1 + 0.6 * np.sin(2 * np.pi * (t + rng.integers(52)) / 52))
        out.append(rng.poisson(mu).astype(float))
    return out


def _work(job: tuple[str, list[np.ndarray], int]) -> int:
    algorithm, chunk, last_weeks = job
    periods = list(range(WEEKS - last_weeks + 1, WEEKS + 1))
    for y in chunk:
        detect(algorithm, y, frequency=52, range_=periods, params=PARAMS[algorithm])
    return len(chunk)


def timed(pool: ProcessPoolExecutor, algorithm: str, data: list[np.ndarray], weeks: int) -> float:
    chunks = [data[i::8] for i in range(8)]
    t0 = time.perf_counter()
    assert sum(pool.map(_work, [(algorithm, c, weeks) for c in chunks])) == len(data)
    return time.perf_counter() - t0


def _option(args: list[str], name: str, default: int) -> int:
    return int(args[args.index(name) + 1]) if name in args else default


def main(argv: list[str] | None = None) -> None:
    """``--quick``: 10 communes, one latency run. ``--year-weeks N`` (default 52; 0 skips the
    year workload) and ``--year-runs N`` (default 3) bound the longest workload: a full year
    of Farrington over 612 series is ≈ 16 min per run on 2 cores."""
    args = sys.argv[1:] if argv is None else argv
    quick = "--quick" in args
    year_weeks = _option(args, "--year-weeks", 52)
    year_runs = _option(args, "--year-runs", 3)
    communes = 10 if quick else COMMUNES
    data = make_series(communes * SIGNALS)
    print(f"{communes} communes × {SIGNALS} signals = {len(data)} series of {WEEKS} weeks; "
          f"2 processes; cycle: median of 3 runs; year ({year_weeks} weeks): median of "
          f"{year_runs} run(s)")  # fmt: skip
    workloads = [("cycle", 1, 3)] + ([("year", year_weeks, year_runs)] if year_weeks else [])
    with ProcessPoolExecutor(max_workers=2) as pool:
        pool.map(_work, [("ears_c1", data[:2], 1)] * 2)  # start the workers
        for algorithm in PARAMS:
            for name, weeks, n_runs in workloads:
                runs = [timed(pool, algorithm, data, weeks) for _ in range(n_runs)]
                med = statistics.median(runs)
                per = med / (len(data) * weeks) * 1000
                scale = "" if not quick else f"; × {COMMUNES / communes:.1f} for 102 communes"
                print(
                    f"  {algorithm:20} {name:5} {med:8.2f} s ({per:.2f} ms per series-week{scale})",
                    flush=True,
                )
    main_latency(quick)


def latency(root: Path, population: int, seed: int = 3) -> dict[str, float]:
    end = date(2025, 6, 29)  # a Sunday; the judged week starts Monday 2025-06-23
    judged = end - timedelta(days=6)
    commune = build_province(seed, "82", population, end).geo.communes[0].code
    synth = root / "synth"
    cfg = SynthConfig(seed=seed, population=population, start=end - timedelta(weeks=16) +
                      timedelta(days=1), end=end, per_visit=True, aggregates=False,
                      outbreaks=(Outbreak("B05", commune, judged, 1, 10.0),))  # fmt: skip
    run(cfg, synth)
    held = root / "held"
    held.mkdir()
    with (synth / "truth" / "visits.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["outbreak"] != "-1":
                shutil.move(synth / row["file"], held / Path(row["file"]).name)
    settings = Settings(data_dir=root / "data", warehouse_refresh_seconds=0,
                        alerts_interval_seconds=0)  # fmt: skip
    services = build_services(settings, clock=lambda: datetime(2025, 7, 2, 3, 0, tzinfo=UTC))
    try:
        wh = services.warehouse
        assert wh is not None
        ingest([synth / "xml"], local_submitter(services.intake))
        wh.refresh()
        key = f"measles|ears_c2|commune:{commune}|"

        def alerted() -> bool:
            with session_scope(services.sessions) as s:
                keys = s.scalars(select(AlertRow.key)).all()
            return any(key in k for k in keys)

        runner.run_once(services)
        assert not alerted(), "an alert before the outbreak's visits arrived"
        t0 = time.perf_counter()
        n = ingest([held], local_submitter(services.intake)).records
        t1 = time.perf_counter()
        wh.refresh()
        t2 = time.perf_counter()
        runner.run_once(services)
        t3 = time.perf_counter()
        assert alerted(), "no alert after the outbreak's visits arrived"
    finally:
        services.close()
    return {"records": n, "submit": t1 - t0, "refresh": t2 - t1, "cycle": t3 - t2,
            "total": t3 - t0}  # fmt: skip


def main_latency(quick: bool) -> None:
    runs = []
    for i in range(1 if quick else 3):
        with tempfile.TemporaryDirectory(prefix="khoyte-sv-") as tmp:
            runs.append(latency(Path(tmp), 1500 if quick else 5000, seed=3 + i))
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"arrival → alert: {med['records']:.0f} outbreak records submitted {med['submit']:.2f} s,"
          f" warehouse refresh {med['refresh']:.2f} s, alert cycle {med['cycle']:.2f} s; total "
          f"{med['total']:.2f} s (median of {len(runs)})")  # fmt: skip


if __name__ == "__main__":
    main()
