"""One engine interface: the same loader and the same dashboard queries on DuckDB and on
PostgreSQL give the same answers."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from khoyte.access import Scope
from khoyte.analytics import completeness, kcb, people
from khoyte.analytics.filters import Filters
from khoyte.handoff import RecordPerson
from khoyte.warehouse.engine import AnalyticsEngine, DuckDBEngine, PostgresEngine
from khoyte.warehouse.loader import Loader
from khoyte.warehouse.sources import FileVersionSource
from tests.synth_helpers import generate


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, seed=5, population=700, start=date(2024, 12, 1), end=date(2025, 1, 31))
    return out


class TruePersons:
    """A person feed giving every record its true person (the synth's truth) at revision 1,
    then, from ``moved``, one record moved to another person at revision 2."""

    def __init__(self, synth: Path) -> None:
        with (synth / "truth" / "visits.csv").open(encoding="utf-8") as fh:
            self.rows = [RecordPerson(r["ma_cskcb"], r["ma_lk"], f"P{r['person_id']}", 1, 0)
                         for r in csv.DictReader(fh)]  # fmt: skip
        self.moved: list[RecordPerson] = []

    def persons_since(self, revision: int = 0) -> Iterator[RecordPerson]:
        yield from (p for p in [*self.rows, *self.moved] if p.revision > revision)


def load(eng: AnalyticsEngine, synth: Path) -> Loader:
    loader = Loader(eng, b"key")
    source = FileVersionSource(synth)
    loader.upsert_facilities(source.facilities())
    persons = TruePersons(synth)
    loader.rebuild(source, persons=persons)  # persons first: records find their keys
    # a change after the records: the loaded row gets the new key (UPDATE … FROM)
    first, second = persons.rows[0], persons.rows[-1]
    persons.moved = [RecordPerson(first.facility, first.ma_lk, second.health_id, 2, 0)]
    assert loader.refresh_persons(persons) == (1, 2)
    keys = {
        (f, m): k for f, m, k in eng.query("SELECT facility, ma_lk, person_key FROM fact_episode")
    }
    assert keys[(first.facility, first.ma_lk)] == keys[(second.facility, second.ma_lk)]
    return loader


@pytest.mark.postgres
def test_duckdb_and_postgresql_agree(synth: Path, tmp_path: Path, pg_url: str) -> None:
    duck = DuckDBEngine(tmp_path / "w.duckdb")
    pg = PostgresEngine(pg_url)
    try:
        load(duck, synth)
        load(pg, synth)
        some = duck.query("SELECT facility FROM fact_episode LIMIT 1")[0][0]
        q = "SELECT facility, ma_lk, person_key FROM fact_episode ORDER BY 1, 2"
        assert duck.query(q) == pg.query(q)
        assert len({r[2] for r in duck.query(q)}) < len(duck.query(q))  # persons, not visits
        commune = duck.query("SELECT ma_xa FROM dim_facility WHERE ma_cskcb = ?", [some])[0][0]
        cases = [
            (Scope.whole_province(), Filters(date(2024, 12, 1), date(2025, 1, 31))),
            (Scope.whole_province(), Filters(date(2025, 1, 1), date(2025, 1, 31), tier="xa")),
            (Scope(communes=frozenset({commune})), Filters(date(2024, 12, 1), date(2025, 1, 31))),
            (Scope(facilities=frozenset({some})), Filters(date(2025, 1, 1), date(2025, 1, 15))),
            (Scope(), Filters(date(2024, 12, 1), date(2025, 1, 31))),
        ]
        for scope, flt in cases:
            assert people.people(duck, scope, flt) == people.people(pg, scope, flt)
            a, b = kcb.kcb(duck, scope, flt), kcb.kcb(pg, scope, flt)
            a.pop("as_of"), b.pop("as_of")
            assert a == b
            assert kcb.q_daily(duck, scope, flt) == kcb.q_daily(pg, scope, flt)
            for by in ("commune", "facility"):
                assert kcb.q_breakdown(duck, scope, flt, by) == kcb.q_breakdown(pg, scope, flt, by)
            ca = completeness.completeness(duck, scope, flt, unit="month")
            cb = completeness.completeness(pg, scope, flt, unit="month")
            ca.pop("as_of"), cb.pop("as_of")
            assert ca == cb
        # the empty scope sees nothing; a facility scope sees only that facility
        assert kcb.kcb(duck, Scope(), cases[0][1])["visits"]["total"] == 0
        only = kcb.q_breakdown(duck, Scope(facilities=frozenset({some})), cases[0][1], "facility")
        assert [r["code"] for r in only] == [some]
    finally:
        duck.close()
        pg.close()
