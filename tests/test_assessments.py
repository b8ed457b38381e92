"""Medical assessments (XML12) end to end: the synth's council documents through
``POST /api/v1/assessments`` (versions, resend, wrong kind, redacted receipts), the bulk intake
and the one-by-one path, the warehouse's ``fact_assessment`` from the store and from the files,
and IOC group 7's XML12 panel — every count against ``truth/assessments.csv``."""

from __future__ import annotations

import base64
import csv
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from khoyte.access import Permission, Principal
from khoyte.aggregate.metadata import load
from khoyte.config import Settings
from khoyte.gateway import receipts
from khoyte.gateway.bulk import BulkIntake
from khoyte.gateway.ingest import bulk_submitter, ingest, local_submitter
from khoyte.gateway.intake import IntakeService, ensure_schema
from khoyte.gateway.versions import StoreVersionSource
from khoyte.handoff import RecordVersion
from khoyte.registry.adminunits import communes_of
from khoyte.registry.facilities import import_file
from khoyte.services import build_services
from khoyte.standards.assessment import assessment_key, sender_of_name
from khoyte.standards.model import Record, Standard, make_row
from khoyte.standards.reader import DocumentKind, kind_of
from khoyte.store.db import session_scope
from khoyte.synth.assessments import council_of, council_row, write_assessments
from khoyte.synth.facilities import write_facilities_csv
from khoyte.synth.generate import SynthConfig
from khoyte.synth.province import build_province
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from tests.aggregate_helpers import client_for
from tests.gateway_helpers import FAC_A, Gateway, claim, register_facilities
from tests.synth_helpers import findings
from tests.warehouse_helpers import WithExtra

MONTHS = ("2025-01", "2025-02", "2025-03")


@dataclass
class Council:
    root: Path
    code: str
    commune: str  # the council's own commune (where the registry places it)
    section: dict[str, Any]  # the manifest's "assessments"
    truth: list[dict[str, str]]


@pytest.fixture(scope="module")
def council(tmp_path_factory: pytest.TempPathFactory) -> Council:
    """A quarter of the council's documents for 150,000 people (about 2.3 assessments per
    1,000 a year: some 80), and the province's facilities.csv with the council in it."""
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


def _by_month_kind(rows: list[dict[str, str]]) -> Counter[tuple[str, str]]:
    return Counter((r["month"], r["nhom"]) for r in rows)


def _docs(c: Council) -> list[Path]:
    return [c.root / f for f in c.section["files"]]


def test_the_synth_writes_one_clean_document_a_month(council: Council) -> None:
    c = council
    assert c.section["documents"] == 3
    assert len(c.truth) == c.section["records"] > 40
    assert [f.rsplit("/", 2)[-2][:7] for f in c.section["files"]] == list(MONTHS)
    assert findings(c.root) == Counter()  # zero validator findings
    assert {m: sum(v.values()) for m, v in c.section["by_month"].items()} == Counter(
        r["month"] for r in c.truth
    )
    assert {r["nhom"] for r in c.truth} == set(load().combos["giam_dinh"].combinations)
    assert all(kind_of(p.read_bytes()) is DocumentKind.ASSESSMENT for p in _docs(c))
    assert sender_of_name(_docs(c)[0].name) == c.code
    assert len({r["so_bien_ban"] for r in c.truth}) == len(c.truth)


def _gateway(tmp_path: Path, codes: tuple[str, ...]) -> Iterator[Gateway]:
    from khoyte.web.app import create_app

    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)
    service: IntakeService = app.state.services.intake
    tokens = register_facilities(service, codes)
    with TestClient(app) as client:
        yield Gateway(settings, client, service, tokens)
    service.engine.dispose()


@pytest.fixture(name="gw")
def gw_fixture(tmp_path: Path, council: Council) -> Iterator[Gateway]:
    yield from _gateway(tmp_path, (council.code, FAC_A))


def _one(doc: bytes, i: int, **change: str) -> bytes:
    """The document with only its ``i``-th record (fields replaced as given)."""
    text = doc.decode("utf-8")
    recs = re.findall(r"<GIAM_DINH_YKHOA>.*?</GIAM_DINH_YKHOA>", text, re.S)
    rec = recs[i]
    for field, value in change.items():
        rec = re.sub(f"<{field}(?:/>|>[^<]*</{field}>)", f"<{field}>{value}</{field}>", rec)
    head, _, _ = text.partition("<GIAM_DINH_YKHOA>")
    return (head + rec + "</DSACH_GIAM_DINH_YKHOA><CHUKYDONVI/></CHI_TIEU_GIAM_DINH_YKHOA>"
            ).encode("utf-8")  # fmt: skip


