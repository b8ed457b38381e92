"""Imports of aggregate files (the synth's CSV and XLSX layouts): values equal the files, a
damaged workbook is refused whole with a receipt naming every bad cell, the same upload twice
changes nothing; DHIS2 dataValueSets JSON/CSV/ADX export → import round trips exactly, and the
DHIS2 documentation's example payloads parse."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from khoyte.aggregate import dhis2, periods
from khoyte.aggregate.metadata import load
from khoyte.aggregate.models import AggUpload, AggValue
from khoyte.store.db import session_scope
from tests.aggregate_helpers import Quarter, busiest_commune, client_for, make_quarter

FIXTURES = Path(__file__).parent / "fixtures" / "dhis2"


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> Quarter:
    return make_quarter(tmp_path_factory.mktemp("synth"), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def client(quarter: Quarter) -> Iterator[TestClient]:
    with client_for(quarter.settings) as c:
        yield c


def upload(client: TestClient, data: bytes, name: str, who: str = "province") -> dict[str, Any]:
    r = client.post("/api/v1/aggregate/uploads", content=data,
                    headers={"x-test-scope": who, "x-filename": name})  # fmt: skip
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def stored(client: TestClient) -> dict[tuple[str, str, str, str], str]:
    sessions = client.app.state.services.sessions  # type: ignore[attr-defined]
    with session_scope(sessions) as s:
        return {
            (v.data_element, v.coc, v.period, v.orgunit): v.value
            for v in s.scalars(select(AggValue))
        }


def from_csv(path: Path) -> dict[tuple[str, str, str, str], str]:
    """The file's values, read with nothing but csv (canonical numbers: no trailing zeros)."""
    out = {}
    with path.open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            value = r["gia_tri"].removesuffix(".0")
            out[(r["chi_tieu"], r["nhom"], r["thang"].replace("-", ""), r["ma_don_vi"])] = value
    return out


def test_csv_and_xlsx_import_equal_the_files_and_twice_changes_nothing(
    client: TestClient, quarter: Quarter
) -> None:
    agg = quarter.root / "aggregates"
    first = upload(client, (agg / "2025-01.csv").read_bytes(), "2025-01.csv")
    assert first["status"] == "loaded"
    assert not first["problems"]
    assert first["importCount"]["imported"] == first["values"] > 1000
    want = from_csv(agg / "2025-01.csv")
    assert stored(client) == want
    # the workbook of the same month holds the same numbers: nothing new
    again = upload(client, (agg / "2025-01.xlsx").read_bytes(), "2025-01.xlsx")
    assert again["status"] == "unchanged", again["problems"][:3]
    assert again["importCount"] == {"imported": 0, "updated": 0, "ignored": len(want), "deleted": 0}
    feb = upload(client, (agg / "2025-02.xlsx").read_bytes(), "2025-02.xlsx")
    assert feb["status"] == "loaded"
    want |= from_csv(agg / "2025-02.csv")
    before = stored(client)
    assert before == want
    twice = upload(client, (agg / "2025-02.xlsx").read_bytes(), "2025-02.xlsx")
    assert twice["status"] == "unchanged"
    assert stored(client) == before


def test_damaged_workbook_names_every_bad_cell_and_stores_nothing(
    client: TestClient, quarter: Quarter
) -> None:
    wb = load_workbook(quarter.root / "aggregates" / "2025-03.xlsx")
    ws = wb["sinh"]
    ws["C3"] = "mười"  # a word for a number
    ws["D4"] = -2  # negative
    ws["A5"] = "99999"  # no such commune
    wb["khhgd"]["C2"] = "nguoi_su_dung|vong_tranh_thai"  # no such option
    wb["giuong"]["C4"] = 12.5  # planned beds must be whole
    buf = io.BytesIO()
    wb.save(buf)
    before = stored(client)
    receipt = upload(client, buf.getvalue(), "2025-03-bad.xlsx")
    assert receipt["status"] == "rejected"
    got = {(p["sheet"], p["row"], p["column"], p["code"]) for p in receipt["problems"]}
    assert got == {
        ("sinh", 3, "C", "not_a_number"),
        ("sinh", 4, "D", "negative"),
        ("sinh", 5, "A", "unknown_orgunit"),
        ("khhgd", 2, "C", "unknown_coc"),
        ("giuong", 4, "C", "not_an_integer"),
    }
    assert {p["value"] for p in receipt["problems"]} >= {"mười", "-2", "99999", "12.5"}
    assert all(p["message_vi"] and p["message_en"] for p in receipt["problems"])
    assert receipt["importCount"]["imported"] == 0
    assert stored(client) == before
    sessions = client.app.state.services.sessions  # type: ignore[attr-defined]
    with session_scope(sessions) as s:
        assert s.scalar(select(func.count()).where(AggUpload.status == "rejected")) >= 1


