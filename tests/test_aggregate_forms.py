"""The statutory forms b9 and b14 against the synth's ground truth (facilities.csv and
truth/monthly.csv), for the province and for a commune-scoped user; the workbook's layout."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from khoyte.aggregate import periods
from tests.aggregate_helpers import (
    Quarter,
    busiest_commune,
    client_for,
    expected_b9,
    expected_b14,
    make_quarter,
)

Q1 = {"2025-01", "2025-02", "2025-03"}


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> Quarter:
    return make_quarter(tmp_path_factory.mktemp("synth"), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def client(quarter: Quarter) -> Iterator[TestClient]:
    with client_for(quarter.settings) as c:
        yield c


def form(client: TestClient, code: str, who: str, **params: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/forms/{code}", params=params, headers={"x-test-scope": who})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def nonzero(cells: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    return {(c["row"], c["column"]): c["value"] for c in cells if c["value"]}


def test_forms_list_names_every_provincial_form(client: TestClient) -> None:
    r = client.get("/api/v1/forms", headers={"x-test-scope": "viewer"})
    assert r.status_code == 200
    codes = [f["code"] for f in r.json()]
    assert codes == [f"b{i}" for i in range(1, 15)]
    assert set(r.json()[0]) == {"code", "name_vi", "name_en", "period_type"}


@pytest.mark.parametrize("period", ["2025", "2025Q1", "202502"])
def test_b9_equals_the_manifest_for_the_province(
    client: TestClient, quarter: Quarter, period: str
) -> None:
    months = {f"{m.start:%Y-%m}" for m in periods.parse(period).months()} & Q1
    body = form(client, "b9", "province", period=period)
    assert body["form"] == "b9"
    assert body["period"] == period
    assert body["orgunit"] == "82"
    want = {k: v for k, v in expected_b9(quarter, months, lambda f: True).items() if v}
    assert nonzero(body["cells"]) == want
    assert want[("tong", "noi_tru")] > 0
    assert want[("tinh", "co_so")] > 0
    if len(months) > 1:  # a quarter has deaths (the death column is tested, not only zeros)
        assert want[("tong", "tu_vong")] > 0
    assert all(c["source"] for c in body["cells"])


def test_b14_equals_the_manifest_for_the_province(client: TestClient, quarter: Quarter) -> None:
    body = form(client, "b14", "province", period="2025Q1")
    want = expected_b14(quarter, Q1, lambda f: True)
    assert nonzero(body["cells"]) == {k: v for k, v in want.items() if v}
    assert want[("tong", "tv_tong")] > 0
    assert want[("X", "ngt_u5")] > 0


def test_commune_user_gets_their_commune_only(client: TestClient, quarter: Quarter) -> None:
    commune = busiest_commune(quarter)
    mine = lambda f: f["ma_xa"] == commune  # noqa: E731
    who = f"commune:{commune}"
    b9 = form(client, "b9", who, period="2025")
    assert b9["orgunit"] is None  # the caller's scope, not the province
    assert nonzero(b9["cells"]) == {k: v for k, v in expected_b9(quarter, Q1, mine).items() if v}
    b14 = form(client, "b14", who, period="2025", orgunit=commune)
    assert b14["orgunit"] == commune
    assert nonzero(b14["cells"]) == {k: v for k, v in expected_b14(quarter, Q1, mine).items() if v}
    province = form(client, "b9", "province", period="2025")
    assert nonzero(b9["cells"]) != nonzero(province["cells"])


def test_outside_the_scope_is_not_found(client: TestClient, quarter: Quarter) -> None:
    commune = busiest_commune(quarter)
    other = next(f for f in quarter.facilities.values() if f["ma_xa"] != commune)
    h = {"x-test-scope": f"commune:{commune}"}
    for unit in ("82", other["ma_xa"], other["ma_cskcb"]):
        r = client.get("/api/v1/forms/b9", params={"period": "2025", "orgunit": unit}, headers=h)
        assert r.status_code == 404, unit
    assert client.get("/api/v1/forms/b9", params={"period": "2025"}).status_code == 401
    assert client.get("/api/v1/forms/b99", params={"period": "2025"}, headers=h).status_code == 404
    bad = client.get("/api/v1/forms/b9", params={"period": "2025-13"}, headers=h)
    assert bad.status_code == 422


def test_workbook_is_the_official_layout_with_provenance(client: TestClient) -> None:
    r = client.get("/api/v1/forms/b14.xlsx", params={"period": "2025Q1"},
                   headers={"x-test-scope": "province"})  # fmt: skip
    assert r.status_code == 200, r.text
    wb = load_workbook(io.BytesIO(r.content))
    ws = wb["Biểu b14"]
    assert ws["A1"].value == "SỞ Y TẾ"
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in [c.value for c in ws[1]]
    assert ws["A4"].value == "TÌNH HÌNH BỆNH TẬT, TỬ VONG TẠI BỆNH VIỆN THEO ICD 10"
    merged = {str(m) for m in ws.merged_cells.ranges}
    assert "D8:G8" in merged  # "Khám, điều trị ngoại trú" over its four columns
    assert ws["D8"].value == "Khám, điều trị ngoại trú"
    assert ws["D10"].value == "(lượt)"
    labels = [ws.cell(row=r, column=2).value for r in range(12, 12 + 24)]
    assert labels[0] == "Bệnh nhiễm trùng và ký sinh trùng"
    assert labels[-1] == "Tổng số"
    texts = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert "THỦ TRƯỞNG ĐƠN VỊ" in texts
    assert "NGƯỜI LẬP BIỂU" in texts
    body = client.get("/api/v1/forms/b14", params={"period": "2025Q1"},
                      headers={"x-test-scope": "province"}).json()  # fmt: skip
    total = next(
        c["value"] for c in body["cells"] if c["row"] == "tong" and c["column"] == "ngt_tong"
    )
    assert ws.cell(row=12 + 23, column=4).value == total
    src = wb["Nguồn số liệu"]
    rows = list(src.iter_rows(values_only=True))
    assert rows[1][1] == "TT 23/2025/TT-BYT"
    assert len([r for r in rows[8:] if r[0]]) == len(body["cells"])
    assert all(r[3] for r in rows[8:] if r[0])
