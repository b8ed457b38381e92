"""The pre-aggregated tables the dashboards read equal a GROUP BY over the facts after every load:
new records, superseding versions (moving an episode to another day, visit type and sex), stale
and rejected versions, several versions of one episode in one batch, a rebuild — on DuckDB and
on PostgreSQL. The GROUP BY is written out here, independently of the loader's own SQL."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from khoyte.access import Scope
from khoyte.analytics import kcb
from khoyte.analytics.filters import Filters
from khoyte.handoff import RecordVersion
from khoyte.registry.facilities import FacilityEntry
from khoyte.warehouse import schema
from khoyte.warehouse.engine import AnalyticsEngine, DuckDBEngine, PostgresEngine
from khoyte.warehouse.loader import Loader
from khoyte.warehouse.sources import FileVersionSource
from tests.synth_helpers import generate

AGE_BANDS = ("0-4", "5-14", "15-24", "25-44", "45-59", "60-79", "80+")

EXPECTED_DAY = (
    "SELECT ngay_vao, facility, ma_loai_kcb, COUNT(*), "
    "SUM(CASE WHEN inpatient THEN 1 ELSE 0 END), SUM(CASE WHEN emergency THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN death THEN 1 ELSE 0 END), SUM(bed_days), SUM(t_tongchi_bv), SUM(t_bhtt), "
    "SUM(patient_paid), SUM(CASE WHEN bhyt THEN 1 ELSE 0 END), "
    + ", ".join(f"SUM(CASE WHEN gioi_tinh = '{s}' THEN 1 ELSE 0 END)" for s in "123")
    + ", "
    + ", ".join(f"SUM(CASE WHEN age_band = '{b}' THEN 1 ELSE 0 END)" for b in AGE_BANDS)
    + " FROM fact_episode GROUP BY ngay_vao, facility, ma_loai_kcb"
)
GOT_DAY = (
    "SELECT ngay_vao, facility, ma_loai_kcb, visits, inpatient, emergencies, deaths, bed_days, "
    "cost_total, cost_bhyt, cost_patient, bhyt_records, sex_1, sex_2, sex_3, "
    + ", ".join(f"age_{i}" for i in range(len(AGE_BANDS)))
    + " FROM agg_day"
)
EXPECTED_ICD = (
    "SELECT ngay_vao, facility, ma_loai_kcb, ma_benh_chinh, COUNT(*) FROM fact_episode "
    "GROUP BY ngay_vao, facility, ma_loai_kcb, ma_benh_chinh"
)
GOT_ICD = "SELECT ngay_vao, facility, ma_loai_kcb, ma_benh_chinh, visits FROM agg_icd_day"
# the month is written out as its year and month numbers (the loader keeps its first day)
EXPECTED_MONTH = EXPECTED_DAY.replace(
    "SELECT ngay_vao,",
    "SELECT EXTRACT(YEAR FROM ngay_vao) * 100 + EXTRACT(MONTH FROM ngay_vao) AS ym,",
).replace("GROUP BY ngay_vao,", "GROUP BY ym,")
GOT_MONTH = GOT_DAY.replace(
    "SELECT ngay_vao,",
    "SELECT EXTRACT(YEAR FROM ngay_vao) * 100 + EXTRACT(MONTH FROM ngay_vao) AS ym,",
).replace("FROM agg_day", "FROM agg_month WHERE EXTRACT(DAY FROM ngay_vao) = 1")
EXPECTED_SUB = (
    "SELECT facility, ngay_vao, COUNT(*), SUM(CASE WHEN status = 'rejected' THEN 1 ELSE 0 END), "
    "MIN(received_at), MAX(received_at) FROM fact_submission GROUP BY facility, ngay_vao"
)
GOT_SUB = (
    "SELECT facility, ngay_vao, records, rejected, first_received, last_received "
    "FROM agg_submission"
)


def _rows(eng: AnalyticsEngine, sql: str) -> list[tuple[Any, ...]]:
    return sorted((tuple(int(v) if hasattr(v, "as_integer_ratio") and not isinstance(v, float)
                         else v for v in r) for r in eng.query(sql)), key=repr)  # fmt: skip


def assert_consistent(eng: AnalyticsEngine) -> None:
    expected = _rows(eng, EXPECTED_DAY)
    assert expected, "no facts loaded"
    assert _rows(eng, GOT_DAY) == expected
    assert _rows(eng, GOT_SUB) == _rows(eng, EXPECTED_SUB)
    assert _rows(eng, GOT_ICD) == _rows(eng, EXPECTED_ICD)
    month = _rows(eng, GOT_MONTH)
    assert month == _rows(eng, EXPECTED_MONTH)
    assert len(month) == int(eng.query("SELECT COUNT(*) FROM agg_month")[0][0])


def _all(eng: AnalyticsEngine) -> tuple[list[tuple[Any, ...]], ...]:
    return tuple(_rows(eng, q) for q in (GOT_DAY, GOT_SUB, GOT_ICD, GOT_MONTH))


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> list[RecordVersion]:
    out = tmp_path_factory.mktemp("synth")
    generate(out, seed=5, population=600, start=date(2025, 3, 1), end=date(2025, 3, 8))
    return list(FileVersionSource(out).iter_versions(0))


class ListSource:
    registry_key = "list"

    def __init__(self, items: list[RecordVersion]) -> None:
        self.items = items

    def facilities_since(self, revision: int = 0) -> list[FacilityEntry]:
        return []

    def iter_versions(self, since_id: int = 0) -> Iterator[RecordVersion]:
        return iter([rv for rv in self.items if rv.version_id > since_id])


def _changed(rv: RecordVersion, version_id: int, version: int, k: int) -> RecordVersion:
    """Another version of the episode: another admission day, visit type, sex and cost."""
    rec = copy.deepcopy(rv.record)
    ep = rec.episode.values
    admitted = rec.episode.admitted
    if admitted is not None and k % 2 == 0:
        ep["NGAY_VAO"] = admitted - timedelta(days=1 + k % 3)
    ep["MA_LOAI_KCB"] = ("01", "03", "02", "04")[k % 4]
    ep["GIOI_TINH"] = "2" if rec.episode.sex == "1" else "1"
    ep["T_TONGCHI_BV"] = Decimal(1000 + k)  # typed as the reader types amounts
    ep["MA_BENH_CHINH"] = ("J06.9", "A09", "I10")[k % 3]
    return dataclasses.replace(
        rv,
        version_id=version_id,
        version=version,
        received_at=rv.received_at + timedelta(hours=version),
        record=rec,
        status="accepted" if k % 5 else "accepted_with_warnings",
    )


def _sequence(base: list[RecordVersion]) -> list[list[RecordVersion]]:
    """Loads of versions, in arrival order (ids keep growing)."""
    loaded = [rv for rv in base if rv.status != "rejected"]
    first = base[: len(base) // 2]
    rest = base[len(base) // 2 :]
    next_id = max(rv.version_id for rv in base)
    loads: list[list[RecordVersion]] = [first]
    second = list(rest)
    # superseding versions of episodes loaded in the first load
    for k, rv in enumerate(loaded[:40:2]):
        if rv in first:
            next_id += 1
            second.append(_changed(rv, next_id, rv.version + 1, k))
    loads.append(second)
    third: list[RecordVersion] = []
    for k, rv in enumerate(loaded[1:60:3]):
        # two more versions of one episode in the same load, the later one wins
        next_id += 1
        third.append(_changed(rv, next_id, rv.version + 5, k))
        next_id += 1
        third.append(_changed(rv, next_id, rv.version + 6, k + 1))
        # a stale version (lower than the one held) changes nothing
        next_id += 1
        third.append(_changed(rv, next_id, rv.version, k + 2))
        # a rejected version replaces nothing but counts in completeness
        next_id += 1
        third.append(
            dataclasses.replace(_changed(rv, next_id, rv.version + 9, k), status="rejected")
        )
    loads.append(third)
    return loads


def _run(eng: AnalyticsEngine, base: list[RecordVersion]) -> None:
    loader = Loader(eng, b"agg-test")
    assert _rows(eng, GOT_DAY) == []
    items: list[RecordVersion] = []
    superseded = 0
    for load in _sequence(base):
        items += load
        report = loader.refresh(ListSource(items), batch_size=97)
        superseded += report.superseded
        assert_consistent(eng)
    assert superseded > 20  # the sequence did replace episodes
    moved = eng.query("SELECT COUNT(DISTINCT ngay_vao) FROM agg_day")[0][0]
    assert int(moved) > 8  # superseding versions moved episodes to days before the period
    months = eng.query("SELECT COUNT(DISTINCT ngay_vao) FROM agg_month")[0][0]
    assert int(months) == 2  # ... into the month before
    codes = eng.query("SELECT COUNT(DISTINCT ma_benh_chinh) FROM agg_icd_day")[0][0]
    assert int(codes) > 3
    stepwise = _all(eng)
    loader.rebuild_aggregates()
    assert _all(eng) == stepwise
    loader.rebuild(ListSource(items))
    assert_consistent(eng)
    assert _all(eng) == stepwise
    # a store without its aggregates (written before they existed) gets them when opened
    eng.execute("DELETE FROM agg_day")
    eng.execute("DROP TABLE agg_icd_day")
    eng.execute("DROP TABLE agg_month")
    eng.execute("UPDATE wh_meta SET value = '3' WHERE key = 'aggregates'")
    Loader(eng, b"agg-test")
    assert _all(eng) == stepwise
    _queries_match_facts(eng)


def _queries_match_facts(eng: AnalyticsEngine) -> None:
    """The dashboard's monthly series (whole months from agg_month, edges from agg_day) and
    top-10 (from agg_icd_day) equal the same numbers counted over the facts."""
    periods = [
        (date(2025, 2, 26), date(2025, 3, 5)),  # two partial months
        (date(2025, 2, 1), date(2025, 3, 31)),  # two whole months
        (date(2025, 2, 1), date(2025, 3, 4)),  # a whole month and a partial one
        (date(2025, 2, 20), date(2025, 3, 31)),  # a partial month and a whole one
        (date(2025, 3, 2), date(2025, 3, 6)),  # inside one month
    ]
    for lo, hi in periods:
        flt = Filters(lo, hi)
        rows = eng.query(
            "SELECT EXTRACT(YEAR FROM ngay_vao) * 100 + EXTRACT(MONTH FROM ngay_vao) AS ym, "
            "COUNT(*), SUM(t_tongchi_bv) FROM fact_episode WHERE ngay_vao BETWEEN ? AND ? "
            "GROUP BY ym",
            [lo, hi],
        )
        want = {f"{int(k) // 100:04d}-{int(k) % 100:02d}": (int(n), int(c)) for k, n, c in rows}
        got = kcb.q_monthly(eng, Scope.whole_province(), flt)
        assert {r["month"]: (r["visits"], round(r["cost_total"] * 100)) for r in got
                if r["visits"]} == want  # fmt: skip
        assert sum(n for n, _ in want.values()) > 0
        top = eng.query(
            "SELECT ma_benh_chinh, COUNT(*) AS n FROM fact_episode WHERE ngay_vao BETWEEN ? AND ? "
            "AND ma_benh_chinh IS NOT NULL GROUP BY ma_benh_chinh ORDER BY n DESC, 1 LIMIT 10",
            [lo, hi],
        )
        got_top = kcb.q_top_icd10(eng, Scope.whole_province(), flt)
        assert [(t["code"], t["count"]) for t in got_top] == [(str(c), int(n)) for c, n in top]


def test_aggregates_follow_the_facts_duckdb(versions: list[RecordVersion], tmp_path: Path) -> None:
    eng = DuckDBEngine(tmp_path / "w.duckdb")
    try:
        _run(eng, versions)
    finally:
        eng.close()


@pytest.mark.postgres
def test_aggregates_follow_the_facts_postgresql(versions: list[RecordVersion], pg_url: str) -> None:
    eng = PostgresEngine(pg_url)
    # the session's PostgreSQL database is shared: another test (test_warehouse_engines) may
    # have loaded a warehouse into it already
    schema.drop(eng)
    try:
        _run(eng, versions)
    finally:
        eng.close()


def test_received_times_are_comparable(versions: list[RecordVersion]) -> None:
    # the sequence above relies on ids growing and received times being datetimes
    assert all(isinstance(rv.received_at, datetime) for rv in versions)
    ids = [rv.version_id for rv in versions]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert schema.AGG_AGE_BANDS == AGE_BANDS
