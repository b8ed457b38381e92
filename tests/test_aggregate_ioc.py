"""The IOC dashboards of groups 4–8 and the web data-entry form (issue 13, items 3, 5 and 6).

Expected numbers are computed here from the synth's own files (``aggregates/*.csv``,
``truth/monthly.csv``) and from ``targets.csv`` read as text — not from the store — for the
province and for a commune-scoped caller.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from khoyte.aggregate import approval
from khoyte.aggregate.metadata import load
from khoyte.demo import _import_aggregates
from khoyte.security.models import AuditEntry
from khoyte.services import build_services
from khoyte.store.db import session_scope
from tests.aggregate_helpers import Quarter, client_for, make_quarter

PROVINCE = "82"
MONTHS = ("2025-01", "2025-02", "2025-03")


@pytest.fixture(scope="module")
def quarter(tmp_path_factory: pytest.TempPathFactory) -> Quarter:
    q = make_quarter(tmp_path_factory.mktemp("ioc"), tmp_path_factory.mktemp("ioc-data"))
    services = build_services(q.settings, warehouse=False)
    try:
        _import_aggregates(services, q.root / "aggregates", lambda _m: None)  # `khoyte demo`'s
    finally:
        services.close()
    return q


@pytest.fixture(scope="module")
def client(quarter: Quarter) -> Iterator[TestClient]:
    with client_for(quarter.settings) as c:
        yield c


def _files(q: Quarter) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for m in MONTHS:
        with (q.root / "aggregates" / f"{m}.csv").open(encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def _targets() -> dict[tuple[str, str, int], float]:
    text = resources.files("khoyte.aggregate").joinpath("data/targets.csv").read_text("utf-8")
    return {
        (r["indicator"], r["orgunit"], int(r["year"])): float(r["target"])
        for r in csv.DictReader(text.splitlines())
    }


def _sum(rows: list[dict[str, str]], element: str, unit: str | None, month: str | None = None,
         coc: str | None = None) -> float:  # fmt: skip
    return sum(
        float(r["gia_tri"])
        for r in rows
        if r["chi_tieu"] == element
        and (unit is None or r["ma_don_vi"] == unit)
        and (month is None or r["thang"] == month)
        and (coc is None or r["nhom"] == coc)
    )


def _expected(rows: list[dict[str, str]], unit: str | None) -> dict[str, float | None]:
    """The dashboards' numbers over the quarter, computed from the files by their definitions."""
    births = _sum(rows, "tre_sinh", unit)
    pop = sum(_sum(rows, "dan_so", unit, m) for m in MONTHS) / 3  # average over the months
    out: dict[str, float | None] = {
        "dan_so_trung_binh": pop,
        "so_tre_sinh": births,
        "ty_suat_sinh_tho": births / pop * 1000 if pop else None,
        "ty_so_gioi_tinh_khi_sinh": (
            _sum(rows, "tre_sinh", unit, coc="nam") / _sum(rows, "tre_sinh", unit, coc="nu") * 100
            if _sum(rows, "tre_sinh", unit, coc="nu") else None
        ),
        "ty_le_con_thu_3": _sum(rows, "con_thu_3_tro_len", unit) / births * 100 if births else None,
        "nguoi_su_dung_bptt": _sum(rows, "nguoi_su_dung", unit),
    }  # fmt: skip
    if unit is None:
        inspected = _sum(rows, "co_so_kiem_tra", None)
        out.update({
            "co_so_kiem_tra": inspected,
            "ty_le_co_so_vi_pham": (
                _sum(rows, "co_so_vi_pham", None) / inspected * 100 if inspected else None
            ),
            "vu_ngo_doc_thuc_pham": _sum(rows, "vu_ngo_doc", None),
            "nguoi_mac_ngo_doc": _sum(rows, "nguoi_mac", None),
        })  # fmt: skip
    return out


# compared with the year's target as it is: levels and ratios of two flows; every other
# indicator (counts, births per 1,000 people in the period) is planned pro rata (3/12 here)
AS_IS = {"dan_so_trung_binh", "ty_so_gioi_tinh_khi_sinh", "ty_le_con_thu_3",
         "ty_le_co_so_vi_pham", "bac_si_tren_10000_dan"}  # fmt: skip


