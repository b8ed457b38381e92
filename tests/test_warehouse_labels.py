"""ICD-10 labels come from the catalogues, never from a facility's free text, and no free text
reaches the warehouse (security test 2026-12, F7) — on DuckDB and on PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from khoyte.access import Scope
from khoyte.analytics import export, kcb
from khoyte.analytics.filters import Filters
from khoyte.handoff import RecordVersion
from khoyte.registry import icd10
from khoyte.warehouse import schema
from khoyte.warehouse.engine import AnalyticsEngine, DuckDBEngine, PostgresEngine
from khoyte.warehouse.loader import Loader
from tests.factories import record
from tests.gateway_helpers import fresh_pg_database

SECRET = "Nguyễn Văn Bí Mật, CCCD 082052526620, 0958501925 - nhiễm Salmonella"


class ListSource:
    """A version source over records held in memory (what the gateway's store hands over);
    it carries no facility registry."""

    registry_key = "test-list"

    def __init__(self, versions: list[RecordVersion]) -> None:
        self.versions = versions

    def iter_versions(self, since_id: int = 0) -> Iterator[RecordVersion]:
        return iter([v for v in self.versions if v.version_id > since_id])

    def facilities_since(self, revision: int = 0) -> list[Any]:
        return []


def _versions() -> list[RecordVersion]:
    out = []
    for i, (code, text) in enumerate(
        [("A02.0", SECRET), ("J18.9", '=HYPERLINK("x") Trần Thị B'), ("A02.0", "Thương hàn")],
        start=1,
    ):
        rec = record(f"LBL{i}", start=datetime(2025, 3, 17, 8, 0))
        rec.episode.values["MA_BENH_CHINH"] = code
        rec.episode.values["CHAN_DOAN_RV"] = text
        rec.labs[0].values["GIA_TRI"] = SECRET if i == 1 else "5.6"
        out.append(
            RecordVersion(
                i,
                "82001",
                f"LBL{i}",
                1,
                f"s{i}",
                datetime(2025, 3, 18, tzinfo=UTC),
                "accepted",
                rec,
            )
        )
    return out


@pytest.fixture(params=["duckdb", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnalyticsEngine]:
    if request.param == "duckdb":
        eng: AnalyticsEngine = DuckDBEngine(tmp_path / "w.duckdb")
        yield eng
        eng.close()
        return
    request.getfixturevalue("pg_url")
    dbs = fresh_pg_database()
    url = next(dbs)
    eng = PostgresEngine(url.replace("postgresql+psycopg://", "postgresql://"))
    yield eng
    eng.close()
    next(dbs, None)


def _everything(eng: AnalyticsEngine) -> str:
    tables = (*schema.CURRENT_TABLES, "fact_submission", "dim_icd10", *schema.AGGREGATES)
    return json.dumps({t: eng.query(f"SELECT * FROM {t}") for t in tables}, default=str)


def test_labels_come_from_the_catalogue_only(engine: AnalyticsEngine) -> None:
    loader = Loader(engine, b"key")
    loader.refresh(ListSource(_versions()))
    stored = _everything(engine)
    for leak in ("Bí Mật", "082052526620", "0958501925", "HYPERLINK", "Trần Thị B"):
        assert leak not in stored, leak
    labels = {
        r[0]: (r[1], r[2]) for r in engine.query("SELECT code, name_vi, name_en FROM dim_icd10")
    }
    assert labels["J18.9"] == ("Viêm phổi", icd10.description("J18.9"))
    assert labels["A02.0"] == (None, "Salmonella enteritis")  # no reviewed Vietnamese name
    flt = Filters(date(2025, 3, 17), date(2025, 3, 17))
    top = {r["code"]: r for r in kcb.q_top_icd10(engine, Scope.whole_province(), flt)}
    assert top["A02.0"]["name_vi"] == "Salmonella enteritis"  # the WHO title, not the sender's
    assert top["J18.9"]["name_vi"] == "Viêm phổi"
    table = export.kcb_table(engine, Scope.whole_province(), flt, "top_icd10", "vi")
    assert "Bí Mật" not in export.to_csv(table).decode("utf-8-sig")
    # lab values: numbers kept, free text not loaded
    values = sorted(str(r[0]) for r in engine.query("SELECT gia_tri FROM fact_lab"))
    assert "5.6" in values
    assert "None" in values


def test_a_store_labelled_from_claims_is_relabelled(engine: AnalyticsEngine) -> None:
    Loader(engine, b"key")
    with engine.transaction():
        engine.execute(
            "INSERT INTO dim_icd10 (code, name_vi, name_en, chapter) VALUES (?, ?, ?, ?)",
            ["A02.0", SECRET, "Salmonella enteritis", "I"],
        )
        schema.set_meta(engine, "icd_labels", "0")  # written before labels came from catalogues
    Loader(engine, b"key")
    assert engine.query("SELECT name_vi FROM dim_icd10 WHERE code = 'A02.0'") == [(None,)]
