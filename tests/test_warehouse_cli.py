"""``khoyte warehouse rebuild|refresh|stats|facilities import`` and the services' source."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from khoyte.cli import app
from khoyte.config import Settings
from khoyte.registry.adminunits import communes
from khoyte.services import build_services
from khoyte.warehouse.service import Warehouse
from tests.synth_helpers import generate

runner = CliRunner()


def test_rebuild_refresh_stats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synth = tmp_path / "synth"
    m = generate(synth, seed=2, population=500, start=date(2025, 1, 1), end=date(2025, 1, 10))
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path / "data"))
    r = runner.invoke(app, ["warehouse", "rebuild", "--from", str(synth)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["loaded"] == m["totals"]["visits"]  # type: ignore[index]
    r = runner.invoke(app, ["warehouse", "refresh", "--from", str(synth)])
    assert json.loads(r.output)["versions"] == 0
    r = runner.invoke(app, ["warehouse", "stats"])
    stats = json.loads(r.output)
    assert stats["fact_episode"] == m["totals"]["visits"]  # type: ignore[index]
    assert stats["dim_facility"] == m["province"]["facilities"]  # type: ignore[index]
    assert (
        runner.invoke(app, ["warehouse", "refresh", "--from", str(tmp_path / "no")]).exit_code == 2
    )
    # without --from, the gateway's operational store is the source (empty here: nothing new)
    r = runner.invoke(app, ["warehouse", "refresh"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["versions"] == 0
    # the source folder from the settings, as the demo and the app use it
    monkeypatch.setenv("KHOYTE_WAREHOUSE_SOURCE", str(synth))
    assert runner.invoke(app, ["warehouse", "refresh"]).exit_code == 0
    services = build_services(Settings())  # the app's wiring hands the folder to the warehouse
    assert services.warehouse is not None
    assert services.warehouse.refresh().versions == 0  # already loaded above
    services.close()


def test_facility_import_csv_and_xlsx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path / "data"))
    csv_file = tmp_path / "f.csv"
    csv_file.write_text(
        "\ufeffma_cskcb,ten,tuyen,loai,ma_xa,ten_xa,ma_tinh,giuong\n"
        "82001,Bệnh viện Đa khoa tỉnh,tinh,hospital,28477,Phường Nhị Quý,82,850\n"
        ",thiếu mã,,,,,,\n",
        encoding="utf-8",
    )
    r = runner.invoke(app, ["warehouse", "facilities", "import", str(csv_file)])
    assert r.exit_code == 0, r.output
    assert "1 cơ sở" in r.output
    wb = Workbook()
    ws = wb.active
    ws.append(["MA_CSKCB", "TEN", "TUYEN", "MA_XA"])
    ws.append([82002, "Trạm Y tế xã A", "xa", "28249"])
    ws.append(["82001", "Bệnh viện Đa khoa tỉnh Đồng Tháp", "tinh", "28477", "Phường Nhị Quý"])
    wb.save(tmp_path / "f.xlsx")
    r = runner.invoke(app, ["warehouse", "facilities", "import", str(tmp_path / "f.xlsx")])
    assert r.exit_code == 0, r.output
    wh = Warehouse(Settings())
    try:
        rows = wh.engine.query("SELECT ma_cskcb, ten, tuyen FROM dim_facility ORDER BY 1")
        commune = wh.engine.query("SELECT ten_xa FROM dim_facility WHERE ma_cskcb = '82002'")
    finally:
        wh.close()
    assert rows == [
        ("82001", "Bệnh viện Đa khoa tỉnh Đồng Tháp", "tinh"),
        ("82002", "Trạm Y tế xã A", "xa"),
    ]
    # no commune name in the file: the 2025 name from the national list
    assert commune[0][0] == communes()["28249"][0]
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a workbook")
    assert runner.invoke(app, ["warehouse", "facilities", "import", str(bad)]).exit_code == 2
    assert runner.invoke(app, ["warehouse", "facilities", "import", "nope.csv"]).exit_code == 2
