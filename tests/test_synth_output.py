"""Clean output is accepted by the validator with no finding at all, in both generations of the
standard, and the fast writer writes exactly what the reference writer writes."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook

from khoyte.standards import writer
from khoyte.synth import fastwrite
from khoyte.synth.province import build_province
from khoyte.synth.visits import Outbreak, generate_day, standard_for
from khoyte.validate.engine import validate_file
from tests.synth_helpers import RECEIVED, findings, generate


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    # Crosses the administrative reform (2025-07-01): residence codes must be 2025 communes after.
    generate(
        out,
        seed=3,
        population=2500,
        start=date(2025, 6, 24),
        end=date(2025, 7, 8),
        outbreaks=(Outbreak("A97.0", "28249", date(2025, 6, 26), 1, 8.0),),
    )
    return out


def test_clean_output_has_no_findings(clean: Path) -> None:
    assert findings(clean) == {}


def test_qd4210_before_september_2023_and_qd130_after(tmp_path: Path) -> None:
    m = generate(tmp_path, seed=5, population=1500, start=date(2023, 8, 29), end=date(2023, 9, 3))
    assert findings(tmp_path) == {}
    by_std = m["files"]["by_standard"]  # type: ignore[index]
    assert by_std["QD4210"] > 0
    assert by_std["QD130"] > 0
    for p in (tmp_path / "xml").rglob("*.xml"):
        res = validate_file(p, keep_records=False, received_at=RECEIVED)
        day = date.fromisoformat(p.parent.name)
        assert res.standard == standard_for(day)


def test_every_record_is_counted_once_and_matches_the_files(clean: Path) -> None:
    m = json.loads((clean / "manifest.json").read_text(encoding="utf-8"))
    per_facility: dict[str, int] = {}
    types: dict[str, int] = {}
    deaths = 0
    for p in (clean / "xml").rglob("*.xml"):
        res = validate_file(p, keep_records=True, received_at=RECEIVED)
        assert res.facility == p.stem
        for r in res.records:
            ep = r.record.episode  # type: ignore[union-attr]
            per_facility[res.facility] = per_facility.get(res.facility, 0) + 1
            types[ep.visit_type or "?"] = types.get(ep.visit_type or "?", 0) + 1
            deaths += ep.text("KET_QUA_DTRI") in ("5", "8")
    assert per_facility == {k: v["visits"] for k, v in m["by_facility"].items()}
    assert types == {k: v["visits"] for k, v in m["by_visit_type"].items()}
    assert deaths == m["totals"]["deaths"]
    with (clean / "truth" / "visits.csv").open(encoding="utf-8") as fh:
        assert sum(1 for _ in fh) - 1 == m["totals"]["visits"]
    with (clean / "truth" / "daily.csv").open(encoding="utf-8") as fh:
        assert sum(int(row["visits"]) for row in csv.DictReader(fh)) == m["totals"]["visits"]
    assert m["outbreaks"][0]["injected_visits"] > 0


def test_facilities_csv_codes(clean: Path) -> None:
    with (clean / "facilities.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len({r["ma_cskcb"] for r in rows}) == len(rows)
    assert all(len(r["ma_cskcb"]) == 5 and r["ma_cskcb"].startswith("82") for r in rows)
    assert {r["tuyen"] for r in rows} >= {"tinh", "khu_vuc", "xa", "tu_nhan"}
    # One commune station per commune.
    assert sum(r["loai"] == "station" for r in rows) == len(
        {r["ma_xa"] for r in rows if r["loai"] == "station"}
    )


def test_aggregates_population_adds_up(clean: Path) -> None:
    m = json.loads((clean / "manifest.json").read_text(encoding="utf-8"))
    with (clean / "aggregates" / "2025-07.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sum(int(r["gia_tri"]) for r in rows if r["bao_cao"] == "dan_so") == 2500
    assert {r["bao_cao"] for r in rows} == set(m["aggregates"]["reports"])
    wb = load_workbook(clean / "aggregates" / "2025-07.xlsx", read_only=True)
    assert wb.sheetnames == list(m["aggregates"]["reports"])
    sheet = list(wb["dan_so"].iter_rows(min_row=3, values_only=True))
    assert sum(sum(v for v in row[2:]) for row in sheet) == 2500


def test_fast_writer_equals_reference_writer() -> None:
    prov = build_province(9, "82", 20000, date(2023, 1, 1))
    tables: set[str] = set()
    for day in (date(2023, 5, 2), date(2024, 8, 5), date(2025, 3, 3)):
        for fac in prov.facilities[:8]:
            recs = [r for r, _ in generate_day(prov, fac.index, day, [])]
            for rec in recs:
                tables |= set(rec.tables)
            std = standard_for(day)
            assert fastwrite.envelope(recs, fac.code, day, std) == writer.envelope(
                recs, fac.code, day, std
            )
    assert tables >= {"XML1", "XML2", "XML3", "XML4", "XML5", "XML7", "XML8", "XML14"}
