"""Counting people at province scale: persons served, 30-day re-admissions and referral flows
(``khoyte.analytics.people``) over a province-year, and the cost of the person index's changes
reaching the warehouse (``Loader.refresh_persons``).

Data: a province-year of episodes (default 4 M, 1.7 M persons) generated directly into DuckDB by
the dashboard benchmark's vectorised generator (``benchmarks.dashboard.generate``; the facility
registry from a one-day ``khoyte synth`` run), 2 % of them with a referral paper
(``fact_referral``) to a provincial facility; persons drawn at random, ≈ 2.35 visits each.
Same-run baseline: ``COUNT(*), SUM(bed_days)`` of the period's visits on the same table (one
column scanned). Printed: median and p95 of ``--runs`` warm runs of each query
(whole province and one commune), the medians over ``--rounds`` rounds, and the time to apply
one online link (a new record) and one merge of an old record. Run:
``python -m benchmarks.people [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.dashboard import generate, synth_day
from khoyte.access import Scope
from khoyte.analytics import people
from khoyte.analytics.filters import Filters, where
from khoyte.handoff import RecordPerson
from khoyte.warehouse.engine import DuckDBEngine
from khoyte.warehouse.loader import Loader
from khoyte.warehouse.sources import FileVersionSource

YEAR = Filters(date(2025, 1, 1), date(2025, 12, 31))


class OneChange:
    def __init__(self, change: RecordPerson) -> None:
        self.change = change

    def persons_since(self, revision: int = 0) -> Iterator[RecordPerson]:
        if self.change.revision > revision:
            yield self.change


def _times(fn: Callable[[], Any], runs: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def _p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(0.95 * (len(s) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="400 k episodes instead of 4 M")
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = 400_000 if args.quick else 4_000_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = FileVersionSource(synth_day(root / "synth", 20_000, date(2025, 1, 2)))
        eng = DuckDBEngine(root / "people.duckdb")
        eng.execute("SET memory_limit = '6GB'")
        loader = Loader(eng, b"bench-key")
        loader.upsert_facilities(source.facilities())
        t0 = time.perf_counter()
        generate(eng, n, date(2025, 1, 1), 1, source.facilities())
        # persons: ≈ 2.35 visits each (4 M visits, 1.7 M persons), drawn at random over the year
        # (the dashboard generator's key repeats only every 1.7 M episodes)
        pid = f"hash(version_id * 7919) % {int(n / 2.35)}"
        eng.execute(f"UPDATE fact_episode SET person_key = md5(CAST({pid} AS VARCHAR))[:24], "
                    f"person = CAST({pid} AS BIGINT)")  # fmt: skip
        top = eng.query("SELECT ma_cskcb FROM dim_facility WHERE tuyen = 'tinh' LIMIT 1")[0][0]
        eng.execute(
            "INSERT INTO fact_referral (facility, ma_lk, version_id, line, ma_noi_den, ngay_ra) "
            "SELECT facility, ma_lk, version_id, 1, ?, CAST(ngay_ra AS TIMESTAMP) "
            "FROM fact_episode WHERE hash(version_id) % 50 = 0",
            [top],
        )
        eng.execute("CHECKPOINT")
        rows, persons = eng.query("SELECT COUNT(*), COUNT(DISTINCT person_key) FROM fact_episode")[
            0
        ]
        refs = eng.query("SELECT COUNT(*) FROM fact_referral")[0][0]
        print(f"{rows:,} episodes, {persons:,} persons, {refs:,} referrals generated in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        commune = eng.query(
            "SELECT f.ma_xa FROM fact_episode e JOIN dim_facility f ON f.ma_cskcb = e.facility "
            "GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1"
        )[0][0]

        def baseline(scope: Scope) -> Callable[[], Any]:
            w, p = where(scope, YEAR, eng=eng)
            sql = f"SELECT COUNT(*), SUM(e.bed_days) FROM fact_episode e WHERE {w}"
            return lambda: eng.query(sql, p)

        cases = {
            "province": Scope.whole_province(),
            f"commune {commune}": Scope(communes=frozenset({commune})),
        }
        queries: dict[str, Callable[[Scope], Callable[[], Any]]] = {
            "baseline scan": baseline,
            "persons served": lambda sc: lambda: people.q_persons(eng, sc, YEAR),
            "re-admissions 30 d": lambda sc: lambda: people.q_readmissions(eng, sc, YEAR),
            "referral flows": lambda sc: lambda: people.q_referrals(eng, sc, YEAR),
        }
        print(f"\nwarm runs: {args.runs} per round, {args.rounds} rounds; ms (median of the "
              "rounds' medians / of their p95s), ratio to the baseline")  # fmt: skip
        for label, scope in cases.items():
            base = None
            for name, make in queries.items():
                fn = make(scope)
                rounds = [_times(fn, args.runs) for _ in range(args.rounds)]
                p50 = statistics.median(statistics.median(r) for r in rounds)
                p95 = statistics.median(_p95(r) for r in rounds)
                base = base or p50
                print(f"  {label:18} {name:20} p50 {p50:8.1f}  p95 {p95:8.1f}  ×{p50 / base:5.1f}")

        # the index's changes reaching the warehouse
        new = eng.query("SELECT facility, ma_lk, version_id FROM fact_episode "
                        "ORDER BY version_id DESC LIMIT 1")[0]  # fmt: skip
        old = eng.query("SELECT facility, ma_lk, version_id FROM fact_episode "
                        "ORDER BY version_id LIMIT 1")[0]  # fmt: skip
        for label, (f, m, vid) in (("online link (newest record)", new),
                                   ("merge (oldest record)", old)):  # fmt: skip
            times = []
            for i in range(5):
                rev = loader.persons_watermark() + 1
                change = RecordPerson(str(f), str(m), f"H{i:011d}", rev, int(vid))
                t = time.perf_counter()
                loader.refresh_persons(OneChange(change))
                times.append((time.perf_counter() - t) * 1000)
            print(f"  refresh_persons, {label:28} median {statistics.median(times):7.1f} ms "
                  f"(5 runs: {', '.join(f'{x:.0f}' for x in times)})")  # fmt: skip
        # a first load of the index's keys: every record of the year linked (one batch
        # revision), applied over the loaded facts, 50,000 a transaction
        recs = eng.query("SELECT facility, ma_lk, version_id, person FROM fact_episode")

        class Everyone:
            def persons_since(self, revision: int = 0) -> Iterator[RecordPerson]:
                for f, m, vid, pid in recs:
                    yield RecordPerson(str(f), str(m), f"H{pid}", revision + 1, int(vid))

        t = time.perf_counter()
        changes, _ = loader.refresh_persons(Everyone())
        print(f"  refresh_persons, every record of the year ({changes:,} changes) "
              f"{time.perf_counter() - t:7.1f} s")  # fmt: skip
        eng.close()


if __name__ == "__main__":
    main()