def test_commune_user_cannot_write_other_communes(client: TestClient, quarter: Quarter) -> None:
    commune = busiest_commune(quarter)
    before = stored(client)
    receipt = upload(client, (quarter.root / "aggregates" / "2025-03.csv").read_bytes(),
                     "2025-03.csv", who=f"commune:{commune}")  # fmt: skip
    assert receipt["status"] == "rejected"
    assert {p["code"] for p in receipt["problems"]} == {"out_of_scope"}
    assert commune not in {p["value"] for p in receipt["problems"]}
    assert stored(client) == before
    viewer = client.post(
        "/api/v1/aggregate/uploads", content=b"x", headers={"x-test-scope": "viewer"}
    )
    assert viewer.status_code == 403


@pytest.mark.parametrize("accept", ["application/json", "text/csv", "application/adx+xml"])
def test_data_value_sets_round_trip_exactly(
    client: TestClient, quarter: Quarter, accept: str
) -> None:
    upload(client, (quarter.root / "aggregates" / "2025-01.csv").read_bytes(), "2025-01.csv")
    h = {"x-test-scope": "province", "accept": accept}
    for ds in ("dan_so", "sinh", "khhgd", "attp", "nhan_luc", "giuong", "tu_vong_cong_dong"):
        out = client.get(
            "/api/v1/dataValueSets", params={"dataSet": ds, "period": "202501"}, headers=h
        )
        assert out.status_code == 200, out.text
        _fmt, cells, problems = dhis2.read(out.content, accept, load())
        assert not problems
        assert cells
        mine = {
            k: v
            for k, v in stored(client).items()
            if k[2] == "202501" and load().elements[k[0]].dataset == ds
        }
        assert {(c.data_element, c.coc, c.period, c.orgunit): c.value for c in cells} == mine
        # posted back: DHIS2's import summary, nothing changes
        back = client.post("/api/v1/dataValueSets", content=out.content,
                           headers={"x-test-scope": "province", "content-type": accept})  # fmt: skip
        summary = back.json()
        assert summary["status"] == "SUCCESS", summary["conflicts"][:3]
        assert summary["importCount"] == {
            "imported": 0,
            "updated": 0,
            "ignored": len(mine),
            "deleted": 0,
        }


def test_json_uses_the_uid_map_and_posting_a_change_updates(
    client: TestClient, quarter: Quarter
) -> None:
    upload(client, (quarter.root / "aggregates" / "2025-01.csv").read_bytes(), "2025-01.csv")
    h = {"x-test-scope": "province"}
    body = client.get(
        "/api/v1/dataValueSets", params={"dataSet": "attp", "period": "2025Q1"}, headers=h
    ).json()
    md = load()
    assert body["dataSet"] == md.dhis2[("dataSet", "attp")]
    dv = body["dataValues"][0]
    assert dv["dataElement"] in {md.dhis2[("dataElement", e)] for e in md.datasets["attp"].elements}
    assert dv["categoryOptionCombo"] == md.dhis2[("categoryOptionCombo", "default")]
    dv["value"] = str(int(dv["value"]) + 5)
    r = client.post("/api/v1/dataValueSets", content=json.dumps({"dataValues": [dv]}),
                    headers={**h, "content-type": "application/json"})  # fmt: skip
    assert r.json()["importCount"]["updated"] == 1
    bad = {"dataValues": [{**dv, "dataElement": "f7n9E0hX8qk", "value": "x"}]}
    r = client.post("/api/v1/dataValueSets", content=json.dumps(bad),
                    headers={**h, "content-type": "application/json"})  # fmt: skip
    assert r.json()["status"] == "ERROR"
    assert {c["errorCode"] for c in r.json()["conflicts"]} == {"unknown_element"}


def test_dhis2_documentation_examples_parse() -> None:
    md = load()
    _, cells, problems = dhis2.read(
        (FIXTURES / "datavalueset.json").read_bytes(), "application/json", md
    )
    assert not problems
    assert [(c.data_element, c.period, c.orgunit, c.value) for c in cells] == [
        ("f7n9E0hX8qk", "201401", "DiszpKrYNg8", "1"),
        ("Ix2HsbDMLea", "201401", "DiszpKrYNg8", "2"),
        ("eY5ehpbEsB7", "201401", "DiszpKrYNg8", "3"),
    ]
    _, cells, problems = dhis2.read(
        (FIXTURES / "datavalueset.csv").read_bytes(), "application/csv", md
    )
    assert not problems
    assert [(c.data_element, c.period, c.orgunit, c.coc, c.value) for c in cells] == [
        ("DUSpd8Jq3M7", "201202", "gP6hn503KUX", "Prlt0C1RF0s", "7"),
        ("DUSpd8Jq3M7", "201202", "gP6hn503KUX", "V6L425pT3A0", "10"),
        ("DUSpd8Jq3M7", "201202", "OjTS752GbZE", "V6L425pT3A0", "9"),
    ]
    _, cells, problems = dhis2.read((FIXTURES / "adx.xml").read_bytes(), "application/adx+xml", md)
    assert not problems
    assert len(cells) == 6
    first = cells[0]
    assert (first.data_element, first.orgunit, first.value) == ("VCCT_0", "OU_559", "32")
    assert first.coc == "GENDER=FMLE|HIV_AGE=AGE0-14"
    assert periods.parse(first.period).iso == "201506"
