"""Plans (kế hoạch, chỉ tiêu) on the web and through the API (issue 13): an edit reaches the IOC
twin, a file with a bad cell is refused with a receipt naming it and changes nothing, the same
file twice changes nothing, download → upload is exact (CSV and XLSX), and who may read and
write. Expected plans come from the package's ``targets.csv`` read as text."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from khoyte.aggregate import targets
from khoyte.aggregate.metadata import load
from khoyte.aggregate.models import AggTarget
from khoyte.config import Settings
from khoyte.registry import adminunits
from khoyte.registry.models import Facility
from khoyte.security.models import AuditEntry
from khoyte.services import build_services
from khoyte.store.db import session_scope
from tests.aggregate_helpers import client_for

PROVINCE = "82"
API = "/api/v1/aggregate/targets"
COMMUNES = [c for c, _ in adminunits.communes_of(PROVINCE)[:2]]


def package() -> dict[tuple[str, str, int], str]:
    text = resources.files("khoyte.aggregate").joinpath("data/targets.csv").read_text("utf-8")
    return {(r["indicator"], r["orgunit"], int(r["year"])): r["target"]
            for r in csv.DictReader(text.splitlines())}  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = Settings(data_dir=tmp_path, warehouse_refresh_seconds=0, small_count_threshold=0)
    services = build_services(s, warehouse=False)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(services.sessions) as db:  # the registry serves province 82
        for i, commune in enumerate(COMMUNES):
            db.add(Facility(code=f"8200{i}", name=f"Trạm Y tế {commune}", commune=commune,
                            province=PROVINCE, created_at=now, revision=1))  # fmt: skip
    services.close()
    return s


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with client_for(settings) as c:
        yield c


def as_(who: str) -> dict[str, str]:
    return {"X-Test-Scope": who}


PROV = as_("province")


def stored(settings: Settings) -> dict[tuple[str, str, int], str]:
    services = build_services(settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            return {
                (t.indicator, t.orgunit, t.year): t.target for t in s.scalars(select(AggTarget))
            }
    finally:
        services.close()


def audits(settings: Settings, action: str) -> list[AuditEntry]:
    services = build_services(settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            got = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))
            s.expunge_all()
            return got
    finally:
        services.close()


def twin_plans(client: TestClient, group: str = "dan_so", **q: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/ioc/{group}", params={"from": "2025-01", "to": "2025-12", **q},
                   headers=PROV)  # fmt: skip
    assert r.status_code == 200, r.text
    return {p["code"]: p["plan"] for p in r.json()["panels"]}


def upload(
    client: TestClient, data: bytes, name: str = "ke_hoach.csv", who: str = "province"
) -> Any:
    return client.post(f"{API}/uploads", content=data, headers={**as_(who), "X-Filename": name})


def test_an_edit_reaches_the_ioc_twin_and_a_deletion_restores_the_package(
    client: TestClient, settings: Settings
) -> None:
    births = ("so_tre_sinh", PROVINCE, 2025)
    assert twin_plans(client)["so_tre_sinh"] == pytest.approx(float(package()[births]))
    r = client.put(API, json={"indicator": births[0], "orgUnit": PROVINCE, "year": 2025,
                              "value": "31250.5"}, headers=PROV)  # fmt: skip
    assert r.status_code == 200, r.text
    row = r.json()
    assert (row["target"], row["stored"], row["storedBy"], row["source"]) == (
        "31250.5",
        True,
        "province",
        "web",
    )
    assert row["name_vi"] == load().indicators["so_tre_sinh"].name_vi
    assert 5 in row["iocGroups"]
    # a twelfth a month over the twelve months of 2025: the year's new plan
    assert twin_plans(client)["so_tre_sinh"] == pytest.approx(31250.5)
    got = client.get(API, params={"year": "2025", "orgunit": PROVINCE}, headers=PROV).json()
    assert next(x for x in got["rows"] if x["indicator"] == births[0])["target"] == "31250.5"
    entry = audits(settings, "aggregate.target.put")[-1]
    assert (entry.outcome, entry.target) == ("success", "target:so_tre_sinh/82/2025")
    assert json.loads(entry.details or "{}") == {"old": None, "new": "31250.5"}
    # deleted: the package's plan applies again (answered), and the twin shows it
    r = client.delete(API, params={"indicator": births[0], "orgunit": PROVINCE, "year": 2025},
                      headers=PROV)  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["target"], r.json()["stored"]) == (package()[births], False)
    assert twin_plans(client)["so_tre_sinh"] == pytest.approx(float(package()[births]))
    assert stored(settings) == {}
    assert audits(settings, "aggregate.target.delete")[-1].outcome == "success"
    gone = client.delete(API, params={"indicator": births[0], "orgunit": PROVINCE, "year": 2025},
                         headers=PROV)  # fmt: skip
    assert gone.status_code == 404
    # a bad value is refused naming its field, nothing stored
    r = client.put(API, json={"indicator": "khong_co", "orgUnit": PROVINCE, "year": 2025,
                              "value": "-3"}, headers=PROV)  # fmt: skip
    assert r.status_code == 422
    problems = {(p["column"], p["value"]) for p in r.json()["error"]["details"]["problems"]}
    assert problems == {("indicator", "khong_co"), ("target", "-3")}
    assert stored(settings) == {}


def test_missing_ioc_plans_are_listed_for_the_year(client: TestClient) -> None:
    md = load()
    ioc = targets.ioc_codes(md)
    have = {k[0] for k in package() if k[1:] == (PROVINCE, 2026)}
    got = client.get(API, params={"year": "2026"}, headers=PROV).json()
    assert got["missingOrgUnit"] == PROVINCE
    assert {m["indicator"] for m in got["missing"]} == set(ioc) - have
    assert "dan_so_trung_binh" in {m["indicator"] for m in got["missing"]}  # none in the package
    # filled in, it is no longer missing
    client.put(API, json={"indicator": "dan_so_trung_binh", "orgUnit": PROVINCE, "year": 2026,
                          "value": "1700000"}, headers=PROV)  # fmt: skip
    again = client.get(API, params={"year": "2026"}, headers=PROV).json()
    assert "dan_so_trung_binh" not in {m["indicator"] for m in again["missing"]}
    assert len(again["rows"]) == len(got["rows"]) + 1


def test_a_bad_cell_is_named_and_nothing_changes(client: TestClient, settings: Settings) -> None:
    before = client.get(API, headers=PROV).json()
    twin = twin_plans(client)
    data = (b"indicator,orgunit,year,target\nso_tre_sinh,82,2025,30000\n"
            b"ty_le_con_thu_3,82,2025,\"12,5\"\nnguoi_su_dung_bptt,82,2025,13000\n"
            b"so_tre_sinh,8X001,2025,10\n")  # fmt: skip
    r = upload(client, data)
    assert r.status_code == 200
    receipt = r.json()
    assert receipt["status"] == "rejected"
    assert [(p["row"], p["column"], p["value"], p["code"]) for p in receipt["problems"]] == [
        (3, "target", "12,5", "not_a_number"),
        (5, "orgunit", "8X001", "unknown_orgunit"),  # not in the registry
    ]
    assert receipt["problems"][0]["message_vi"] == "Giá trị không phải là số"
    assert receipt["problems"][0]["message_en"] == "value is not a number"
    # the same in a workbook: the sheet's row and the column's header are named
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["indicator", "orgunit", "year", "target"])
    ws.append(["so_tre_sinh", "82", 2025, 30000])
    ws.append(["so_tre_sinh", "82", "20x5", "nhiều"])
    buf = io.BytesIO()
    wb.save(buf)
    receipt = upload(client, buf.getvalue(), "ke_hoach.xlsx").json()
    assert receipt["status"] == "rejected"
    assert {(p["row"], p["column"], p["value"]) for p in receipt["problems"]} == {
        (3, "year", "20x5"),
        (3, "target", "nhiều"),
    }
    assert stored(settings) == {}
    assert client.get(API, headers=PROV).json() == before
    assert twin_plans(client) == twin
    assert [e.outcome for e in audits(settings, "aggregate.target.upload")] == ["failure"] * 2


def test_the_same_file_twice_changes_nothing(client: TestClient, settings: Settings) -> None:
    data = (f"indicator,orgunit,year,target\nso_tre_sinh,82,2027,24000\n"
            f"hiv_duong_tinh,{COMMUNES[0]},2027,12\n").encode()  # fmt: skip
    first = upload(client, data).json()
    assert (first["status"], first["imported"], first["updated"]) == ("loaded", 2, 0)
    after = stored(settings)
    assert after == {
        ("so_tre_sinh", "82", 2027): "24000",
        ("hiv_duong_tinh", COMMUNES[0], 2027): "12",
    }
    second = upload(client, data).json()
    assert (second["status"], second["imported"], second["updated"]) == ("unchanged", 0, 0)
    assert stored(settings) == after


def test_download_then_upload_is_exact(client: TestClient, settings: Settings) -> None:
    client.put(API, json={"indicator": "ty_suat_sinh_tho", "orgUnit": COMMUNES[1], "year": 2025,
                          "value": "13.75"}, headers=PROV)  # fmt: skip
    csv1 = client.get(f"{API}.csv", headers=PROV)
    assert csv1.status_code == 200
    assert csv1.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv1.content.decode("utf-8-sig"))))
    assert list(rows[0])[:4] == ["indicator", "orgunit", "year", "target"]
    want = {**package(), ("ty_suat_sinh_tho", COMMUNES[1], 2025): "13.75"}
    got = {(r["indicator"], r["orgunit"], int(r["year"])): r["target"] for r in rows}
    assert {k: float(v) for k, v in got.items()} == {k: float(v) for k, v in want.items()}
    first = upload(client, csv1.content, "ke_hoach_tat_ca.csv").json()
    assert (first["status"], first["imported"]) == ("loaded", len(package()))  # the package's rows
    assert client.get(f"{API}.csv", headers=PROV).content == csv1.content
    xlsx = client.get(f"{API}.xlsx", headers=PROV)
    assert xlsx.status_code == 200
    again = upload(client, xlsx.content, "ke_hoach_tat_ca.xlsx").json()
    assert (again["status"], again["imported"], again["updated"]) == ("unchanged", 0, 0)
    md = load()
    assert targets.read(xlsx.content, md) == targets.read(csv1.content, md)
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    assert ws is not None
    assert isinstance(ws["D2"].value, int | float)  # a number cell, not text
    assert client.get(f"{API}.csv", headers=PROV).content == csv1.content


def test_who_may_read_and_write(client: TestClient, settings: Settings) -> None:
    mine, other = COMMUNES
    for unit in (mine, other):
        client.put(API, json={"indicator": "so_tre_sinh", "orgUnit": unit, "year": 2025,
                              "value": "100"}, headers=PROV)  # fmt: skip
    # a commune's caller reads its own commune's plans only; another org unit answers 404
    got = client.get(API, headers=as_(f"commune:{mine}")).json()
    assert {r["orgUnit"] for r in got["rows"]} == {mine}
    assert got["canEdit"] is False
    assert (
        client.get(API, params={"orgunit": PROVINCE}, headers=as_(f"commune:{mine}")).status_code
        == 404
    )
    assert (
        client.get(API, params={"orgunit": other}, headers=as_(f"commune:{mine}")).status_code
        == 404
    )
    denied = len(audits(settings, "scope.denied"))
    assert denied >= 2
    # ... and writes nothing, even for its own commune (plans are the province's): audited
    body = {"indicator": "so_tre_sinh", "orgUnit": mine, "year": 2025, "value": "5"}
    assert client.put(API, json=body, headers=as_(f"commune:{mine}")).status_code == 403
    q = {"indicator": "so_tre_sinh", "orgunit": mine, "year": 2025}
    assert client.delete(API, params=q, headers=as_(f"commune:{mine}")).status_code == 403
    data = f"indicator,orgunit,year,target\nso_tre_sinh,{mine},2025,7\n".encode()
    assert upload(client, data, who=f"commune:{mine}").status_code == 403
    assert [e.outcome for e in audits(settings, "aggregate.target.put")][-1] == "denied"
    assert audits(settings, "aggregate.target.upload")[-1].outcome == "denied"
    # a viewer of the dashboards reads every plan of the province, may not write or export
    viewer = client.get(API, headers=as_("viewer")).json()
    assert viewer["canEdit"] is False
    assert len(viewer["rows"]) == len(package()) + 2
    assert client.put(API, json=body, headers=as_("viewer")).status_code == 403
    assert client.get(f"{API}.csv", headers=as_("viewer")).status_code == 403
    assert client.get(API).status_code == 401
    assert stored(settings) == {
        ("so_tre_sinh", mine, 2025): "100",
        ("so_tre_sinh", other, 2025): "100",
    }


def test_the_page_in_both_languages_and_its_links(client: TestClient) -> None:
    page = client.get("/aggregate/targets", params={"year": "2025"}, headers=PROV)
    assert page.status_code == 200
    html = page.text
    assert "Kế hoạch, chỉ tiêu" in html
    assert 'value="25.000"' in html  # so_tre_sinh 2025 of the package, the Vietnamese way
    assert 'class="missing"' in html  # dan_so_trung_binh has no plan: highlighted
    assert 'id="t-upload"' in html
    en = client.get("/aggregate/targets", params={"year": "2025", "lang": "en"}, headers=PROV).text
    assert "Plans (targets)" in en
    assert 'value="25,000"' in en
    viewer = client.get("/aggregate/targets", headers=as_("viewer")).text
    assert 'id="t-upload"' not in viewer
    assert 'input class="cell"' not in viewer
    ioc = client.get("/ioc/dan_so", params={"from": "2025-01", "to": "2025-12"}, headers=PROV).text
    assert 'href="/aggregate/targets?year=2025"' in ioc
    entry = client.get("/aggregate/entry", headers=PROV).text
    assert 'href="/aggregate/targets"' in entry
