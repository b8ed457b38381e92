"""The facility registry: one importer (CSV/XLSX) with errors that name the cell, the CLI, the
old → new commune map, the migration that moved the gateway's facilities, and the feed that
keeps the warehouse's ``dim_facility`` equal to the registry (its own watermark)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from openpyxl import Workbook
from sqlalchemy import inspect, select, text
from typer.testing import CliRunner

from khoyte.cli import app
from khoyte.config import Settings
from khoyte.gateway.facilities import hash_token, lookup_token
from khoyte.gateway.versions import StoreVersionSource
from khoyte.registry import facilities as reg
from khoyte.registry.adminunits import communes
from khoyte.security.models import AuditEntry
from khoyte.services import build_services
from khoyte.store.db import alembic_config, make_engine, migrate, session_factory, session_scope
from khoyte.warehouse.service import Warehouse
from tests.gateway_helpers import fresh_pg_database

runner = CliRunner()
GOOD = (
    "\ufeffma_cskcb,ten,tuyen,loai,ma_xa,ten_xa,ma_tinh,giuong,nhan_luc\n"
    "82001,Bệnh viện Đa khoa tỉnh,tinh,hospital,28477,Phường Nhị Quý,82,850,1147\n"
    "82002,Trạm Y tế xã A,xa,station,28249,,82,4,6\n"
)


@pytest.fixture(name="data")
def data_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KHOYTE_DATABASE_URL", raising=False)
    return tmp_path


def _ok(args: list[str]) -> str:
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    return r.output


def _dim(settings: Settings) -> list[tuple[object, ...]]:
    services = build_services(settings)  # the warehouse with its source, as the app wires it
    wh = services.warehouse
    assert wh is not None
    try:
        wh.refresh()
        return [
            tuple(r)
            for r in wh.engine.query(
                "SELECT ma_cskcb, ten, tuyen, ma_xa, ten_xa, giuong, nhan_luc, active "
                "FROM dim_facility ORDER BY 1"
            )
        ]
    finally:
        services.close()


def test_import_csv_then_xlsx_reaches_the_warehouse_on_refresh(data: Path) -> None:
    (data / "f.csv").write_text(GOOD, encoding="utf-8")
    out = _ok(["facility", "import", str(data / "f.csv")])
    assert "2 mới" in out
    assert "2 new" in out
    nhi_quy, xa_a = communes()["28477"][0], communes()["28249"][0]
    assert _dim(Settings()) == [
        ("82001", "Bệnh viện Đa khoa tỉnh", "tinh", "28477", nhi_quy, 850, 1147, True),
        ("82002", "Trạm Y tế xã A", "xa", "28249", xa_a, 4, 6, True),
    ]
    # An XLSX with upper-case headers and numbers where Excel keeps them: 82002 is renamed and
    # closed, 82001 is unchanged (a column the file lacks is left as it is).
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["MA_CSKCB", "TEN", "TUYEN", "MA_XA", "HOAT_DONG"])
    ws.append([82002, "Trạm Y tế phường B", "xa", 28249, 0])
    ws.append(["82001", "Bệnh viện Đa khoa tỉnh", "tinh", "28477", 1])
    ws.append([1001, "Trạm Y tế Hà Nội", "xa", 4, 1])  # Excel's numbers for 01001 and 00004
    wb.save(data / "f.xlsx")
    out = _ok(["facility", "import", str(data / "f.xlsx")])
    assert "1 thay đổi" in out
    assert "1 không đổi" in out
    assert "1 mới" in out
    ha_noi = json.loads(_ok(["facility", "show", "01001"]))
    assert (ha_noi["commune"], ha_noi["province"]) == ("00004", "01")
    rows = _dim(Settings())
    assert rows[2] == ("82002", "Trạm Y tế phường B", "xa", "28249", xa_a, 4, 6, False)
    assert rows[1][1:3] == ("Bệnh viện Đa khoa tỉnh", "tinh")
    shown = json.loads(_ok(["facility", "show", "82002"]))
    assert shown["name"] == "Trạm Y tế phường B"
    engine = make_engine(Settings())
    with session_scope(session_factory(engine)) as s:
        trail = [
            (e.action, e.target, json.loads(e.details)["codes"])
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "facility.import"))
        ]
    engine.dispose()
    assert trail == [
        ("facility.import", "file:f.csv", ["82001", "82002"]),
        ("facility.import", "file:f.xlsx", ["82002", "01001"]),
    ]
    assert shown["active"] is False


def test_a_bad_file_is_refused_whole_with_each_cell_named(data: Path) -> None:
    (data / "bad.csv").write_text(
        "ma_cskcb,ten,tuyen,ma_xa,giuong\n"
        "82001,Bệnh viện A,tinh,28477,850\n"
        ",Không mã,xa,28477,1\n"
        "82003,Trạm C,huyen,28477,1\n"
        "82004,Trạm D,xa,99999,1\n"
        "82005,Trạm E,xa,28477,nhiều\n"
        "82001,Trùng mã,xa,28477,1\n",
        encoding="utf-8",
    )
    r = runner.invoke(app, ["facility", "import", str(data / "bad.csv")])
    assert r.exit_code == 2
    lines = r.output.splitlines()
    assert "5 lỗi" in lines[0]
    assert "nothing imported" in lines[0]
    for row, column, value, vi, en in (
        (3, "ma_cskcb", "", "thiếu mã cơ sở", "code (MA_CSKCB) is missing"),
        (4, "tuyen", "'huyen'", "tuyến phải là", "tier must be one of"),
        (5, "ma_xa", "'99999'", "không phải mã xã/phường năm 2025", "not a 2025 commune code"),
        (6, "giuong", "'nhiều'", "số nguyên", "whole number"),
        (7, "ma_cskcb", "'82001'", "trùng với dòng 2", "same code as row 2"),
    ):
        line = next(x for x in lines if f"bad.csv, dòng/row {row}, cột/column {column}" in x)
        assert value in line
        assert vi in line
        assert en in line
    # nothing was written: not even the good first row
    assert runner.invoke(app, ["facility", "show", "82001"]).exit_code == 2
    bad = data / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    r = runner.invoke(app, ["facility", "import", str(bad)])
    assert r.exit_code == 2
    assert "bad.xlsx" in r.output
    assert "XLSX" in r.output
    assert runner.invoke(app, ["facility", "import", str(data / "nope.csv")]).exit_code == 2


def test_facility_add_goes_through_the_same_checks(data: Path) -> None:
    _ok(["facility", "add", "82010", "--name", "Phòng khám X", "--tier", "tu_nhan",
         "--commune", "28477", "--beds", "3"])  # fmt: skip
    shown = json.loads(_ok(["facility", "show", "82010"]))
    assert (shown["tier"], shown["commune"], shown["province"], shown["beds"]) == (
        "tu_nhan", "28477", "82", 3,
    )  # fmt: skip
    # the options given change, the others stay
    _ok(["facility", "add", "82010", "--name", "Phòng khám Y"])
    shown = json.loads(_ok(["facility", "show", "82010"]))
    assert (shown["name"], shown["tier"], shown["commune"]) == ("Phòng khám Y", "tu_nhan", "28477")
    r = runner.invoke(app, ["facility", "add", "82011", "--name", "Z", "--commune", "12345"])
    assert r.exit_code == 2
    assert "ma_xa" in r.output
    assert "12345" in r.output


def test_old_commune_codes_map_to_the_2025_communes(data: Path) -> None:
    (data / "map.csv").write_text(
        "ma_cu,cap_cu,ma_xa_moi,hieu_luc_tu,nguon\n"
        "28480,xa,28477,2025-07-01,Nghị quyết sắp xếp ĐVHC (thử)\n"
        "815,huyen,28477,,Nghị quyết sắp xếp ĐVHC (thử)\n",
        encoding="utf-8",
    )
    assert "2 dòng" in _ok(["place", "import-map", str(data / "map.csv")])
    (data / "f.csv").write_text("ma_cskcb,ten,ma_xa\n82020,Trạm cũ,28480\n", encoding="utf-8")
    _ok(["facility", "import", str(data / "f.csv")])
    shown = json.loads(_ok(["facility", "show", "82020"]))
    assert (shown["commune"], shown["province"]) == ("28477", "82")
    (data / "badmap.csv").write_text(
        "ma_cu,cap_cu,ma_xa_moi,nguon\n28480,tinh,99999,\n", encoding="utf-8"
    )
    r = runner.invoke(app, ["place", "import-map", str(data / "badmap.csv")])
    assert r.exit_code == 2
    assert all(c in r.output for c in ("cap_cu", "ma_xa_moi", "nguon"))


@pytest.fixture(name="store_url", params=["sqlite", "postgresql"])
def store_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.sqlite3'}"
        return
    request.getfixturevalue("pg_url")
    yield from fresh_pg_database()


def test_migration_moves_gateway_facilities_and_credentials_keep_working(
    store_url: str,
) -> None:
    """A store made before the registry (gw_facility) is upgraded: the rows move to
    rg_facility with their province, and an existing credential still authenticates."""
    engine = make_engine(url=store_url)
    try:
        command.upgrade(alembic_config(engine), "gw0001")
        now = datetime(2026, 11, 1, tzinfo=UTC)
        token = "khy_" + "a" * 43
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO gw_facility VALUES ('82001', 'Bệnh viện A', 'tinh', '28477', "
                     ":t, :now)"),
                {"t": True, "now": now},
            )  # fmt: skip
            conn.execute(
                text("INSERT INTO gw_credential (id, facility, token_hash, prefix, created_at) "
                     "VALUES ('c1', '82001', :h, 'khy_aaaaaa', :now)"),
                {"h": hash_token(token), "now": now},
            )  # fmt: skip
        migrate(engine)
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            rows = conn.execute(
                text("SELECT code, name, tier, commune, province, active, revision "
                     "FROM rg_facility")
            ).all()  # fmt: skip
            places = conn.execute(text("SELECT COUNT(*) FROM rg_place")).scalar_one()
        assert "gw_facility" not in tables
        assert [tuple(r) for r in rows] == [
            ("82001", "Bệnh viện A", "tinh", "28477", "82", True, 1)
        ]
        assert places == len(communes()) + 34
        with session_scope(session_factory(engine)) as s:
            owner = lookup_token(s, token)
            assert owner is not None
            assert (owner.facility, owner.commune) == ("82001", "28477")
            reg.set_active(s, "82001", False)
        with session_scope(session_factory(engine)) as s:
            assert lookup_token(s, token) is None  # a deactivated facility cannot submit
    finally:
        engine.dispose()


def test_the_warehouse_feed_has_its_own_watermark(data: Path, store_url: str) -> None:
    """Only what changed after the warehouse's registry watermark is handed over; the
    watermark moves in the same transaction as dim_facility."""
    settings = Settings(database_url=store_url)
    engine = make_engine(settings)
    migrate(engine)
    sessions = session_factory(engine)
    (data / "f.csv").write_text(GOOD, encoding="utf-8")
    with session_scope(sessions) as s:
        first = reg.import_file(s, data / "f.csv")
    source = StoreVersionSource(engine)
    assert [f.code for f in source.facilities_since(0)] == ["82001", "82002"]
    assert source.facilities_since(first.revision or 0) == []
    wh = Warehouse(settings)
    try:
        report = wh.refresh(source)
        assert (report.facilities, report.registry_watermark) == (2, first.revision)
        assert wh.refresh(source).facilities == 0  # nothing new: nothing re-applied
        with session_scope(sessions) as s:
            reg.set_active(s, "82002", False)
        report = wh.refresh(source)
        assert report.facilities == 1
        assert wh.engine.query("SELECT active FROM dim_facility WHERE ma_cskcb = '82002'") == [
            (False,)
        ]
    finally:
        wh.close()
        engine.dispose()
