"""The claims rows of b4–b8, b10, b12 against the synth's ground truth (``truth/conditions.csv``:
visits and deaths by month × facility × visit type × age band × main code; ``truth/papers.csv``:
the papers generated — XML6, XML7, XML9, XML13, XML15 — and their fields' values), for the
province and a commune-scoped user; the collected rows against the synth's aggregate files; the
values the synth's quarter rarely or never holds (several XML6 rows in a record, an HIV diagnosis
in the period, a cured TB patient with HIV, a termination in XML7) from a record made here; the
workbook."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from khoyte.access import Scope
from khoyte.aggregate import form_claims, periods
from khoyte.aggregate.forms import Target, cells
from khoyte.aggregate.metadata import FormMeasure, load
from khoyte.demo import _import_aggregates
from khoyte.handoff import RecordVersion
from khoyte.services import build_services
from khoyte.standards.model import BirthDate, Record, Standard, make_row
from khoyte.surveillance.signals import load_signals
from khoyte.warehouse import papers
from khoyte.warehouse.engine import DuckDBEngine
from khoyte.warehouse.loader import Loader
from tests.aggregate_helpers import INPATIENT, Quarter, busiest_commune, client_for, make_quarter

FORMS = ("b4", "b5", "b6", "b7", "b8", "b10", "b12")
MONTHS = {"2025-01", "2025-02", "2025-03"}


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> Quarter:
    q = make_quarter(tmp_path_factory.mktemp("fc"), tmp_path_factory.mktemp("fc-data"))
    services = build_services(q.settings, warehouse=False)
    try:
        _import_aggregates(services, q.root / "aggregates", lambda _m: None)
    finally:
        services.close()
    return q


@pytest.fixture(scope="module")
def client(quarter: Quarter) -> Iterator[TestClient]:
    with client_for(quarter.settings) as c:
        yield c


def _csv(q: Quarter, name: str) -> list[dict[str, str]]:
    with (q.root / "truth" / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _episode_ok(r: dict[str, str], column: str, op: str, value: Any) -> bool:
    """One condition on a row of truth/conditions.csv (deaths are its own measure)."""
    name = column.removeprefix("e.")
    if name == "inpatient":
        return (r["ma_loai_kcb"] in INPATIENT) == bool(value)
    if name == "ma_benh_chinh" and op == "icd":
        code = r["ma_benh_chinh"][:3]
        return any(lo <= code <= hi for lo, hi in form_claims._ranges(value))
    have = r[name]
    return have in value if op == "in" else have == value


def _expected_episodes(m: FormMeasure, rows: list[dict[str, str]]) -> int:
    death = any(c == "e.death" for c, _, _ in m.where)
    others = [w for w in m.where if w[0] != "e.death"]
    return sum(
        int(r["deaths" if death else "visits"])
        for r in rows
        if all(_episode_ok(r, *w) for w in others)
    )


def _paper_ok(value: str, op: str, want: Any) -> bool:
    if op == "=":
        return value == str(want)
    if op == ">=":
        return int(value) >= int(want)
    if op == "<":  # the truth tells weights as under 2,500 g or not
        return value == f"<{want}"
    if op == "in":
        return value in [str(w) for w in want]
    if op == "period":  # the truth tells dates by their month; the forms here are of MONTHS
        return value in MONTHS
    raise AssertionError(op)


def _expected_paper(m: FormMeasure, rows: list[dict[str, str]]) -> int:
    table = papers.PAPER_TABLES[m.table]
    mine = [r for r in rows if r["table"] == table]
    if m.count.startswith("sum:"):
        field = m.count.removeprefix("sum:").upper()
        return sum(int(r["value"]) * int(r["papers"]) for r in mine if r["field"] == field)
    if not m.where:
        return sum(int(r["papers"]) for r in mine if r["field"] == "*")
    counted = {r["field"] for r in mine}
    each = [
        sum(int(r["papers"]) for r in mine
            if r["field"] == column.upper() and _paper_ok(r["value"], op, want))
        for column, op, want in m.where
        if column.upper() in counted
    ]  # fmt: skip
    # the truth counts one field at a time: several conditions are exact only when one is never
    # met (a table the synth does not write has no field counted: 0)
    assert len(m.where) == 1 or not each or min(each) == 0, m.code
    return min(each) if each else 0


def _aggregates(q: Quarter) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for m in sorted(MONTHS):
        with (q.root / "aggregates" / f"{m}.csv").open(encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def expected(q: Quarter, commune: str | None) -> dict[tuple[str, str], float | None]:
    """Every cell of the seven forms from the truth files and the aggregate files."""
    md = load()
    keep = lambda code: commune is None or q.facilities[code]["ma_xa"] == commune  # noqa: E731
    conditions = [r for r in _csv(q, "conditions.csv")
                  if r["month"] in MONTHS and keep(r["ma_cskcb"])]  # fmt: skip
    paper_rows = [r for r in _csv(q, "papers.csv") if r["month"] in MONTHS and keep(r["ma_cskcb"])]
    files = _aggregates(q)
    out: dict[tuple[str, str], float | None] = {}
    for code in FORMS:
        form = md.forms[code]
        for row in form.rows:
            value: float | None = None
            if "measure" in row:
                m = md.measures[row["measure"]]
                value = (_expected_episodes(m, conditions) if m.table == "fact_episode"
                         else _expected_paper(m, paper_rows))  # fmt: skip
            elif "element" in row:
                got = [float(r["gia_tri"]) for r in files
                       if r["chi_tieu"] == row["element"]
                       and (commune is None or r["ma_don_vi"] == commune)
                       and ("option" not in row or r["nhom"] == row["option"])]  # fmt: skip
                value = sum(got) if got else None
            for col in form.columns:
                out[(f"{code}.{row['code']}", col["code"])] = value
    return out


def served(client: TestClient, who: str, **params: str) -> dict[tuple[str, str], float | None]:
    out: dict[tuple[str, str], float | None] = {}
    for code in FORMS:
        r = client.get(f"/api/v1/forms/{code}", params={"period": "2025Q1", **params},
                       headers={"x-test-scope": who})  # fmt: skip
        assert r.status_code == 200, r.text
        for c in r.json()["cells"]:
            assert c["source"], c
            out[(f"{code}.{c['row']}", c["column"])] = c["value"]
    return out


def test_claims_and_collected_rows_equal_the_truth_for_the_province(
    client: TestClient, quarter: Quarter
) -> None:
    want = expected(quarter, None)
    assert served(client, "province") == want
    # the synth's province gives these rows numbers (the comparison is not of zeros only)
    for key in ("b4.de_co_giay_chung_sinh", "b4.tre_de_song", "b8.tre_trai", "b8.tre_gai",
                "b8.con_thu_3", "b8.kcb_duoi_5", "b12.tang_huyet_ap", "b12.dai_thao_duong",
                "b10.tntt", "b10.tam_than", "b4.tre_sinh_xa", "b7.dat_vong",
                "b10.hiv_dieu_tri", "b10.hiv_icd", "b10.lao_dieu_tri", "b10.lao_icd"):  # fmt: skip
        assert want[(key, "so_luong")], key
    assert want[("b4.kham_thai_3_lan", "so_luong")] is None  # written by the reporting unit


# the b10 rows over XML6 and XML15 as the standard's fields say them, written here rather than
# read from forms.toml: a measure whose condition drifts from this fails (table, field, values;
# field "*" counts the rows; None: any value of the field)
PROGRAMME_ROWS: dict[str, tuple[str, str, set[str] | None]] = {
    "hiv_dieu_tri": ("XML6", "*", None),
    "hiv_moi_phat_hien": ("XML6", "NGAYKD_HIV", MONTHS),  # confirmed within the period
    "lao_dieu_tri": ("XML15", "*", None),
    "lao_khoi": ("XML15", "KET_QUA_DTRI_LAO", {"1", "2"}),  # khỏi, hoàn thành điều trị
    "lao_hiv": ("XML15", "PHANLOAI_LAO_HIV", {"1"}),  # Lao/HIV (+)
}


def test_programme_rows_count_what_the_standard_says(client: TestClient, quarter: Quarter) -> None:
    """b10's XML6/XML15 rows against the papers the synth wrote, by the fields' meaning."""
    papers_ = [r for r in _csv(quarter, "papers.csv") if r["month"] in MONTHS]
    got = {c["row"]: c["value"] for c in served_form(client, "b10")}
    md = load()
    over = {r["code"] for r in md.forms["b10"].rows
            if "measure" in r and md.measures[r["measure"]].table in ("fact_hiv", "fact_tb")}  # fmt: skip
    assert over == set(PROGRAMME_ROWS)
    for row, (table, field, values) in PROGRAMME_ROWS.items():
        want = sum(int(r["papers"]) for r in papers_ if r["table"] == table and r["field"] == field
                   and (values is None or r["value"] in values))  # fmt: skip
        assert got[row] == want, row
    assert got["hiv_dieu_tri"]
    assert got["lao_dieu_tri"]


def served_form(client: TestClient, code: str) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/forms/{code}", params={"period": "2025Q1"},
                   headers={"x-test-scope": "province"})  # fmt: skip
    assert r.status_code == 200, r.text
    cells: list[dict[str, Any]] = r.json()["cells"]
    return cells


def test_a_commune_user_gets_their_commune(client: TestClient, quarter: Quarter) -> None:
    commune = busiest_commune(quarter)
    mine = served(client, f"commune:{commune}", orgunit=commune)
    assert mine == expected(quarter, commune)
    assert mine != served(client, "province")
    assert mine[("b4.tre_sinh_xa", "so_luong")] is not None
    r = client.get("/api/v1/forms/b4", params={"period": "2025", "orgunit": "82"},
                   headers={"x-test-scope": f"commune:{commune}"})  # fmt: skip
    assert r.status_code == 404


def test_workbook_of_a_claims_form(client: TestClient) -> None:
    r = client.get("/api/v1/forms/b8.xlsx", params={"period": "2025Q1"},
                   headers={"x-test-scope": "province"})  # fmt: skip
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["Biểu b8"]
    assert ws["A4"].value == "TÌNH HÌNH SỨC KHỎE TRẺ EM"
    assert ws["C8"].value == "Đơn vị tính"
    body = client.get("/api/v1/forms/b8", params={"period": "2025Q1"},
                      headers={"x-test-scope": "province"}).json()  # fmt: skip
    values = [c["value"] for c in body["cells"]]
    assert [ws.cell(row=12 + i, column=4).value for i in range(len(values))] == values
    sources = [row[3] for row in wb["Nguồn số liệu"].iter_rows(min_row=9, values_only=True)]
    assert "claims XML9: GIOI_TINH_CON = 1" in sources
    assert any(str(x).startswith("đơn vị báo cáo ghi trên biểu") for x in sources)


def _programme_record(ma_lk: str, at: datetime) -> Record:
    """A record with papers the synth's quarter rarely holds: two HIV care rows (XML6, one
    diagnosed in the period), TB treatment (XML15, cured, with HIV), a termination (XML7)."""
    tables = {
        "XML1": [make_row("XML1", {"MA_LK": ma_lk, "NGAY_VAO": at, "NGAY_RA": at,
                                   "MA_LOAI_KCB": "03", "NGAY_SINH": BirthDate(1990, 1, 5),
                                   "GIOI_TINH": "2", "MA_BENH_CHINH": "B20"})],
        "XML6": [make_row("XML6", {"MA_LK": ma_lk, "NGAYKD_HIV": date(2025, 2, 1)}),
                 make_row("XML6", {"MA_LK": ma_lk, "NGAYKD_HIV": date(2019, 2, 1)})],
        "XML7": [make_row("XML7", {"MA_LK": ma_lk, "MA_DINH_CHI_THAI": "1", "TUOI_THAI": 10})],
        "XML15": [make_row("XML15", {"MA_LK": ma_lk, "STT": 1, "KET_QUA_DTRI_LAO": "1",
                                     "PHANLOAI_LAO_HIV": "1"})],
    }  # fmt: skip
    return Record(ma_lk, Standard.QD130, tables)


class _Source:
    registry_key = "test"

    def __init__(self, versions: list[RecordVersion]) -> None:
        self.versions = versions

    def facilities_since(self, revision: int = 0) -> list[Any]:
        return []

    def iter_versions(self, since_id: int = 0) -> Iterator[RecordVersion]:
        yield from (v for v in self.versions if v.version_id > since_id)


def test_rare_papers_from_a_record_made_here(tmp_path: Any) -> None:
    at = datetime(2025, 2, 10, 8, 0)
    versions = [
        RecordVersion(i, fac, f"LK{i}", 1, f"s{i}", datetime(2025, 2, 11, tzinfo=UTC),
                      "accepted", _programme_record(f"LK{i}", at))
        for i, fac in ((1, "82001"), (2, "82002"))
    ]  # fmt: skip
    loader = Loader(DuckDBEngine(tmp_path / "wh.duckdb"), b"k" * 32)
    loader.refresh(_Source(versions))
    eng = loader.engine
    q1 = periods.parse("2025Q1")
    got = {(c["row"], c["column"]): c["value"]
           for c in cells(eng, Scope.whole_province(), "b10", q1, Target())}  # fmt: skip
    assert got[("hiv_dieu_tri", "so_luong")] == 4  # two XML6 rows of two records
    assert got[("hiv_moi_phat_hien", "so_luong")] == 2  # diagnosed in the quarter
    assert got[("hiv_icd", "so_luong")] == 2
    assert got[("lao_dieu_tri", "so_luong")] == 2
    assert got[("lao_khoi", "so_luong")] == 2
    assert got[("lao_hiv", "so_luong")] == 2
    one = Scope(facilities=frozenset({"82001"}))
    mine = {(c["row"], c["column"]): c["value"] for c in cells(eng, one, "b10", q1, Target())}
    assert mine[("hiv_dieu_tri", "so_luong")] == 2
    b7 = {(c["row"], c["column"]): c["value"]
          for c in cells(eng, one, "b7", q1, Target())}  # fmt: skip
    assert b7[("dinh_chi_thai", "so_luong")] == 1
    assert b7[("dinh_chi_thai_12", "so_luong")] == 1
    later = periods.parse("2025Q2")  # admitted in Q1: nothing in Q2
    assert {
        c["value"] for c in cells(eng, one, "b10", later, Target()) if c["row"] == "lao_khoi"
    } == {0}
    sources = {c["row"]: c["source"] for c in cells(eng, one, "b10", q1, Target())}
    assert sources["lao_khoi"].startswith("claims XML15")
    assert sources["hiv_duong_tinh"].startswith("báo cáo tổng hợp")


def _workbook(client: TestClient, code: str, period: str) -> Any:
    r = client.get(f"/api/v1/forms/{code}.xlsx", params={"period": period},
                   headers={"x-test-scope": "province"})  # fmt: skip
    assert r.status_code == 200, r.text
    return load_workbook(io.BytesIO(r.content))


def _upload(client: TestClient, wb: Any, who: str = "province") -> dict[str, Any]:
    buf = io.BytesIO()
    wb.save(buf)
    r = client.post("/api/v1/aggregate/uploads", content=buf.getvalue(),
                    headers={"x-test-scope": who, "x-filename": "b4.xlsx"})  # fmt: skip
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _row(ws: Any, label: str) -> int:
    return next(r for r in range(12, ws.max_row + 1) if ws.cell(row=r, column=2).value == label)


def test_the_forms_own_workbook_round_trip(client: TestClient) -> None:
    """A specialist writes the province's own rows in the generated workbook and uploads it:
    the values are stored and the form (and its next workbook) shows them; the same upload
    twice changes nothing; a damaged workbook is refused whole, naming each bad cell."""
    md = load()
    b4 = md.forms["b4"]
    labels = {r["code"]: r["label_vi"] for r in b4.rows}
    wb = _workbook(client, "b4", "2025")
    ws = wb["Biểu b4"]
    ws.cell(row=_row(ws, labels["kham_thai_3_lan"]), column=4, value=1234)
    ws.cell(row=_row(ws, labels["cham_soc_sau_sinh"]), column=4, value=56)
    claims_row = _row(ws, labels["de_co_giay_chung_sinh"])
    ws.cell(row=claims_row, column=4, value=999999)  # a claims row: computed, not read
    receipt = _upload(client, wb)
    assert receipt["status"] == "loaded", receipt
    assert receipt["importCount"]["imported"] == 2
    assert _upload(client, wb)["status"] == "unchanged"  # the same upload twice
    body = client.get("/api/v1/forms/b4", params={"period": "2025"},
                      headers={"x-test-scope": "province"}).json()  # fmt: skip
    got = {c["row"]: c["value"] for c in body["cells"]}
    assert (got["kham_thai_3_lan"], got["cham_soc_sau_sinh"]) == (1234, 56)
    assert got["de_co_giay_chung_sinh"] != 999999
    again = _workbook(client, "b4", "2025")["Biểu b4"]
    assert again.cell(row=_row(again, labels["kham_thai_3_lan"]), column=4).value == 1234
    # damaged: a word where a number goes, a row moved; nothing is stored
    bad = _workbook(client, "b4", "2025")
    ws = bad["Biểu b4"]
    r1 = _row(ws, labels["kham_thai_3_lan"])
    ws.cell(row=r1, column=4, value="nhiều")
    r2 = _row(ws, labels["cham_soc_sau_sinh"])
    ws.cell(row=r2, column=4, value=7)
    ws.cell(row=r2, column=2, value="Dòng khác")
    receipt = _upload(client, bad)
    assert receipt["status"] == "rejected"
    assert {(p["sheet"], p["row"], p["column"], p["value"], p["code"])
            for p in receipt["problems"]} == {
        ("Biểu b4", r1, "D", "nhiều", "not_a_number"),
        ("Biểu b4", r2, "B", "Dòng khác", "layout"),
    }  # fmt: skip
    body = client.get("/api/v1/forms/b4", params={"period": "2025"},
                      headers={"x-test-scope": "province"}).json()  # fmt: skip
    assert {c["row"]: c["value"] for c in body["cells"]}["kham_thai_3_lan"] == 1234
    # a commune-scoped specialist cannot write the province's form
    wb2 = _workbook(client, "b12", "2025")
    ws = wb2["Biểu b12"]
    row = _row(ws, next(r["label_vi"] for r in md.forms["b12"].rows if r["code"] == "quan_ly_thay"))
    ws.cell(row=row, column=4, value=3)
    refused = _upload(client, wb2, who="commune:00000")
    assert refused["status"] == "rejected"
    assert {p["code"] for p in refused["problems"]} == {"out_of_scope"}


def test_b11_claims_proxy_equals_the_truth_each_month(client: TestClient, quarter: Quarter) -> None:
    """b11: one row per disease of the surveillance module, cases = visits whose main code is
    the disease's, deaths = those of them that died (truth/conditions.csv), month by month, for
    the province and a commune; every cell says it is a claims proxy."""
    md = load()
    b11 = md.forms["b11"]
    signals = {s.code: s for s in load_signals()}
    assert [r["code"] for r in b11.rows] == list(signals)  # the module's list, not a copy
    commune = busiest_commune(quarter)
    rows = _csv(quarter, "conditions.csv")
    seen = 0
    for month in sorted(MONTHS):
        for who, unit in (("province", None), (f"commune:{commune}", commune)):
            r = client.get("/api/v1/forms/b11", params={"period": month.replace("-", ""),
                           **({"orgunit": unit} if unit else {})}, headers={"x-test-scope": who})  # fmt: skip
            assert r.status_code == 200, r.text
            got = {(c["row"], c["column"]): c["value"] for c in r.json()["cells"]}
            assert all(c["source"].startswith("claims ước tính từ hồ sơ KCB / claims proxy")
                       for c in r.json()["cells"])  # fmt: skip
            mine = [x for x in rows if x["month"] == month
                    and (unit is None or quarter.facilities[x["ma_cskcb"]]["ma_xa"] == unit)]  # fmt: skip
            want = {}
            for code, sig in signals.items():
                hit = [x for x in mine if sig.matches(x["ma_benh_chinh"])]
                want[(code, "mac")] = sum(int(x["visits"]) for x in hit)
                want[(code, "tu_vong")] = sum(int(x["deaths"]) for x in hit)
            assert got == want, (month, who)
            seen += sum(want.values())
    assert seen  # the synth's quarter has cases of these diseases


def _b13_expected(q: Quarter) -> dict[tuple[str, str], float | None]:
    md = load()
    b13 = md.forms["b13"]
    files = [r for r in _aggregates(q) if r["bao_cao"] == "tu_vong_cong_dong"]
    out: dict[tuple[str, str], float | None] = {}
    for row in b13.rows:
        for col in b13.columns:
            got = [float(r["gia_tri"]) for r in files if r["chi_tieu"] == row["element"]
                   and set(col.get("match", ())) <= set(r["nhom"].split("|"))]  # fmt: skip
            out[(row["code"], col["code"])] = sum(got) if got else None
    return out


def test_b13_collected_from_the_communes_registers(client: TestClient, quarter: Quarter) -> None:
    """b13: the synth's death registers (aggregates/*.csv, report tu_vong_cong_dong) imported as
    `khoyte demo` does, then read on the form by cause group, sex and age; exported in DHIS2's
    dataValueSets and posted back, nothing changes; the manifest's truth equals the files."""
    want = _b13_expected(quarter)
    r = client.get("/api/v1/forms/b13", params={"period": "2025Q1"},
                   headers={"x-test-scope": "province"})  # fmt: skip
    assert r.status_code == 200, r.text
    got = {(c["row"], c["column"]): c["value"] for c in r.json()["cells"]}
    assert got == want
    assert sum(v or 0 for (_, col), v in want.items() if col == "tong")  # not zeros only
    for row in ("truyen_nhiem", "khac"):  # the total is the sum of the age-sex columns
        parts = [v or 0 for (r_, col), v in want.items() if r_ == row and col not in ("tong", "nu")]
        assert (want[(row, "tong")] or 0) == sum(parts)
    causes = [v or 0 for (r_, col), v in want.items() if col == "tong" and r_ != "tong"]
    assert want[("tong", "tong")] == sum(causes)  # the register's total, zero months included
    assert {v for (r_, col), v in want.items() if r_ == "tong" and col != "tong"} == {None}
    manifest = json.loads((quarter.root / "manifest.json").read_text(encoding="utf-8"))
    deaths = manifest["aggregates"]["community_deaths"]
    files = [x for x in _aggregates(quarter) if x["bao_cao"] == "tu_vong_cong_dong"]
    assert sum(deaths.values()) == sum(int(x["gia_tri"]) for x in files if x["nhom"])
    h = {"x-test-scope": "province", "accept": "application/json"}
    out = client.get("/api/v1/dataValueSets",
                     params={"dataSet": "tu_vong_cong_dong", "period": "2025Q1"}, headers=h)  # fmt: skip
    assert out.status_code == 200, out.text
    values = out.json()["dataValues"]
    assert len(values) == len(files)
    back = client.post("/api/v1/dataValueSets", content=out.content,
                       headers={**h, "content-type": "application/json"})  # fmt: skip
    assert back.json()["importCount"]["ignored"] == len(files), back.json()
    again = client.get("/api/v1/forms/b13", params={"period": "2025Q1"},
                       headers={"x-test-scope": "province"}).json()  # fmt: skip
    assert {(c["row"], c["column"]): c["value"] for c in again["cells"]} == want
    ws = _workbook(client, "b13", "2025Q1")["Biểu b13"]  # the official-layout workbook
    assert ws["A4"].value == "TÌNH HÌNH TỬ VONG TẠI CỘNG ĐỒNG"
    labels = [ws.cell(row=12 + i, column=2).value for i in range(len(load().forms["b13"].rows))]
    assert labels == [r["label_vi"] for r in load().forms["b13"].rows]