def test_the_endpoint_versions_each_assessment_by_its_minutes_number(
    gw: Gateway, council: Council
) -> None:
    c = council
    doc = _docs(c)[0].read_bytes()
    first = [r for r in c.truth if r["month"] == "2025-01"]
    resp = gw.post_xml(doc, c.code, "/api/v1/assessments")
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["kind"], body["facility"], body["status"]) == ("assessment", c.code, "accepted")
    keys = [r["ma_lk"] for r in body["records"]]
    assert keys == [assessment_key(r["so_bien_ban"]) for r in first]
    assert {(r["change"], r["version"]) for r in body["records"]} == {("new", 1)}
    # the same bytes again: the stored receipt, nothing new
    again = gw.post_xml(doc, c.code, "/api/v1/assessments")
    assert (again.status_code, again.json()["id"]) == (200, body["id"])
    # the same minutes corrected: version 2; the same record unchanged in another file: no-op
    fixed = _one(doc, 0, TYLE_TTCT_MOI="41")
    upd = gw.post_xml(fixed, c.code, "/api/v1/assessments").json()
    assert (upd["records"][0]["change"], upd["records"][0]["version"]) == ("updated", 2)
    same = _one(doc, 1)
    unchanged = gw.post_xml(same, c.code, "/api/v1/assessments").json()
    assert (unchanged["records"][0]["change"], unchanged["records"][0]["version"]) == (
        "unchanged",
        1,
    )
    hist = gw.client.get(f"/api/v1/records/{c.code}/{keys[0]}", headers=gw.auth(c.code))
    assert hist.status_code == 200, hist.text
    assert [v["version"] for v in hist.json()["versions"]] == [1, 2]
    shas = [v["content_sha256"] for v in hist.json()["versions"]]
    assert shas[0] != shas[1]
    assert hist.json()["current"]["version"] == 2
    # the council's credential may not send for another sender (the form's maCSKCB)
    fresh = base64.b64encode(_one(doc, 3)).decode()  # bytes not sent before
    form = {"loaiHoSo": "12", "maCSKCB": FAC_A, "fileHSBase64": fresh}
    other = gw.client.post("/api/v1/assessments", json=form, headers=gw.auth(c.code))
    assert other.json()["error"]["code"] == "wrong_facility", other.text


def test_a_document_of_another_kind_is_refused_in_both_languages(
    gw: Gateway, council: Council
) -> None:
    c = council
    # `khoyte ingest --url` picks the endpoint by the root element
    assert kind_of(claim("LKX12")) is DocumentKind.CLAIMS
    assert kind_of(b"<x/>") is None
    wrong = gw.post_xml(claim("LKX12"), FAC_A, "/api/v1/assessments")
    assert wrong.status_code == 400, wrong.text
    err = wrong.json()["error"]
    assert err["code"] == "wrong_document_kind"
    assert "giám định y khoa (XML12)" in err["message_vi"]
    assert "/api/v1/submissions" in err["message_vi"]
    assert "medical-assessment document (XML12)" in err["message_en"]
    assert err["details"] == {"kind": "claims", "expected": "assessment",
                              "endpoint": "/api/v1/submissions"}  # fmt: skip
    back = gw.post_xml(_docs(c)[0].read_bytes(), c.code, "/api/v1/submissions")
    assert back.status_code == 400
    assert back.json()["error"]["details"]["endpoint"] == "/api/v1/assessments"


