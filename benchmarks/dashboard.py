"""Dashboard queries at province scale, DuckDB against PostgreSQL, and incremental-load latency.

Data: ten years of a 1.7 M-person province, ≈ 35 M episodes (2.4 visits per person-year and a
little growth), generated DIRECTLY into the analytics store with vectorised DuckDB SQL (hash-based
pseudo-random columns over ``range(N)``) — going through 35 M XML records would take hours.
The facility registry and the records used for the incremental-load timing come from a real
``khoyte synth`` run (one day of the same province, through the validator and the loader).
Line tables (drugs, services, labs) are not generated: no dashboard query reads them.

PostgreSQL (the comparison a DHIS2-style design gives: a row store with B-tree indexes) gets the
last ``--pg-years`` years only (loading 35 M rows would take most of the 20-minute budget of the
shared machine); the comparison is made on a period inside that subset, while DuckDB answers it
from the full ten-year table (so the ratio, if anything, favours PostgreSQL).

Printed: p50/p95 of each query and of the whole page (the three JSON twins the page fetches),
warm (median of ``--runs`` runs after one) and cold (first run after reopening the database),
and the latency of an incremental refresh (nothing new / 1 record / 100 records / a superseding
version), with ratios against the same-run baseline (a bare ``COUNT(*)`` over the period, and
PostgreSQL). Run: ``python -m benchmarks.dashboard [--quick]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from khoyte.access import Scope
from khoyte.analytics import completeness, kcb
from khoyte.analytics.filters import Filters
from khoyte.handoff import RecordVersion
from khoyte.synth.generate import SynthConfig, run
from khoyte.warehouse import schema
from khoyte.warehouse.engine import AnalyticsEngine, DuckDBEngine, PostgresEngine
from khoyte.warehouse.loader import Loader
from khoyte.warehouse.sources import FileVersionSource
from khoyte.warehouse.transform import EPISODE_COLS

PG_ADMIN = os.environ.get(
    "KHOYTE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SCOPE = Scope.whole_province()
ICD = [
    "I10", "J00", "J02.9", "J06.9", "J20.9", "E11.9", "J45.9", "M54.5", "K29.7", "A09",
    "J18.9", "K21.9", "N39.0", "E78.5", "I25.1", "J03.9", "K59.0", "R51", "B34.9", "A97.0",
    "O80", "I63.9", "J44.9", "N18.9", "H10.9", "L30.9", "B08.4", "R10.4", "M17.9", "F32.9",
]  # fmt: skip


@dataclasses.dataclass
class Timing:
    name: str
    samples: list[float]
    cold: float

    def p(self, q: float) -> float:
        s = sorted(self.samples)
        return s[min(len(s) - 1, round(q * (len(s) - 1)))] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) * 1000


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


# -- data ---------------------------------------------------------------------------------------
def synth_day(out: Path, population: int, day: date) -> Path:
    run(SynthConfig(seed=1, population=population, start=day, end=day, aggregates=False), out)
    return out


def generate(eng: DuckDBEngine, n: int, start: date, years: int, facilities: list[Any]) -> None:
    """≈ n episodes over ``years`` years from ``start``, in arrival (date) order."""
    con = eng._cursor()
    con.execute("SET preserve_insertion_order = true")
    by_tier: dict[str, list[str]] = {}
    for f in facilities:
        by_tier.setdefault(f.tier or "tu_nhan", []).append(f.code)
    tiers = ["tinh", "khu_vuc", "xa", "tu_nhan"]
    con.execute("CREATE TEMP TABLE fac_pick (tier INTEGER, k INTEGER, code VARCHAR)")
    for t_i, tier in enumerate(tiers):
        for k, code in enumerate(by_tier.get(tier, [])):
            con.execute("INSERT INTO fac_pick VALUES (?, ?, ?)", [t_i, k, code])
    counts = [len(by_tier.get(t, [])) or 1 for t in tiers]
    days = (date(start.year + years, start.month, start.day) - start).days
    icd_list = "[" + ", ".join(f"'{c}'" for c in ICD) + "]"
    step = 5_000_000
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        con.execute(
            f"""
            INSERT INTO fact_episode ({", ".join(EPISODE_COLS[:25])})
            WITH base AS (
              SELECT i,
                (hash(i * 8 + 1) % 1000000) / 1e6 AS u1, (hash(i * 8 + 2) % 1000000) / 1e6 AS u2,
                (hash(i * 8 + 3) % 1000000) / 1e6 AS u3, (hash(i * 8 + 4) % 1000000) / 1e6 AS u4,
                (hash(i * 8 + 5) % 1000000) / 1e6 AS u5, (hash(i * 8 + 6) % 1000000) / 1e6 AS u6,
                (hash(i * 8 + 7) % 1000000) / 1e6 AS u7,
                DATE '{start.isoformat()}' + CAST(floor(i * {days} / {n}) AS INTEGER) AS d
              FROM range({lo}, {hi}) t(i)
            ), picked AS (
              SELECT *, CASE WHEN u1 < 0.25 THEN 0 WHEN u1 < 0.55 THEN 1 WHEN u1 < 0.83 THEN 2
                             ELSE 3 END AS tier,
                CASE WHEN u3 < 0.64 THEN '01' WHEN u3 < 0.68 THEN '02' WHEN u3 < 0.83 THEN '03'
                     WHEN u3 < 0.86 THEN '04' WHEN u3 < 0.93 THEN '05' WHEN u3 < 0.95 THEN '06'
                     ELSE '07' END AS loai,
                CAST(floor(pow(u5, 1.6) * 95) AS INTEGER) AS age
              FROM base
            )
            SELECT p.code, p.code || lpad(CAST(i AS VARCHAR), 11, '0'), 1, i + 1,
              d + INTERVAL 1 DAY, 'QD130', d, d + CAST(floor(u6 * 5) AS INTEGER), loai,
              loai IN ('03', '04', '06', '09'), CASE WHEN u4 < 0.48 THEN '1' ELSE '2' END,
              age,
              CASE WHEN age <= 4 THEN '0-4' WHEN age <= 14 THEN '5-14' WHEN age <= 24 THEN '15-24'
                   WHEN age <= 44 THEN '25-44' WHEN age <= 59 THEN '45-59'
                   WHEN age <= 79 THEN '60-79' ELSE '80+' END,
              md5(CAST(hash(i % 1700000) AS VARCHAR))[:24], '28249',
              {icd_list}[1 + CAST(floor(pow(u7, 2) * {len(ICD)}) AS INTEGER)], 'X',
              u6 < 0.05, loai IN ('03', '04') AND u2 < 0.01, '1',
              CASE WHEN loai IN ('03', '04', '06') THEN 1 + CAST(floor(u6 * 9) AS INTEGER)
                   ELSE 0 END,
              CAST(4000000 + u7 * 90000000 AS BIGINT),
              CAST((4000000 + u7 * 90000000) * 0.8 AS BIGINT),
              CAST((4000000 + u7 * 90000000) * 0.2 AS BIGINT), u4 < 0.9
            FROM picked JOIN fac_pick p
              ON p.tier = picked.tier
             AND p.k = CAST(floor(picked.u2 * list_extract({counts}, picked.tier + 1)) AS INTEGER)
            ORDER BY i
            """
        )
        con.execute(
            f"""
            INSERT INTO fact_submission
            SELECT version_id, facility, ma_lk, 1, 'bench', received_at,
              CASE WHEN hash(version_id) % 100 = 0 THEN 'rejected' ELSE 'accepted' END, ngay_vao
            FROM fact_episode WHERE version_id > {lo} AND version_id <= {hi}
            """
        )
    top = eng.query("SELECT MAX(version_id) FROM fact_episode")[0][0]
    schema.set_meta(eng, "watermark", str(top))
    schema.set_meta(eng, "as_of", datetime.now().isoformat(timespec="seconds"))
    con.execute("CHECKPOINT")


def copy_to_postgres(duck: DuckDBEngine, pg: PostgresEngine, since: date, tmp: Path) -> int:
    schema.create(pg)
    con = duck._cursor()
    total = 0
    for table, where in (
        ("dim_facility", ""),
        ("dim_icd10", ""),
        ("fact_episode", f"WHERE ngay_vao >= DATE '{since.isoformat()}'"),
        ("fact_submission", f"WHERE ngay_vao >= DATE '{since.isoformat()}'"),
    ):
        path = tmp / f"{table}.csv"
        con.execute(f"COPY (SELECT * FROM {table} {where}) TO '{path}' (FORMAT csv, HEADER false)")
        with (
            pg._conn.cursor() as cur,
            cur.copy(f"COPY {table} FROM STDIN (FORMAT csv)") as cp,
            path.open("rb") as fh,
        ):
            while block := fh.read(1 << 20):
                cp.write(block)
        path.unlink()
        if table == "fact_episode":
            total = int(pg.query("SELECT COUNT(*) FROM fact_episode")[0][0])
    pg.execute("CREATE INDEX IF NOT EXISTS ix_ep_date ON fact_episode (ngay_vao)")
    pg.execute("CREATE INDEX IF NOT EXISTS ix_ep_key ON fact_episode (facility, ma_lk)")
    pg.execute("CREATE INDEX IF NOT EXISTS ix_sub_fac ON fact_submission (facility, ngay_vao)")
    Loader(pg, b"bench-key").rebuild_aggregates()  # the loader's own rebuild, as on DuckDB
    pg.execute("VACUUM ANALYZE")
    return total


# -- queries ------------------------------------------------------------------------------------
def queries(flt: Filters) -> dict[str, Callable[[AnalyticsEngine], Any]]:
    def floor(e: AnalyticsEngine) -> Any:
        return e.query(
            "SELECT COUNT(*) FROM fact_episode WHERE ngay_vao BETWEEN ? AND ?",
            [flt.date_from, flt.date_to],
        )

    return {
        "baseline COUNT(*)": floor,
        "summary": lambda e: kcb.q_summary(e, SCOPE, flt),
        "by_loai_kcb": lambda e: kcb.q_by_loai_kcb(e, SCOPE, flt),
        "by_sex": lambda e: kcb.q_by_sex(e, SCOPE, flt),
        "by_age_band": lambda e: kcb.q_by_age_band(e, SCOPE, flt),
        "top_icd10": lambda e: kcb.q_top_icd10(e, SCOPE, flt),
        "monthly (+last year)": lambda e: kcb.q_monthly(e, SCOPE, flt),
        "daily (+last year)": lambda e: kcb.q_daily(e, SCOPE, flt),
        "breakdown by commune": lambda e: kcb.q_breakdown(e, SCOPE, flt, "commune"),
        "completeness": lambda e: completeness.completeness(e, SCOPE, flt),
    }


def page(flt: Filters) -> Callable[[AnalyticsEngine], Any]:
    """What the KCB page asks for: the twin, the daily series and the drill-down table."""

    def load(e: AnalyticsEngine) -> Any:
        return (
            kcb.kcb(e, SCOPE, flt),
            kcb.q_daily(e, SCOPE, flt),
            kcb.q_breakdown(e, SCOPE, flt, "commune"),
        )

    return load


def measure(open_engine: Callable[[], AnalyticsEngine], flt: Filters, runs: int) -> list[Timing]:
    qs = {**queries(flt), "WHOLE PAGE": page(flt)}
    eng = open_engine()
    cold = {name: timed(lambda f=fn: f(eng)) for name, fn in qs.items()}  # type: ignore[misc]
    out = []
    for name, fn in qs.items():
        fn(eng)
        samples = [timed(lambda f=fn: f(eng)) for _ in range(runs)]  # type: ignore[misc]
        out.append(Timing(name, samples, cold[name]))
    eng.close()
    return out


def report(title: str, rows: list[Timing], base: dict[str, Timing] | None = None) -> None:
    print(f"\n{title}")
    head = f"{'query':24} {'cold ms':>9} {'p50 ms':>9} {'p95 ms':>9} {'÷COUNT':>7}"
    print(head + (f" {'PG÷this':>8}" if base else ""))
    floor = rows[0].p50
    for r in rows:
        line = (
            f"{r.name:24} {r.cold * 1000:9.1f} {r.p50:9.1f} {r.p(0.95):9.1f} {r.p50 / floor:7.1f}"
        )
        if base and r.name in base:
            line += f" {base[r.name].p50 / r.p50:8.1f}"
        print(line)
    worst = max((r for r in rows if r.name not in ("WHOLE PAGE",)), key=lambda r: r.p(0.95))
    print(f"worst query p95 warm: {worst.name} {worst.p(0.95):.1f} ms (goal < 250 ms)")


# -- incremental --------------------------------------------------------------------------------
def incremental(path: Path, records: list[RecordVersion], runs: int) -> None:
    eng = DuckDBEngine(path)
    loader = Loader(eng, b"bench-key")
    wm = loader.watermark()

    class Src:
        registry_key = "bench"

        def __init__(self, items: list[RecordVersion]) -> None:
            self.items = items

        def facilities_since(self, revision: int = 0) -> list[Any]:
            return []  # the registry is loaded once, before the timed loads

        def iter_versions(self, since_id: int = 0) -> Any:
            return iter([rv for rv in self.items if rv.version_id > since_id])

    serial = [0]
    run_id = uuid.uuid4().hex[:6]  # new keys even when the warehouse file is reused

    def fresh(k: int) -> list[RecordVersion]:
        out = []
        for rv in records[:k]:
            serial[0] += 1
            out.append(
                dataclasses.replace(
                    rv, version_id=wm + serial[0], ma_lk=f"B{run_id}{serial[0]:08d}", version=1
                )
            )
        return out

    def supersede() -> list[RecordVersion]:
        serial[0] += 1
        # an episode somewhere in the ten years (ids are spread over the whole table)
        fac, ma_lk = eng.query(
            "SELECT facility, ma_lk FROM fact_episode WHERE version_id >= ? AND version = 1 "
            "ORDER BY version_id LIMIT 1",
            [1 + (serial[0] * 7_919_993) % max(wm, 1)],
        )[0]
        return [
            dataclasses.replace(
                records[0], version_id=wm + serial[0], facility=fac, ma_lk=ma_lk, version=2
            )
        ]

    results: dict[str, list[float]] = {}
    for name, make in (
        ("nothing new (poll)", list),
        ("1 new record", lambda: fresh(1)),
        ("100 new records", lambda: fresh(100)),
        ("1 superseding version", supersede),
    ):
        samples = []
        for _ in range(runs):
            batch = make()
            samples.append(timed(lambda b=batch: loader.refresh(Src(b))))  # type: ignore[misc]
            if batch:
                wm = max(rv.version_id for rv in batch)
        results[name] = samples
    # freshness: refresh one record, then the dashboard's headline query sees it
    flt = Filters(date(2000, 1, 1), date(2100, 1, 1))
    before = kcb.q_summary(eng, SCOPE, flt)["total"]
    batch = fresh(1)
    t = time.perf_counter()
    loader.refresh(Src(batch))
    after = kcb.q_summary(eng, SCOPE, flt)["total"]
    seen = time.perf_counter() - t
    eng.close()
    print("\nincremental load into the full warehouse (DuckDB)")
    print(f"{'refresh':24} {'p50 ms':>9} {'max ms':>9}")
    for name, s in results.items():
        print(f"{name:24} {statistics.median(s) * 1000:9.1f} {max(s) * 1000:9.1f}")
    print(f"refresh + headline query sees the new record: {seen * 1000:.1f} ms "
          f"({before} → {after})")  # fmt: skip


# -- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="small data, few runs (seconds)")
    ap.add_argument("--episodes", type=int, default=None)
    ap.add_argument("--years", type=int, default=None)
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--pg-years", type=int, default=1)
    ap.add_argument("--pg-runs", type=int, default=None, help="warm runs on PostgreSQL")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--keep", type=Path, default=None, help="keep/reuse the DuckDB file here")
    args = ap.parse_args(argv if argv is not None else sys.argv[1:])
    quick = args.quick
    n = args.episodes or (300_000 if quick else 35_000_000)
    years = args.years or (2 if quick else 10)
    runs = args.runs or (5 if quick else 20)
    population = 60_000 if quick else 1_700_000
    start = date(2016, 1, 1) if not quick else date(2024, 1, 1)
    end = date(start.year + years, 1, 1) - timedelta(days=1)

    tmp = Path(tempfile.mkdtemp(prefix="khoyte-bench-"))
    try:
        path = args.keep or tmp / "warehouse.duckdb"
        t0 = time.perf_counter()
        synth = synth_day(tmp / "synth", population, end)
        source = FileVersionSource(synth)
        records = list(source.iter_versions(0))
        print(f"synth: one day of a {population:,}-person province, {len(records):,} records, "
              f"{len(source.facilities())} facilities ({time.perf_counter() - t0:.1f} s)")  # fmt: skip
        fresh_file = not path.exists()
        eng = DuckDBEngine(path)
        eng.execute("SET memory_limit = '6GB'")
        t0 = time.perf_counter()
        loader = Loader(eng, b"bench-key")  # builds the aggregates of a store written before them
        if not fresh_file and time.perf_counter() - t0 > 1:
            print(f"aggregates built by the loader from the kept facts in "
                  f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        if fresh_file:
            loader.upsert_facilities(source.facilities())
            t0 = time.perf_counter()
            generate(eng, n, start, years, source.facilities())
            print(f"generated {n:,} episodes over {years} years directly into DuckDB with "
                  f"vectorised SQL in {time.perf_counter() - t0:.1f} s")  # fmt: skip
            # the facts were written around the loader: its own rebuild makes the aggregates
            t0 = time.perf_counter()
            loader.rebuild_aggregates()
            eng.execute("CHECKPOINT")
            print(f"aggregates built by Loader.rebuild_aggregates in "
                  f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        rows = eng.query("SELECT COUNT(*), MIN(ngay_vao), MAX(ngay_vao) FROM fact_episode")[0]
        size = path.stat().st_size / 1e9
        print(f"warehouse: {rows[0]:,} episodes {rows[1]} … {rows[2]}, file {size:.2f} GB")
        aggs = {t: int(eng.query(f"SELECT COUNT(*) FROM {t}")[0][0]) for t in schema.AGGREGATES}
        print("aggregates: " + ", ".join(f"{t} {k:,} rows" for t, k in aggs.items()))
        eng.close()

        year = Filters(date(end.year, 1, 1), end)
        whole = Filters(start, end)
        commune = eng_commune(path)
        one_commune = dataclasses.replace(year, commune=commune)

        duck_year = measure(lambda: DuckDBEngine(path), year, runs)
        report(f"DuckDB, last year {year.date_from} … {year.date_to}", duck_year)
        duck_all = measure(lambda: DuckDBEngine(path), whole, runs)
        report(f"DuckDB, all {years} years {whole.date_from} … {whole.date_to}", duck_all)
        duck_commune = measure(lambda: DuckDBEngine(path), one_commune, runs)
        report(f"DuckDB, last year, one commune ({commune})", duck_commune)

        if not args.no_postgres:
            pg_since = date(end.year - args.pg_years + 1, 1, 1)
            pg_runs = args.pg_runs or (3 if quick else 5)
            pg_compare(path, pg_since, year, pg_runs, tmp, {t.name: t for t in duck_year})

        incremental(path, records, 7 if not quick else 3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def eng_commune(path: Path) -> str:
    eng = DuckDBEngine(path)
    try:
        return str(
            eng.query(
                "SELECT f.ma_xa FROM fact_episode e JOIN dim_facility f ON f.ma_cskcb = e.facility "
                "GROUP BY f.ma_xa ORDER BY COUNT(*) DESC LIMIT 1"
            )[0][0]
        )
    finally:
        eng.close()


def pg_compare(
    path: Path, since: date, flt: Filters, runs: int, tmp: Path, duck: dict[str, Timing]
) -> None:
    from sqlalchemy import create_engine, text

    name = f"khoyte_bench_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"\nPostgreSQL unavailable ({str(exc).splitlines()[0]}): comparison skipped")
        return
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        duck_eng = DuckDBEngine(path, read_only=True)
        pg = PostgresEngine(url)
        t0 = time.perf_counter()
        loaded = copy_to_postgres(duck_eng, pg, since, tmp)
        duck_eng.close()
        pg.close()
        print(f"\nPostgreSQL: loaded {loaded:,} episodes from {since} (subset) with indexes in "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        pg_rows = measure(lambda: PostgresEngine(url), flt, runs)
        report(f"PostgreSQL, last year {flt.date_from} … {flt.date_to}", pg_rows)
        report(
            "DuckDB (full table) again, for the ratio column PG ÷ DuckDB",
            [duck[r.name] for r in pg_rows],
            {r.name: r for r in pg_rows},
        )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
