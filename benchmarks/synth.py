"""Benchmark of ``khoyte synth``: visits/s, MB/s and peak RSS, medians of several runs.

Each run is a fresh process (so peak RSS is that run's). Baselines measured in the same run:
- the reference writer (``khoyte.standards.writer.envelope``) against the synth's fast writer
  on the same records (ratio = speed-up of the fast writer);
- one worker process against two (ratio = parallel speed-up on this machine).

    python -m benchmarks.synth [--population 20000] [--days 14] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

_CHILD = r"""
import json, resource, shutil, sys, time
from datetime import date, timedelta
from pathlib import Path
from khoyte.synth.generate import SynthConfig, run
pop, days, jobs, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
cfg = SynthConfig(seed=1, population=pop, start=date(2025, 3, 1),
                  end=date(2025, 3, 1) + timedelta(days=days - 1), jobs=jobs, aggregates=False)
t = time.perf_counter()
m = run(cfg, out)
wall = time.perf_counter() - t
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
shutil.rmtree(out)
print(json.dumps({"visits": m["totals"]["visits"], "bytes": m["files"]["bytes"], "wall": wall,
                  "rss_mb": rss / 1024}))
"""


def _generate(pop: int, days: int, jobs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(pop), str(days), str(jobs), f"{tmp}/o"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _writers(pop: int, rounds: int) -> tuple[float, float, int]:
    from datetime import date

    from khoyte.standards import writer
    from khoyte.synth import fastwrite
    from khoyte.synth.province import build_province
    from khoyte.synth.visits import generate_day

    prov = build_province(1, "82", pop, date(2025, 3, 1))
    day = date(2025, 3, 3)
    batches = [
        (f.code, [r for r, _ in generate_day(prov, f.index, day, [])]) for f in prov.facilities
    ]
    batches = [b for b in batches if b[1]]
    n = sum(len(b) for _, b in batches)
    times = {}
    for name, fn in (("reference", writer.envelope), ("fast", fastwrite.envelope)):
        runs = []
        for _ in range(rounds):
            t = time.perf_counter()
            for code, recs in batches:
                fn(recs, code, day)
            runs.append(time.perf_counter() - t)
        times[name] = statistics.median(runs)
    return times["reference"], times["fast"], n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--population", type=int, default=20000)
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    print(
        f"khoyte synth benchmark: population {a.population:,}, {a.days} days, "
        f"median of {a.runs} runs"
    )
    results = {}
    for jobs in (1, 2):
        runs = [_generate(a.population, a.days, jobs) for _ in range(a.runs)]
        wall = statistics.median(r["wall"] for r in runs)
        visits = runs[0]["visits"]
        mb = runs[0]["bytes"] / 1e6
        rss = statistics.median(r["rss_mb"] for r in runs)
        results[jobs] = wall
        print(
            f"  jobs={jobs}: {visits:,} visits, {mb:,.1f} MB in {wall:.2f} s → "
            f"{visits / wall:,.0f} visits/s, {mb / wall:,.1f} MB/s, peak RSS {rss:,.0f} MB"
        )
    print(f"  parallel speed-up jobs=2 vs jobs=1: {results[1] / results[2]:.2f}×")
    ref, fast, n = _writers(a.population * 5, a.runs)
    print(
        f"  writer on {n:,} visits: reference {n / ref:,.0f} visits/s, "
        f"fast {n / fast:,.0f} visits/s → {ref / fast:.2f}× faster"
    )


if __name__ == "__main__":
    main()