def test_receipts_hide_the_assessed_persons_identifiers(gw: Gateway, council: Council) -> None:
    job = "Thợ hàn tại xưởng cơ khí " * 6  # NGHE_NGHIEP: at most 100 characters
    doc = _one(_docs(council)[0].read_bytes(), 0, DIEN_THOAI="0912345678901234567",
               SO_CCCD="0820812345678999", NGHE_NGHIEP=job)  # fmt: skip
    resp = gw.post_xml(doc, council.code, "/api/v1/assessments")
    assert resp.status_code in (201, 422), resp.text
    body = resp.json() if resp.status_code == 201 else resp.json()["error"]["details"]["receipt"]
    fields = ("DIEN_THOAI", "SO_CCCD", "NGHE_NGHIEP")
    quoted = [f for f in body["records"][0]["findings"] if f["field"] in fields]
    assert {f["field"] for f in quoted} == set(fields)
    assert all(f["value"] for f in quoted)  # the council's own system sees them
    viewer = Principal(kind="user", name="so-y-te", permissions=frozenset({
        Permission.VIEW_SUBMISSIONS}))  # fmt: skip
    shown = receipts.for_principal(viewer, body)
    hidden = [f for f in shown["records"][0]["findings"] if f["field"] in fields]
    assert len(hidden) == len(quoted)
    assert all(f["value"] is None and f["redacted"] for f in hidden)
    for value in ("0912345678901234567", "0820812345678999", "Thợ hàn"):
        assert value not in str(shown)


def test_the_quality_pages_date_an_assessment_by_its_meeting(gw: Gateway, council: Council) -> None:
    """The data-quality pages (``quality.store.records``) place an assessment on its
    ``NGAY_HOP``, as ``fact_submission`` does, not on the day it was received."""
    from sqlalchemy import select

    from khoyte.access import Scope
    from khoyte.quality.store import Query, records

    c = council
    resp = gw.post_xml(_docs(c)[0].read_bytes(), c.code, "/api/v1/assessments")
    assert resp.status_code == 201, resp.text
    with gw.service.engine.connect() as conn:
        rec = records(conn.dialect.name, Scope.whole_province(),
                      Query(date(2025, 1, 1), date(2025, 1, 31)))  # fmt: skip
        got = {str(k): d for k, d in conn.execute(select(rec.c.ma_lk, rec.c.day))}
    assert got == {
        assessment_key(r["so_bien_ban"]): r["ngay_hop"] for r in c.truth if r["month"] == "2025-01"
    }


def _fact_rows(wh: Warehouse) -> list[tuple[Any, ...]]:
    return wh.engine.query(
        "SELECT facility, ma_lk, ngay_hop, ma_doi_tuong, kham_giam_dinh, maxa_cu_tru, tuoi, "
        "tyle_ttct_moi FROM fact_assessment ORDER BY ma_lk"
    )


def _expected(c: Council) -> list[tuple[Any, ...]]:
    return sorted(
        (c.code, assessment_key(r["so_bien_ban"]), date.fromisoformat(r["ngay_hop"]),
         r["ma_doi_tuong"], r["kham_giam_dinh"], r["maxa_cu_tru"], int(r["tuoi"]))
        for r in c.truth
    )  # fmt: skip


def _check_warehouse(wh: Warehouse, c: Council) -> None:
    rows = _fact_rows(wh)
    assert sorted(r[:7] for r in rows) == _expected(c)
    columns = {r[0] for r in wh.engine.query(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'fact_assessment'"
    )}  # fmt: skip
    # F7: coded fields only — no name, CCCD, phone, address, birth date, free text
    for leaked in ("ho_ten", "so_cccd", "dien_thoai", "dia_chi", "ngay_sinh", "ma_bhxh",
                   "ma_the_bhyt", "ket_qua_kham", "de_nghi", "duoc_xacdinh", "nghe_nghiep",
                   "noi_cap_cccd", "nguoi_chu_tri", "gioi_thieu_cua"):  # fmt: skip
        assert leaked not in columns


