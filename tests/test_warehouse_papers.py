"""The paper tables (XML6, XML7, XML9, XML12, XML13, XML15): every loaded field typed as the
standard says, no free text or identifier in any row, ages instead of dates of birth; and in a
synthetic province, one row per paper sent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from khoyte.handoff import RecordVersion
from khoyte.standards.fields import Kind
from khoyte.standards.model import BirthDate, Record, Standard, make_row
from khoyte.synth.generate import SynthConfig, run
from khoyte.warehouse import papers
from khoyte.warehouse.engine import DuckDBEngine
from khoyte.warehouse.loader import Loader
from khoyte.warehouse.sources import FileVersionSource
from khoyte.warehouse.transform import Batch, add_record

KEY = b"q" * 32
NAME, CCCD, CARD, ADDRESS = "Nguyễn Thị Bé", "082190001234", "GD4828212345678", "Ấp Mỹ Lợi"
SECRETS = (NAME, CCCD, CARD, ADDRESS, "0912345678", "Bác sĩ Trần Văn Hai")


def _record() -> Record:
    at = datetime(2025, 3, 2, 8, 30)
    common = {"MA_LK": "LK1", "HO_TEN": NAME, "SO_CCCD": CCCD, "DIA_CHI": ADDRESS,
              "MA_THE_BHYT": [CARD], "MAXA_CU_TRU": "28846"}  # fmt: skip
    tables = {
        "XML1": [make_row("XML1", {**common, "NGAY_VAO": at, "NGAY_RA": at, "MA_LOAI_KCB": "03",
                                   "NGAY_SINH": BirthDate(1990, 1, 5), "GIOI_TINH": "2"})],
        "XML6": [make_row("XML6", {**common, "NGAY_SINH": BirthDate(1990, 1, 5),
                                   "NGAYKD_HIV": date(2020, 5, 1), "SO_NGAY_CAP_THUOC_ARV": 30,
                                   "MA_PHAC_DO_DIEU_TRI": "1a", "NOI_XN_KD": "Phòng khám Ánh"})],
        "XML7": [make_row("XML7", {"MA_LK": "LK1", "MA_YTE": "8200123", "NGAY_RA": at,
                                   "TEN_BS": SECRETS[5], "HO_TEN_CHA": "Lê Văn Ba",
                                   "CHAN_DOAN_RV": f"Sinh thường, {NAME}", "SO_NGAY_NGHI": 5})],
        "XML9": [make_row("XML9", {"MA_LK": "LK1", "HO_TEN_NND": NAME, "SO_CCCD_NND": CCCD,
                                   "NGAYSINH_NND": date(1990, 1, 5), "MA_THE_NND": CARD,
                                   "CAN_NANG_CON": Decimal("3150"), "SO_CON": 1,
                                   "NGAY_SINH_CON": datetime(2025, 3, 2, 10, 0),
                                   "GIOI_TINH_CON": "1"})],
        "XML12": [make_row("XML12", {**common, "NGAY_SINH": date(1960, 6, 1),
                                     "NGAY_HOP": date(2025, 3, 1), "DIEN_THOAI": SECRETS[4],
                                     "TONG_TYLE_TTCT": 61, "MA_DOI_TUONG": "3"})],
        "XML13": [make_row("XML13", {**common, "MA_NOI_DI": "82001", "MA_NOI_DEN": "82003",
                                     "NGAY_SINH": BirthDate(1990, 1, 5), "MA_BENH_CHINH": "J189",
                                     "MA_BENH_KT": ["I10", "E119"], "NGAY_RA": at,
                                     "MA_BAC_SI": ["8200100012"]})],
        "XML15": [make_row("XML15", {**common, "STT": 1, "MA_BN": "BN77",
                                     "NGAYBD_DTRI_LAO": date(2025, 1, 2), "BDDT_ARV": "1"})],
    }  # fmt: skip
    return Record("LK1", Standard.QD130, tables)


def _batch() -> Batch:
    rv = RecordVersion(1, "82001", "LK1", 1, "s1", datetime(2025, 3, 3, tzinfo=UTC), "accepted",
                       _record())  # fmt: skip
    batch = Batch()
    add_record(batch, rv, KEY)
    return batch


def test_every_paper_is_typed_and_keeps_no_identifier() -> None:
    batch = _batch()
    got = {n: dict(zip(papers.column_names(n), batch.papers[n].rows[0], strict=True))
           for n in papers.PAPER_TABLES}  # fmt: skip
    assert got["fact_hiv"]["ngaykd_hiv"] == date(2020, 5, 1)
    assert got["fact_hiv"]["so_ngay_cap_thuoc_arv"] == 30
    assert got["fact_hiv"]["ma_phac_do_dieu_tri"] == "1a"  # a code kept by name
    assert got["fact_discharge"]["ngay_ra"] == datetime(2025, 3, 2, 8, 30)
    assert got["fact_discharge"]["so_ngay_nghi"] == 5
    assert got["fact_birth"]["can_nang_con"] == 3150.0
    assert got["fact_birth"]["tuoi_me"] == 35  # 1990-01-05 → 2025-03-02
    assert got["fact_assessment"]["tuoi"] == 64
    assert got["fact_assessment"]["tong_tyle_ttct"] == 61
    ref = got["fact_referral"]
    assert (ref["ma_noi_di"], ref["ma_noi_den"]) == ("82001", "82003")
    assert ref["ma_benh_chinh"] == "J18.9"
    assert ref["ma_benh_kt"] == "I10;E11.9"
    assert got["fact_tb"]["stt"] == 1
    assert got["fact_tb"]["bddt_arv"] == "1"
    for name, row in got.items():
        assert (row["facility"], row["ma_lk"], row["version_id"], row["line"]) == (
            "82001",
            "LK1",
            1,
            1,
        )
        text = repr(row)
        for secret in (*SECRETS, "8200123", "BN77", "Lê Văn Ba", "1990", "1960", "8200100012"):
            assert secret not in text, (name, secret)
    # the columns follow the standard's kinds
    for name in papers.PAPER_TABLES:
        for c in papers.COLUMNS[name]:
            assert c.kind not in (Kind.BIRTH, Kind.DATE_LIST)
            assert (
                c.kind is not Kind.TEXT or c.field in papers.TEXT_CODES[papers.PAPER_TABLES[name]]
            )


@pytest.mark.slow
def test_one_row_per_paper_of_a_province(tmp_path: Path) -> None:
    root = tmp_path / "synth"
    run(SynthConfig(seed=5, population=2000, start=date(2025, 1, 1), end=date(2025, 1, 31),
                    aggregates=False), root)  # fmt: skip
    source = FileVersionSource(root)
    sent = dict.fromkeys(papers.PAPER_TABLES.values(), 0)
    for v in source.iter_versions():
        for xml in sent:
            sent[xml] += len(v.record.tables.get(xml, []))
    loader = Loader(DuckDBEngine(tmp_path / "wh.duckdb"), KEY)
    loader.refresh(source)
    for name, xml in papers.PAPER_TABLES.items():
        n = int(loader.engine.query(f"SELECT COUNT(*) FROM {name}")[0][0])
        assert n == sent[xml], name
    assert sent["XML7"] > 0
    assert sent["XML13"] > 0
    loader.engine.close()
