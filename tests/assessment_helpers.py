"""The synthetic assessment council shared by the XML12 tests (``test_assessments*.py``): a
quarter of its documents, the province's facilities.csv, the truth; and the warehouse checks."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from khoyte.standards.assessment import assessment_key
from khoyte.synth.assessments import council_of, council_row, write_assessments
from khoyte.synth.facilities import write_facilities_csv
from khoyte.synth.generate import SynthConfig
from khoyte.synth.province import build_province
from khoyte.warehouse.service import Warehouse

MONTHS = ("2025-01", "2025-02", "2025-03")


@dataclass
class Council:
    root: Path
    code: str
    commune: str  # the council's own commune (where the registry places it)
    section: dict[str, Any]  # the manifest's "assessments"
    truth: list[dict[str, str]]


def make_council(tmp_path_factory: pytest.TempPathFactory) -> Council:
    """The ``council`` fixture (conftest.py): a quarter of the council's documents for 150,000
    people (about 2.3 assessments per 1,000 a year: some 80), and the province's facilities.csv
    with the council in it."""
    root = tmp_path_factory.mktemp("gdyk")
    cfg = SynthConfig(seed=4, population=150_000, start=date(2025, 1, 1), end=date(2025, 3, 31))
    prov = build_province(cfg.seed, cfg.province, cfg.population, cfg.start)
    (root / "truth").mkdir()
    write_facilities_csv(root / "facilities.csv", prov.facilities, prov.geo, [council_row(prov)])
    section = write_assessments(root, cfg, prov)
    with (root / "truth" / "assessments.csv").open(encoding="utf-8") as fh:
        truth = list(csv.DictReader(fh))
    c = council_of(prov)
    return Council(root, c.code, prov.geo.communes[c.commune].code, section, truth)


def by_month_kind(rows: list[dict[str, str]]) -> Counter[tuple[str, str]]:
    return Counter((r["month"], r["nhom"]) for r in rows)


def docs_of(c: Council) -> list[Path]:
    return [c.root / f for f in c.section["files"]]


def fact_rows(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.engine.query(
        "SELECT facility, ma_lk, ngay_hop, ma_doi_tuong, kham_giam_dinh, maxa_cu_tru, tuoi, "
        "tyle_ttct_moi FROM fact_assessment ORDER BY ma_lk"
    )


def expected_rows(c: Council) -> list[tuple[Any, ...]]:
    return sorted(
        (c.code, assessment_key(r["so_bien_ban"]), date.fromisoformat(r["ngay_hop"]),
         r["ma_doi_tuong"], r["kham_giam_dinh"], r["maxa_cu_tru"], int(r["tuoi"]))
        for r in c.truth
    )  # fmt: skip


def check_warehouse(wh: Warehouse, c: Council) -> None:
    rows = fact_rows(wh)
    assert sorted(r[:7] for r in rows) == expected_rows(c)
    columns = {r[0] for r in wh.engine.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'fact_assessment'"
    )}  # fmt: skip
    # F7: coded fields only — no name, CCCD, phone, address, birth date, free text
    for leaked in ("ho_ten", "so_cccd", "dien_thoai", "dia_chi", "ngay_sinh", "ma_bhxh",
                   "ma_the_bhyt", "ket_qua_kham", "de_nghi", "duoc_xacdinh", "nghe_nghiep",
                   "noi_cap_cccd", "nguoi_chu_tri", "gioi_thieu_cua"):  # fmt: skip
        assert leaked not in columns