def test_bulk_intake_and_the_store_source_load_fact_assessment(
    tmp_path: Path, council: Council
) -> None:
    c = council
    settings = Settings(data_dir=tmp_path / "data", warehouse_refresh_seconds=0)
    svc = IntakeService(settings)
    ensure_schema(svc.engine)
    try:
        with BulkIntake(svc, jobs=0) as bulk:
            got = ingest([c.root / "xml"], bulk_submitter(bulk, [c.root / "xml"]))
        assert (got.new, got.refused, got.records, got.accepted) == (3, 0, len(c.truth),
                                                                      len(c.truth))  # fmt: skip
        versions = list(StoreVersionSource(svc.engine).iter_versions())
        assert {v.facility for v in versions} == {c.code}  # the sender from the file's name
        wh = Warehouse(settings)
        try:
            wh.rebuild(StoreVersionSource(svc.engine))
            _check_warehouse(wh, c)
            # each version dated by its meeting day, read from the store as from the files
            assert sorted(wh.engine.query("SELECT ma_lk, ngay_vao FROM fact_submission")) == sorted(
                (assessment_key(r["so_bien_ban"]), date.fromisoformat(r["ngay_hop"]))
                for r in c.truth
            )
            # a corrected minutes, one by one: the warehouse keeps the new version only
            fixed = c.root / "fix" / f"{c.code}-sua.xml"
            fixed.parent.mkdir()
            fixed.write_bytes(_one(_docs(c)[1].read_bytes(), 2, TYLE_TTCT_MOI="77"))
            ingest([fixed], local_submitter(svc))
            report = wh.refresh(StoreVersionSource(svc.engine))
            assert (report.loaded, report.superseded) == (1, 1)
            rows = _fact_rows(wh)
            assert len(rows) == len(c.truth)
            key = assessment_key([r for r in c.truth if r["month"] == "2025-02"][2]["so_bien_ban"])
            assert [r[7] for r in rows if r[1] == key] == [77]
        finally:
            wh.close()
    finally:
        svc.engine.dispose()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, council: Council) -> Settings:
    """The warehouse loaded from the files (the demo's and `khoyte warehouse`'s file source),
    the registry knowing the province's facilities and the council."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("gdyk-data"),
                        warehouse_refresh_seconds=0, small_count_threshold=0)  # fmt: skip
    wh = Warehouse(settings)
    try:
        wh.rebuild(FileVersionSource(council.root))
        _check_warehouse(wh, council)
    finally:
        wh.close()
    services = build_services(settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            import_file(s, council.root / "facilities.csv")
    finally:
        services.close()
    return settings


@pytest.fixture(scope="module")
def client(loaded: Settings) -> Iterator[TestClient]:
    with client_for(loaded) as c:
        yield c


def _panel(client: TestClient, who: str, **params: str) -> dict[str, Any]:
    r = client.get("/api/v1/ioc/giam_dinh", params={"from": "2025-01", "to": "2025-03", **params},
                   headers={"x-test-scope": who})  # fmt: skip
    assert r.status_code == 200, r.text
    return next(p for p in r.json()["panels"] if p["code"] == "giam_dinh_xml12")


def _check_panel(panel: dict[str, Any], rows: list[dict[str, str]]) -> None:
    """The panel's total, months and kinds equal ``rows`` of the truth."""
    want = _by_month_kind(rows)
    assert panel["actual"] == len(rows)
    assert {m["month"]: m["actual"] for m in panel["monthly"]} == {
        m: sum(n for (mo, _), n in want.items() if mo == m) for m in MONTHS
    }
    assert {o["code"]: o["value"] for o in panel["by_option"]} == {
        k: sum(n for (_, kk), n in want.items() if kk == k)
        for k in load().combos["giam_dinh"].combinations
    }


def _breakdown(panel: dict[str, Any]) -> dict[str | None, int]:
    return {r["code"]: r["actual"] for r in panel["breakdown"]}


def test_group_7_xml12_panel_places_each_assessment_in_the_persons_commune(
    loaded: Settings, client: TestClient, council: Council
) -> None:
    c = council
    panel = _panel(client, "province")
    _check_panel(panel, c.truth)
    # by the assessed person's commune of residence (MAXA_CU_TRU), not the council's
    by_commune = Counter(r["maxa_cu_tru"] for r in c.truth)
    assert len(by_commune) > 10  # the synth's persons live across the province
    assert _breakdown(panel) == dict(by_commune)
    assert {r["level"] for r in panel["breakdown"]} == {"commune"}  # no "commune unknown" row
    # a commune's leader sees exactly their residents' assessments (months × kinds), whoever
    # sent them; the council's own commune only its residents; a commune with none sees none
    busiest = by_commune.most_common(1)[0][0]
    other = next(x for x, _ in by_commune.most_common() if x not in (busiest, c.commune))
    nobody = next(x for x, _ in communes_of(c.code[:2]) if x not in by_commune)
    for commune in (busiest, other, c.commune, nobody):
        mine = [r for r in c.truth if r["maxa_cu_tru"] == commune]
        scoped = _panel(client, f"commune:{commune}")
        _check_panel(scoped, mine)
        assert _breakdown(scoped) == ({commune: len(mine)} if mine else {})
        # the province's drill-down into the commune says the same
        drilled = _panel(client, "province", orgunit=commune)
        _check_panel(drilled, mine)
    # the council chosen as a facility: the assessments it sent, by where the persons live
    sent = _panel(client, "province", orgunit=c.code)
    _check_panel(sent, c.truth)
    assert _breakdown(sent) == dict(by_commune)
    # the assessed persons' communes, as the warehouse holds them (MAXA_CU_TRU)
    wh = Warehouse(loaded)
    try:
        got = Counter(
            (f"{d:%Y-%m}", str(x))
            for d, x in wh.engine.query("SELECT ngay_hop, maxa_cu_tru FROM fact_assessment")
        )
    finally:
        wh.close()
    assert got == Counter((r["month"], r["maxa_cu_tru"]) for r in c.truth)


