"""IOC groups 6 and 7 with data: the synth's programme reports (``--programmes``) and its plan at
the province's scale (``aggregates/ke_hoach.csv`` → ``ag_target``), and group 7's XML12 panel
(medical assessments sent to the gateway, by kind, by meeting month), for the province and a
commune-scoped caller. Expected numbers are computed here from the files and the records made."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from khoyte.aggregate import targets
from khoyte.aggregate.metadata import load
from khoyte.config import Settings
from khoyte.demo import _import_aggregates
from khoyte.handoff import RecordVersion
from khoyte.registry.facilities import import_file
from khoyte.services import build_services
from khoyte.standards.model import BirthDate, Record, Standard, make_row
from khoyte.store.db import session_scope
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from tests.aggregate_helpers import client_for
from tests.synth_helpers import generate
from tests.warehouse_helpers import WithExtra

MONTHS = ("2025-01", "2025-02", "2025-03")
# (MA_DOI_TUONG, KHAM_GIAM_DINH, month of NGAY_HOP) → the kind the panel counts it as
ASSESSMENTS = [
    ("BHXH1L", "1", 1, "lan_dau"), ("KNLĐH", "1", 2, "lan_dau"), ("BHXH1L", "2", 2, "giam_dinh_khac"),
    ("BNN", "1", 2, "benh_nghe_nghiep"), ("TNLĐ;NKT", "3", 3, "tai_nan_lao_dong"),
    ("TB", "1", 3, "thuong_binh_cdhh"), ("CĐHH", "2", 1, "thuong_binh_cdhh"),
    ("NKT", "1", 3, "khuyet_tat"), ("NVQS", "1", 2, "giam_dinh_khac"),
    ("TH", "8", 4, "outside"),  # a meeting in April: outside the quarter
]  # fmt: skip


def _assessment_record(ma_lk: str) -> Record:
    at = datetime(2025, 1, 20, 8, 0)
    xml12 = [make_row("XML12", {"MA_LK": ma_lk, "MA_DOI_TUONG": code, "KHAM_GIAM_DINH": kham,
                                "NGAY_HOP": date(2025, month, 10), "NGAY_SINH": date(1970, 1, 1)})
             for code, kham, month, _ in ASSESSMENTS]  # fmt: skip
    xml1 = make_row("XML1", {"MA_LK": ma_lk, "NGAY_VAO": at, "NGAY_RA": at, "MA_LOAI_KCB": "01",
                             "NGAY_SINH": BirthDate(1970, 1, 1), "GIOI_TINH": "1"})  # fmt: skip
    return Record(ma_lk, Standard.QD130, {"XML1": [xml1], "XML12": xml12})


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Settings, dict[str, str]]:
    root = tmp_path_factory.mktemp("prog")
    generate(root, seed=5, population=3000, start=date(2025, 1, 1), end=date(2025, 3, 31),
             programmes=True)  # fmt: skip
    with (root / "facilities.csv").open(encoding="utf-8") as fh:
        communes = {r["ma_cskcb"]: r["ma_xa"] for r in csv.DictReader(fh)}
    # two facilities (not the synth's own assessment council) send the assessment papers
    two = sorted(c for c in communes if not c.endswith("000"))[:2]
    extra = [RecordVersion(10_000_000 + i, fac, f"GD{i}", 1, f"g{i}", datetime(2025, 4, 1, tzinfo=UTC),
                           "accepted", _assessment_record(f"GD{i}"))
             for i, fac in enumerate(two)]  # fmt: skip
    settings = Settings(data_dir=tmp_path_factory.mktemp("prog-data"), warehouse_refresh_seconds=0,
                        small_count_threshold=0)  # fmt: skip
    wh = Warehouse(settings)
    try:
        wh.rebuild(WithExtra(FileVersionSource(root), extra))  # type: ignore[arg-type]
    finally:
        wh.close()
    services = build_services(settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            import_file(s, root / "facilities.csv")
        _import_aggregates(services, root / "aggregates", lambda _m: None)  # `khoyte demo`'s
    finally:
        services.close()
    return root, settings, {f: communes[f] for f in two}


@pytest.fixture(scope="module")
def client(setup: tuple[Path, Settings, dict[str, str]]) -> Iterator[TestClient]:
    with client_for(setup[1]) as c:
        yield c


def _twin(c: TestClient, group: str, who: str, **params: str) -> dict[str, Any]:
    r = c.get(f"/api/v1/ioc/{group}", params={"from": "2025-01", "to": "2025-03", **params},
              headers={"x-test-scope": who})  # fmt: skip
    assert r.status_code == 200, r.text
    return {p["code"]: p for p in r.json()["panels"]}


def _files(root: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for m in MONTHS:
        with (root / "aggregates" / f"{m}-chuong-trinh.csv").open(encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def _plan(root: Path) -> dict[tuple[str, int], float]:
    with (root / "aggregates" / "ke_hoach.csv").open(encoding="utf-8") as fh:
        return {(r["indicator"], int(r["year"])): float(r["target"]) for r in csv.DictReader(fh)}


def test_groups_6_and_7_show_the_programme_reports_against_the_scaled_plan(
    setup: tuple[Path, Settings, dict[str, str]], client: TestClient
) -> None:
    root = setup[0]
    rows = _files(root)
    plan = _plan(root)
    total = lambda e, coc=None: sum(float(r["gia_tri"]) for r in rows  # noqa: E731
                                    if r["chi_tieu"] == e and coc in (None, r["nhom"]))  # fmt: skip
    g6 = _twin(client, "kiem_soat_benh", "province")
    g7 = _twin(client, "giam_dinh", "province")
    cases = [(g6, "dan_so_bao_ve_hoa_chat", "dan_so_bao_ve_hoa_chat"),
             (g6, "hiv_duong_tinh", "hiv_duong_tinh"),
             (g7, "giam_dinh_y_khoa", "giam_dinh_y_khoa"), (g7, "giam_dinh_phap_y", "phap_y")]  # fmt: skip
    for twin, indicator, element in cases:
        panel = twin[indicator]
        assert panel["actual"] == total(element), indicator
        # a quarter of the year's plan, the plan scaled to 3,000 people (not the package's)
        assert panel["plan"] == pytest.approx(plan[(indicator, 2025)] / 4), indicator
        assert panel["plan"] < load().targets[(indicator, "82", 2025)] / 4 / 100
    assert g6["dan_so_bao_ve_hoa_chat"]["actual"] > 0  # the synth wrote numbers
    by_sex = {o["code"]: o["value"] for o in g6["hiv_duong_tinh"]["by_option"]}
    assert by_sex == {"nam": total("hiv_duong_tinh", "nam"), "nu": total("hiv_duong_tinh", "nu")}
    # a plan the province imports replaces the package's and the synth's
    services = build_services(setup[1], warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            bad = targets.store(s, b"indicator,orgunit,year,target\nkhong_co,82,2025,1\n"
                                b"giam_dinh_y_khoa,82,20x5,abc\n", load(), source="x.csv",
                                who="t", now=datetime.now(UTC))  # fmt: skip
            assert bad["status"] == "rejected"
            assert {(p["row"], p["column"], p["value"]) for p in bad["problems"]} == {
                (2, "indicator", "khong_co"),
                (3, "year", "20x5"),
                (3, "target", "abc"),
            }
            ok = targets.store(s, b"indicator,orgunit,year,target\ngiam_dinh_y_khoa,82,2025,120\n",
                               load(), source="y.csv", who="t", now=datetime.now(UTC))  # fmt: skip
            assert (ok["status"], ok["updated"]) == ("loaded", 1)
    finally:
        services.close()
    assert _twin(client, "giam_dinh", "province")["giam_dinh_y_khoa"]["plan"] == 30


def test_group_7_counts_the_xml12_papers_by_kind(
    setup: tuple[Path, Settings, dict[str, str]], client: TestClient
) -> None:
    root, _, senders = setup
    inside = Counter(k for _, _, m, k in ASSESSMENTS if m <= 3)
    # and the synth's own council documents (truth/assessments.csv, tests/test_assessments.py)
    with (root / "truth" / "assessments.csv").open(encoding="utf-8") as fh:
        synth = list(csv.DictReader(fh))
    with (root / "facilities.csv").open(encoding="utf-8") as fh:
        council = next(r for r in csv.DictReader(fh) if r["loai"] == "other")
    own = Counter(r["nhom"] for r in synth)
    panel = _twin(client, "giam_dinh", "province")["giam_dinh_xml12"]
    assert panel["kind"] == "papers"
    assert panel["actual"] == 2 * sum(inside.values()) + len(synth)
    assert {o["code"]: o["value"] for o in panel["by_option"]} == {
        k: 2 * inside.get(k, 0) + own.get(k, 0) for k in load().combos["giam_dinh"].combinations
    }
    months = {m["month"]: m["actual"] for m in panel["monthly"]}
    assert months == {
        f"2025-0{m}": 2 * sum(1 for a in ASSESSMENTS if a[2] == m)
        + sum(1 for r in synth if r["month"] == f"2025-0{m}")
        for m in (1, 2, 3)
    }
    # by the assessed person's commune of residence: the records made here carry no
    # MAXA_CU_TRU (the province's "commune unknown" row), the synth's council's do
    by_unit: Counter[str | None] = Counter(r["maxa_cu_tru"] for r in synth)
    by_unit[None] += 2 * sum(inside.values())
    assert {r["code"]: r["actual"] for r in panel["breakdown"]} == dict(by_unit)
    # a commune-scoped caller sees its residents only, whoever sent the papers
    for commune in {*senders.values(), council["ma_xa"], *(r["maxa_cu_tru"] for r in synth)}:
        mine = _twin(client, "giam_dinh", f"commune:{commune}")["giam_dinh_xml12"]
        assert mine["actual"] == by_unit[commune]


def test_targets_command_imports_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from khoyte.aggregate.models import AggTarget
    from khoyte.cli import app

    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path / "data"))
    good, bad = tmp_path / "plan.csv", tmp_path / "bad.csv"
    good.write_text("indicator,orgunit,year,target\ngiam_dinh_y_khoa,82,2025,40\n", "utf-8")
    bad.write_text("indicator,orgunit,year,target\ngiam_dinh_y_khoa,82,2026,41\n"
                   "khong_co,82,2025,1\n", "utf-8")  # fmt: skip
    runner = CliRunner()
    r = runner.invoke(app, ["aggregate", "targets", str(good)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["aggregate", "targets", str(bad)])
    assert r.exit_code == 1
    assert '"row": 3, "column": "indicator", "value": "khong_co"' in r.output
    services = build_services(Settings(data_dir=tmp_path / "data"), warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            stored = {(t.indicator, t.year): t.target for t in s.scalars(select(AggTarget))}
            assert targets.effective(s, load())[("giam_dinh_y_khoa", "82", 2025)] == 40
    finally:
        services.close()
    assert stored == {("giam_dinh_y_khoa", 2025): "40"}  # nothing of the refused file