def _plans(unit: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for (code, ou, year), t in _targets().items():
        if ou == unit and year == 2025:
            out[code] = t if code in AS_IS else t * 3 / 12
    return {code: out.get(code) for code in load().indicators}


def _twin(c: TestClient, group: str, who: str, **params: str) -> dict[str, Any]:
    r = c.get(f"/api/v1/ioc/{group}", params={"from": "2025-01", "to": "2025-03", **params},
              headers={"x-test-scope": who})  # fmt: skip
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _panels(twin: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["code"]: p for p in twin["panels"]}


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-3 * max(1.0, abs(b))


def test_twins_equal_the_files_and_the_plan_for_province_and_commune(
    quarter: Quarter, client: TestClient
) -> None:
    rows = _files(quarter)
    communes = sorted({r["ma_don_vi"] for r in rows if r["bao_cao"] == "sinh"})
    busiest = max(communes, key=lambda c: _sum(rows, "tre_sinh", c))
    for who, unit, plan_unit in (("province", None, PROVINCE),
                                 (f"commune:{busiest}", busiest, busiest)):  # fmt: skip
        want, plans = _expected(rows, unit), _plans(plan_unit)
        got: dict[str, dict[str, Any]] = {}
        for g in ("dan_so", "attp", "kiem_soat_benh"):
            got.update(_panels(_twin(client, g, who)))
        for code, value in want.items():
            assert _close(got[code]["actual"], value), (who, code, got[code]["actual"], value)
            assert _close(got[code]["plan"], plans[code]), (who, code, got[code]["plan"])
            if value is not None and plans[code]:
                assert _close(got[code]["achieved_pct"], round(value / plans[code] * 100, 1))
        if unit is not None:  # a commune sees nothing of the province-level reports
            assert got["co_so_kiem_tra"]["actual"] is None
            assert got["co_so_kiem_tra"]["breakdown"] == []
    # months and the drill-down by commune add up to the quarter
    p = _panels(_twin(client, "dan_so", "province"))["so_tre_sinh"]
    assert [m["month"] for m in p["monthly"]] == list(MONTHS)
    for m in p["monthly"]:
        assert m["actual"] == _sum(rows, "tre_sinh", None, m["month"])
    by_unit = {r["code"]: r["actual"] for r in p["breakdown"]}
    assert by_unit[busiest] == _sum(rows, "tre_sinh", busiest)
    assert sum(v for v in by_unit.values() if v) == _sum(rows, "tre_sinh", None)
    # the commune's twin is its own drill-down row
    drill = _panels(_twin(client, "dan_so", "province", orgunit=busiest))["so_tre_sinh"]
    assert drill["actual"] == by_unit[busiest]
    # by method: the contraceptive users' disaggregation
    bp = _panels(_twin(client, "dan_so", "province"))["nguoi_su_dung_bptt"]["by_option"]
    assert {o["code"]: o["value"] for o in bp} == {
        m: _sum(rows, "nguoi_su_dung", None, coc=m) for m in load().combos["bien_phap"].combinations
    }


def test_finance_twin_equals_the_claims(quarter: Quarter, client: TestClient) -> None:
    got = _panels(_twin(client, "tai_chinh", "province"))
    for code, col in (("doanh_thu_kcb", "t_tongchi_bv"), ("chi_quy_bhyt", "t_bhtt"),
                      ("nguoi_benh_tra", "patient_paid")):  # fmt: skip
        per_month: dict[str, float] = defaultdict(float)
        for r in quarter.monthly:
            per_month[r["month"]] += float(r[col])
        p = got[code]
        assert [m["month"] for m in p["monthly"]] == list(MONTHS)
        for m in p["monthly"]:
            assert _close(m["actual"], per_month[m["month"]]), (code, m)
        assert _close(p["actual"], sum(per_month.values()))
        plan = _targets().get((code, PROVINCE, 2025))
        assert _close(p["plan"], None if plan is None else plan * 3 / 12), code
        assert plan is not None or code == "nguoi_benh_tra"  # no plan for what patients pay
        assert _close(sum(r["actual"] for r in p["breakdown"]), p["actual"])
    groups = got["service_groups"]["by_option"]
    assert {o["code"] for o in groups} == {"thuoc", "dich_vu", "vat_tu"}
    assert sum(o["value"] for o in groups) > 0


def test_approved_only_counts_approved_reports(quarter: Quarter, client: TestClient) -> None:
    rows = _files(quarter)
    communes = sorted({r["ma_don_vi"] for r in rows if r["bao_cao"] == "sinh"})
    with_births = [c for c in communes if _sum(rows, "tre_sinh", c, "2025-01") > 0][:-1]
    assert with_births  # every commune with births in January but one
    services = build_services(quarter.settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            for c in with_births:
                approval.approve(
                    s, load(), ("sinh", "202501", c), "commune", "t", "", datetime.now()
                )
    finally:
        services.close()
    everything = _twin(client, "dan_so", "province", to="2025-01")
    approved = _twin(client, "dan_so", "province", to="2025-01", approved_only="true")
    assert everything["approval"]["approved_only"] is False
    assert approved["approval"]["approved_only"] is True
    assert approved["approval"]["approved"] >= len(with_births)
    births_all = _panels(everything)["so_tre_sinh"]["actual"]
    births_ok = _panels(approved)["so_tre_sinh"]["actual"]
    assert births_all == _sum(rows, "tre_sinh", None, "2025-01")
    assert births_ok == sum(_sum(rows, "tre_sinh", c, "2025-01") for c in with_births)
    assert births_ok != births_all
    # a commune's view counts its own reports: population, births, family planning
    one = _twin(client, "dan_so", "province", to="2025-01", orgunit=with_births[0])["approval"]
    assert (one["reports"], one["approved"]) == (3, 1)
    # the unapproved population report counts nowhere when approved only
    assert _panels(approved)["dan_so_trung_binh"]["actual"] is None


def test_scope_and_parameters(quarter: Quarter, client: TestClient) -> None:
    rows = _files(quarter)
    communes = sorted({r["ma_don_vi"] for r in rows if r["bao_cao"] == "sinh"})
    mine, other = communes[0], communes[1]
    r = client.get("/api/v1/ioc/dan_so", params={"orgunit": other},
                   headers={"x-test-scope": f"commune:{mine}"})  # fmt: skip
    assert r.status_code == 404
    r = client.get("/api/v1/ioc/khong_co", headers={"x-test-scope": "province"})
    assert r.status_code == 404
    r = client.get("/api/v1/ioc/dan_so", params={"from": "2025-13"},
                   headers={"x-test-scope": "province"})  # fmt: skip
    assert r.status_code == 422
    r = client.get("/api/v1/ioc", headers={"x-test-scope": "province"})
    assert [g["number"] for g in r.json()] == [4, 5, 6, 7, 8]
    page = client.get("/ioc/attp?lang=en", headers={"x-test-scope": "province"})
    assert page.status_code == 200
    assert "Food safety" in page.text


def test_web_entry_saves_refuses_locked_and_is_audited(
    quarter: Quarter, client: TestClient
) -> None:
    rows = _files(quarter)
    commune = sorted({r["ma_don_vi"] for r in rows if r["bao_cao"] == "khhgd"})[5]
    who = {"x-test-scope": f"commune:{commune}"}
    q = {"dataSet": "khhgd", "period": "202504", "orgUnit": commune}
    form = client.get("/api/v1/aggregate/entry", params=q, headers=who)
    assert form.status_code == 200, form.text
    cell = next(c for c in form.json()["cells"] if c["categoryOptionCombo"] == "dat_vong")
    history = [_sum(rows, "nguoi_su_dung", commune, m, "dat_vong") for m in MONTHS]
    assert cell["value"] is None
    assert float(cell["last"]) == history[-1]
    assert (cell["min"], cell["max"], cell["earlier"]) == (min(history), max(history), 3)
    body = {**q, "values": [{"dataElement": "nguoi_su_dung", "categoryOptionCombo": "dat_vong",
                             "value": "1234"}]}  # fmt: skip
    r = client.post("/api/v1/aggregate/entry", json=body, headers=who)
    assert r.status_code == 200, r.text
    assert r.json()["importCount"]["imported"] == 1
    twin = _twin(client, "dan_so", f"commune:{commune}", **{"from": "2025-04", "to": "2025-04"})
    assert _panels(twin)["nguoi_su_dung_bptt"]["actual"] == 1234
    bad = {**body, "values": [{**body["values"][0], "value": "1.234,5"}]}  # type: ignore[dict-item]
    assert client.post("/api/v1/aggregate/entry", json=bad, headers=who).status_code == 422
    other = sorted({r["ma_don_vi"] for r in rows if r["bao_cao"] == "khhgd"})[6]
    out = client.post("/api/v1/aggregate/entry", json={**body, "orgUnit": other}, headers=who)
    assert out.status_code == 404
    services = build_services(quarter.settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            approval.approve(s, load(), ("khhgd", "202504", commune), "commune", "t", "",
                             datetime.now())  # fmt: skip
        locked = client.post("/api/v1/aggregate/entry", json=body | {"values": [
            {"dataElement": "nguoi_su_dung", "categoryOptionCombo": "dat_vong", "value": "9"}]},
            headers=who)  # fmt: skip
        assert locked.status_code == 409, locked.text
        assert client.get("/api/v1/aggregate/entry", params=q, headers=who).json()["locked"]
        with session_scope(services.sessions) as s:
            outcomes = [
                e.outcome
                for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "aggregate.entry"))
                if e.target == f"report:khhgd/202504/{commune}"
            ]
    finally:
        services.close()
    assert outcomes == ["success", "failure", "denied"]
    twin = _twin(client, "dan_so", f"commune:{commune}", **{"from": "2025-04", "to": "2025-04"})
    assert _panels(twin)["nguoi_su_dung_bptt"]["actual"] == 1234  # the locked value stands


def test_an_emptied_cell_deletes_the_value_audited_unless_locked(
    quarter: Quarter, client: TestClient
) -> None:
    rows = _files(quarter)
    commune = sorted({r["ma_don_vi"] for r in rows if r["bao_cao"] == "khhgd"})[7]
    who = {"x-test-scope": f"commune:{commune}"}
    q = {"dataSet": "khhgd", "period": "202505", "orgUnit": commune}

    def post(value: str) -> Any:
        return client.post("/api/v1/aggregate/entry", headers=who, json={**q, "values": [
            {"dataElement": "nguoi_su_dung", "categoryOptionCombo": "que_cay", "value": value}]})  # fmt: skip

    def stored() -> Any:
        cells = client.get("/api/v1/aggregate/entry", params=q, headers=who).json()["cells"]
        return next(c["value"] for c in cells if c["categoryOptionCombo"] == "que_cay")

    assert post("77").json()["importCount"]["imported"] == 1
    assert stored() == "77"
    gone = post("")
    assert gone.status_code == 200, gone.text
    assert gone.json()["importCount"]["deleted"] == 1
    assert stored() is None
    assert post("").json()["importCount"]["deleted"] == 0  # nothing left to delete
    assert post("12").status_code == 200
    services = build_services(quarter.settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            approval.approve(s, load(), ("khhgd", "202505", commune), "commune", "t", "",
                             datetime.now())  # fmt: skip
        assert post("").status_code == 409  # a locked report keeps its value
        assert stored() == "12"
        with session_scope(services.sessions) as s:
            audited = [
                (e.outcome, json.loads(e.details or "{}").get("deleted"))
                for e in s.scalars(select(AuditEntry).where(AuditEntry.action == "aggregate.entry"))
                if e.target == f"report:khhgd/202505/{commune}"
            ]
    finally:
        services.close()
    assert audited == [("success", 0), ("success", 1), ("success", 0), ("success", 0),
                       ("denied", 0)]  # fmt: skip


def test_the_entry_page_offers_periods_and_approval_to_approvers(
    quarter: Quarter, client: TestClient
) -> None:
    commune = sorted({r["ma_don_vi"] for r in _files(quarter) if r["bao_cao"] == "khhgd"})[8]
    q = {"dataSet": "khhgd", "period": "202503", "orgUnit": commune}
    page = client.get("/aggregate/entry", params=q, headers={"x-test-scope": f"commune:{commune}"})
    assert page.status_code == 200, page.text
    assert '<select name="period" id="e-period" required>' in page.text
    assert '<option value="202503" selected>Tháng 03/2025</option>' in page.text
    assert 'id="e-approve"' not in page.text  # entering is not approving
    mine = client.get("/aggregate/entry", params=q, headers={"x-test-scope": f"approver:{commune}"})
    assert 'id="e-approve"' in mine.text
    assert '"approve_level": "commune"' in mine.text
    r = client.post("/api/v1/aggregate/approvals", json=q,
                    headers={"x-test-scope": f"approver:{commune}"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert client.get("/api/v1/aggregate/entry", params=q,
                      headers={"x-test-scope": f"commune:{commune}"}).json()["locked"]  # fmt: skip


def test_entry_needs_its_permission(client: TestClient, quarter: Quarter) -> None:
    r = client.get("/api/v1/aggregate/entry",
                   params={"dataSet": "attp", "period": "202501", "orgUnit": PROVINCE},
                   headers={"x-test-scope": "viewer"})  # fmt: skip
    assert r.status_code == 403
    assert client.get("/aggregate/entry", headers={"x-test-scope": "province"}).status_code == 200


def test_finance_for_a_commune_scoped_caller(quarter: Quarter, client: TestClient) -> None:
    rows = quarter.monthly
    communes = {c: f["ma_xa"] for c, f in quarter.facilities.items()}
    busiest = max(set(communes.values()),
                  key=lambda x: sum(int(r["visits"]) for r in rows if communes[r["ma_cskcb"]] == x))  # fmt: skip
    got = _panels(_twin(client, "tai_chinh", f"commune:{busiest}"))
    mine = [r for r in rows if communes[r["ma_cskcb"]] == busiest]
    want = sum(float(r["t_bhtt"]) for r in mine)
    assert _close(got["chi_quy_bhyt"]["actual"], want)
    assert got["chi_quy_bhyt"]["plan"] is None  # no plan for the commune in targets.csv
    by_facility = {r["code"]: r["actual"] for r in got["chi_quy_bhyt"]["breakdown"]}
    assert set(by_facility) == {r["ma_cskcb"] for r in mine}
    for fac, money in by_facility.items():
        assert _close(money, sum(float(r["t_bhtt"]) for r in mine if r["ma_cskcb"] == fac))


def test_small_counts_are_hidden_for_callers_without_records(quarter: Quarter) -> None:
    settings = quarter.settings.model_copy(update={"small_count_threshold": 5})
    with client_for(settings) as c:
        twin = _twin(c, "dan_so", "viewer")
    assert twin["suppressed_below"] == 5
    births = _panels(twin)["so_tre_sinh"]
    shown = [r["actual"] for r in births["breakdown"]] + [m["actual"] for m in births["monthly"]]
    assert not [v for v in shown if v is not None and 0 < v < 5], shown
    assert None in shown  # some communes' few births are hidden
    rows = _files(quarter)
    hidden = [r for r in births["breakdown"] if r["actual"] is None]
    assert any(_sum(rows, "tre_sinh", r["code"]) > 0 for r in hidden)


def test_the_next_group_is_metadata(
    quarter: Quarter, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group written as ioc.toml text (no code) is served like the others."""
    import dataclasses
    import tomllib

    from khoyte.aggregate import metadata, web_ioc

    text = """
[groups.nhan_luc]
number = 9
name_vi = "Nhân lực y tế"
name_en = "Health workforce"
source_vi = "Báo cáo nhân lực của cơ sở"
source_en = "Facilities' workforce reports"
panels = [{ indicator = "bac_si_tren_10000_dan" }, { claims = "chi_quy_bhyt" }]
"""
    _, groups = metadata._ioc(tomllib.loads(text))
    md = dataclasses.replace(load(), groups={**load().groups, **groups})
    metadata.check(md)
    monkeypatch.setattr(web_ioc, "load", lambda: md)
    twin = _twin(client, "nhan_luc", "province")
    assert (twin["number"], [p["code"] for p in twin["panels"]]) == (
        9,
        ["bac_si_tren_10000_dan", "chi_quy_bhyt"],
    )
    doctors = twin["panels"][0]
    assert doctors["level"] == "commune"  # facilities' doctors over the communes' people
    assert doctors["plan"] == _targets()[("bac_si_tren_10000_dan", PROVINCE, 2025)]
    rows = _files(quarter)
    last = _sum(rows, "nhan_luc", None, "2025-03", "bac_si")  # the workforce is a stock: last
    pop = sum(_sum(rows, "dan_so", None, m) for m in MONTHS) / 3
    assert _close(doctors["actual"], last / pop * 10000), (doctors["actual"], last, pop)
    # a commune's row: the doctors of its facilities over its people
    commune = max(
        {f["ma_xa"] for f in quarter.facilities.values()},
        key=lambda c: _sum(rows, "dan_so", c, "2025-03"),
    )
    facs = {c for c, f in quarter.facilities.items() if f["ma_xa"] == commune}
    mine = sum(_sum(rows, "nhan_luc", f, "2025-03", "bac_si") for f in facs)
    people = sum(_sum(rows, "dan_so", commune, m) for m in MONTHS) / 3
    row = next(r for r in doctors["breakdown"] if r["code"] == commune)
    assert _close(row["actual"], mine / people * 10000)