def test_form_measures_on_xml12_count_by_meeting_day_and_residence(
    loaded: Settings, council: Council
) -> None:
    """A form cell on ``fact_assessment`` (none of the package's forms has one yet) counts the
    council's records by ``NGAY_HOP`` and the person's commune of residence — not through an
    episode they do not have: a commune's form counts its residents, the council's its own."""
    from khoyte.access import Scope
    from khoyte.aggregate.form_claims import claims_values, measure_problems
    from khoyte.aggregate.metadata import FormMeasure
    from khoyte.aggregate.periods import Period, parse
    from khoyte.analytics.filters import Filters

    c = council
    measures = [
        FormMeasure("all", "fact_assessment", "rows", (), "XML12"),
        FormMeasure("nkt", "fact_assessment", "rows", (("ma_doi_tuong", "has", "NKT"),), "XML12"),
        FormMeasure("first", "fact_assessment", "rows", (("kham_giam_dinh", "=", "1"),), "XML12"),
        FormMeasure("rate", "fact_assessment", "sum:tyle_ttct_moi", (), "XML12"),
    ]
    assert all(measure_problems(m) == [] for m in measures)
    bad = FormMeasure("x", "fact_assessment", "rows", (("e.age", ">", 60),), "XML12")
    assert measure_problems(bad) == ["measure x: fact_assessment has no episode ('e.age')"]

    def values(period: Period, scope: Scope, **target: str) -> dict[str, int]:
        wh = Warehouse(loaded)
        try:
            flt = Filters(period.start, period.end, **target)
            return claims_values(wh.engine, scope, measures, flt, period)
        finally:
            wh.close()

    province = Scope(province=True)
    for period, rows in (
        (parse("2025Q1"), c.truth),
        (parse("202502"), [r for r in c.truth if r["month"] == "2025-02"]),
    ):
        got = values(period, province)
        assert got["all"] == len(rows) > 0
        assert got["nkt"] == sum(r["ma_doi_tuong"] == "NKT" for r in rows)
        assert got["first"] == sum(r["kham_giam_dinh"] == "1" for r in rows)
    q1 = parse("2025Q1")
    for commune in {r["maxa_cu_tru"] for r in c.truth} | {c.commune}:
        mine = [r for r in c.truth if r["maxa_cu_tru"] == commune]
        # a commune leader's scope, and the province's form for that commune
        assert values(q1, Scope(communes=frozenset({commune})))["all"] == len(mine)
        assert values(q1, province, commune=commune)["all"] == len(mine)
    # the council's form (a facility): what it sent; a facility's scope sees what it sent
    assert values(q1, province, facility=c.code)["all"] == len(c.truth)
    assert values(q1, Scope(facilities=frozenset({c.code})))["all"] == len(c.truth)
    assert values(parse("2025Q2"), province)["all"] == 0


def test_assessment_submissions_are_dated_by_the_meeting_and_counted_as_reporting(
    loaded: Settings, council: Council
) -> None:
    """``fact_submission`` dates an assessment version by its ``NGAY_HOP`` (as a claim's by its
    ``NGAY_VAO``): the completeness and timeliness view counts the council."""
    from khoyte.access import Scope
    from khoyte.analytics.completeness import completeness
    from khoyte.analytics.filters import Filters

    c = council
    wh = Warehouse(loaded)
    try:
        dated = {
            str(m): d
            for m, d in wh.engine.query(
                "SELECT ma_lk, ngay_vao FROM fact_submission WHERE facility = ?", [c.code]
            )
        }
        assert dated == {
            assessment_key(r["so_bien_ban"]): date.fromisoformat(r["ngay_hop"]) for r in c.truth
        }
        flt = Filters(date(2025, 1, 1), date(2025, 3, 31))
        by_day = completeness(wh.engine, Scope.whole_province(), flt, grid=True)
        by_month = completeness(wh.engine, Scope.whole_province(), flt, unit="month")
        feb = completeness(wh.engine, Scope.whole_province(), Filters(date(2025, 2, 1),
                                                                      date(2025, 2, 28)))  # fmt: skip
    finally:
        wh.close()
    mine = next(f for f in by_day["facilities"] if f["facility"] == c.code)
    days = {r["ngay_hop"] for r in c.truth}
    assert (mine["records"], mine["rejected"], mine["days_with_data"]) == (len(c.truth), 0,
                                                                            len(days))  # fmt: skip
    assert mine["last_day_with_data"] == max(days)
    assert not mine["silent"]
    assert c.code not in by_day["silent"]
    grid = Counter({r["day"]: r["records"] for r in by_day["grid"] if r["facility"] == c.code})
    assert grid == Counter(r["ngay_hop"] for r in c.truth)
    months = {r["month"]: r["records"] for r in by_month["grid"] if r["facility"] == c.code}
    assert months == dict(Counter(r["month"] for r in c.truth))
    in_feb = next(f for f in feb["facilities"] if f["facility"] == c.code)
    assert in_feb["records"] == sum(r["month"] == "2025-02" for r in c.truth)


@dataclass
class Placed:
    settings: Settings
    extra: dict[str, str | None]  # SO_BIEN_BAN -> MAXA_CU_TRU as sent
    old: str  # a pre-2025 commune code the registry maps to ``into``
    into: str


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory, council: Council) -> Placed:
    """The council's quarter and four more February assessments: no MAXA_CU_TRU, a code that
    is no commune, a commune of another province, and a pre-2025 code the registry maps to a
    commune of the province (``rg_commune_map``)."""
    from khoyte.registry.adminunits import communes
    from khoyte.registry.models import CommuneMap

    c = council
    into = Counter(r["maxa_cu_tru"] for r in c.truth).most_common(1)[0][0]
    old = next(f"{n:05d}" for n in range(int(into) + 1, 99999) if f"{n:05d}" not in communes())
    elsewhere = communes_of("01")[0][0]  # Hà Nội
    extra: dict[str, str | None] = {"90001/2025/BB-GĐYK": None, "90002/2025/BB-GĐYK": "99999",
                                    "90003/2025/BB-GĐYK": elsewhere, "90004/2025/BB-GĐYK": old}  # fmt: skip
    assert "99999" not in communes()
    versions = []
    for i, (number, commune) in enumerate(extra.items()):
        values: dict[str, Any] = {"SO_BIEN_BAN": number, "NGAY_HOP": date(2025, 2, 11),
                                  "MA_DOI_TUONG": "NKT", "KHAM_GIAM_DINH": "1",
                                  "NGAY_SINH": date(1970, 1, 1), "MATINH_CU_TRU": c.code[:2]}  # fmt: skip
        if commune is not None:
            values["MAXA_CU_TRU"] = commune
        key = str(assessment_key(number))
        record = Record(key, Standard.QD130, {"XML12": [make_row("XML12", values)]})
        versions.append(RecordVersion(10_000_000 + i, c.code, key, 1, f"x{i}",
                                      datetime(2025, 2, 12, tzinfo=UTC), "accepted", record))  # fmt: skip
    settings = Settings(data_dir=tmp_path_factory.mktemp("gdyk-placed"),
                        warehouse_refresh_seconds=0, small_count_threshold=0)  # fmt: skip
    wh = Warehouse(settings)
    try:
        wh.rebuild(WithExtra(FileVersionSource(c.root), versions))  # type: ignore[arg-type]
    finally:
        wh.close()
    services = build_services(settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            import_file(s, c.root / "facilities.csv")
            s.add(CommuneMap(old_code=old, old_level="commune", new_commune=into,
                             source="test"))  # fmt: skip
    finally:
        services.close()
    return Placed(settings, extra, old, into)


def test_an_assessment_of_no_known_commune_counts_in_the_province_only(
    placed: Placed, council: Council
) -> None:
    from khoyte.access import Scope
    from khoyte.aggregate import residence
    from khoyte.aggregate.form_claims import claims_values
    from khoyte.aggregate.metadata import FormMeasure
    from khoyte.aggregate.periods import parse
    from khoyte.analytics.filters import Filters

    c, into = council, placed.into
    residents = sum(r["maxa_cu_tru"] == into for r in c.truth)
    with client_for(placed.settings) as client:
        panel = _panel(client, "province")
        scoped = _panel(client, f"commune:{into}")
        by_commune = Counter(r["maxa_cu_tru"] for r in c.truth)
        others = {x: _panel(client, f"commune:{x}")["actual"] for x in list(by_commune)[:5]}
    # nothing lost: missing, no commune and another province's commune in one row of the
    # province (no link down); the old code in the commune it became
    assert panel["actual"] == len(c.truth) + 4
    assert sum(o["value"] for o in panel["by_option"]) == len(c.truth) + 4
    assert {m["month"]: m["actual"] for m in panel["monthly"]}["2025-02"] == 4 + sum(
        r["month"] == "2025-02" for r in c.truth
    )
    unknown = [r for r in panel["breakdown"] if r["code"] is None]
    assert [(r["level"], r["actual"], r["plan"]) for r in unknown] == [("province", 3, None)]
    assert unknown[0]["name"].startswith("Không rõ xã cư trú")
    assert "unknown" in unknown[0]["name"]
    assert panel["breakdown"][-1] is unknown[0]  # listed last
    assert _breakdown(panel) == {**by_commune, into: residents + 1, None: 3}
    assert sum(r["actual"] for r in panel["breakdown"]) == panel["actual"]
    # a commune sees its residents (the old code's included), never the unknown ones
    assert scoped["actual"] == residents + 1
    assert _breakdown(scoped) == {into: residents + 1}
    assert others == {x: by_commune[x] + (x == into) for x in others}
    # a form for the commune counts the same, reading old codes through the registry's map
    services = build_services(placed.settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            places = residence.load(s)
    finally:
        services.close()
    assert places.codes([into]) == sorted([into, placed.old])
    q1 = parse("2025Q1")
    every = [FormMeasure("all", "fact_assessment", "rows", (), "XML12")]
    wh = Warehouse(placed.settings)
    try:

        def count(scope: Scope, res: residence.Residence | None, **target: str) -> int:
            flt = Filters(q1.start, q1.end, **target)
            return claims_values(wh.engine, scope, every, flt, q1, res)["all"]

        province = Scope.whole_province()
        assert count(province, places) == len(c.truth) + 4
        assert count(province, places, commune=into) == residents + 1
        assert count(Scope(communes=frozenset({into})), places) == residents + 1
        assert count(province, None, commune=into) == residents  # 2025 codes only
    finally:
        wh.close()


def test_small_counts_of_the_xml12_panel_are_hidden(placed: Placed, council: Council) -> None:
    settings = placed.settings.model_copy(update={"small_count_threshold": 5})
    with client_for(settings) as client:
        panel = _panel(client, "province")
    rows = _breakdown(panel)
    assert rows[None] is None  # 3 papers of no known commune: hidden
    full = Counter(r["maxa_cu_tru"] for r in council.truth)
    full[placed.into] += 1
    assert {k: v for k, v in rows.items() if k is not None} == {
        k: (None if 0 < n < 5 else n) for k, n in full.items()
    }
    assert any(v is None for k, v in rows.items() if k)
    assert any(v for v in rows.values())
    assert panel["actual"] == len(council.truth) + 4


def test_ingest_over_http_sends_each_file_to_the_endpoint_of_its_kind(
    gw: Gateway, council: Council, tmp_path: Path
) -> None:
    from khoyte.gateway.ingest import remote_submitter

    c = council
    folder = tmp_path / "gui"
    folder.mkdir()
    (folder / "a-claims.xml").write_bytes(claim("LKHTTP1", facility=c.code))
    (folder / "b-gdyk.xml").write_bytes(_docs(c)[2].read_bytes())
    got = ingest([folder], remote_submitter(gw.client, "http://testserver", gw.tokens[c.code]))
    assert (got.new, got.refused, got.errors) == (2, 0, [])
    kinds = {
        s["kind"]
        for s in gw.client.get("/api/v1/submissions", headers=gw.auth(c.code)).json()["submissions"]
    }
    assert kinds == {"claims", "assessment"}
