"""Medical assessments (XML12) through the gateway: the synth's council documents through
``POST /api/v1/assessments`` (versions, resend, wrong kind, redacted receipts), the bulk intake
and the one-by-one path into the warehouse's ``fact_assessment``, ingest over HTTP — every count
against ``truth/assessments.csv`` (the panel and forms: ``test_assessments_panel.py``)."""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path

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
from khoyte.standards.assessment import assessment_key, sender_of_name
from khoyte.standards.reader import DocumentKind, kind_of
from khoyte.warehouse.service import Warehouse
from tests.assessment_helpers import (
    MONTHS,
    Council,
    check_warehouse,
    docs_of,
    fact_rows,
)
from tests.gateway_helpers import FAC_A, Gateway, claim, register_facilities
from tests.synth_helpers import findings


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
    assert all(kind_of(p.read_bytes()) is DocumentKind.ASSESSMENT for p in docs_of(c))
    assert sender_of_name(docs_of(c)[0].name) == c.code
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
    doc = docs_of(c)[0].read_bytes()
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
    back = gw.post_xml(docs_of(c)[0].read_bytes(), c.code, "/api/v1/submissions")
    assert back.status_code == 400
    assert back.json()["error"]["details"]["endpoint"] == "/api/v1/assessments"


def test_receipts_hide_the_assessed_persons_identifiers(gw: Gateway, council: Council) -> None:
    job = "Thợ hàn tại xưởng cơ khí " * 6  # NGHE_NGHIEP: at most 100 characters
    doc = _one(docs_of(council)[0].read_bytes(), 0, DIEN_THOAI="0912345678901234567",
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
    resp = gw.post_xml(docs_of(c)[0].read_bytes(), c.code, "/api/v1/assessments")
    assert resp.status_code == 201, resp.text
    with gw.service.engine.connect() as conn:
        rec = records(conn.dialect.name, Scope.whole_province(),
                      Query(date(2025, 1, 1), date(2025, 1, 31)))  # fmt: skip
        got = {str(k): d for k, d in conn.execute(select(rec.c.ma_lk, rec.c.day))}
    assert got == {
        assessment_key(r["so_bien_ban"]): r["ngay_hop"] for r in c.truth if r["month"] == "2025-01"
    }


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
            check_warehouse(wh, c)
            # each version dated by its meeting day, read from the store as from the files
            assert sorted(wh.engine.query("SELECT ma_lk, ngay_vao FROM fact_submission")) == sorted(
                (assessment_key(r["so_bien_ban"]), date.fromisoformat(r["ngay_hop"]))
                for r in c.truth
            )
            # a corrected minutes, one by one: the warehouse keeps the new version only
            fixed = c.root / "fix" / f"{c.code}-sua.xml"
            fixed.parent.mkdir()
            fixed.write_bytes(_one(docs_of(c)[1].read_bytes(), 2, TYLE_TTCT_MOI="77"))
            ingest([fixed], local_submitter(svc))
            report = wh.refresh(StoreVersionSource(svc.engine))
            assert (report.loaded, report.superseded) == (1, 1)
            rows = fact_rows(wh)
            assert len(rows) == len(c.truth)
            key = assessment_key([r for r in c.truth if r["month"] == "2025-02"][2]["so_bien_ban"])
            assert [r[7] for r in rows if r[1] == key] == [77]
        finally:
            wh.close()
    finally:
        svc.engine.dispose()


def test_ingest_over_http_sends_each_file_to_the_endpoint_of_its_kind(
    gw: Gateway, council: Council, tmp_path: Path
) -> None:
    from khoyte.gateway.ingest import remote_submitter

    c = council
    folder = tmp_path / "gui"
    folder.mkdir()
    (folder / "a-claims.xml").write_bytes(claim("LKHTTP1", facility=c.code))
    (folder / "b-gdyk.xml").write_bytes(docs_of(c)[2].read_bytes())
    got = ingest([folder], remote_submitter(gw.client, "http://testserver", gw.tokens[c.code]))
    assert (got.new, got.refused, got.errors) == (2, 0, [])
    kinds = {
        s["kind"]
        for s in gw.client.get("/api/v1/submissions", headers=gw.auth(c.code)).json()["submissions"]
    }
    assert kinds == {"claims", "assessment"}


def test_a_folder_file_that_names_no_sender_is_refused(gw: Gateway, council: Council) -> None:
    """Read from a folder, an XML12 document's sender is its file name's facility code (the
    document names none); a name without one is refused, saying what to do, not stored under
    a made-up facility."""
    from khoyte.gateway.intake import IntakeRefused

    assert sender_of_name("82000-2025-01.xml") == "82000"
    assert sender_of_name("hoidong-thang9.xml") is None
    doc = docs_of(council)[0].read_bytes()
    with pytest.raises(IntakeRefused) as refused:
        gw.service.submit(doc, name="hoidong-thang9.xml", channel="ingest")
    assert refused.value.code == "no_sender"
    assert "82000.xml" in str(refused.value)
    ok = gw.service.submit(doc, name=f"{council.code}.xml", channel="ingest")
    assert ok.data["facility"] == council.code


def test_ingest_facility_declares_the_sender_of_every_file(
    council: Council, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``khoyte ingest --facility``: an XML12 document whose name carries no code is that
    facility's; a claims file of another facility is refused (its MACSKCB differs), the rest
    of the folder is taken; with ``--url`` the option is refused (the credential names the
    sender)."""
    from sqlalchemy import select
    from typer.testing import CliRunner

    from khoyte.cli import app
    from khoyte.gateway.models import Submission
    from khoyte.store.db import session_scope

    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KHOYTE_DATABASE_URL", raising=False)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "hoidong-thang1.xml").write_bytes(docs_of(council)[0].read_bytes())
    (folder / "claims.xml").write_bytes(claim("LKOTHER", facility=FAC_A))
    runner = CliRunner()
    res = runner.invoke(app, ["ingest", str(folder), "--facility", council.code])
    assert res.exit_code == 1, res.output  # the operator must act on the refused file
    assert "facility_mismatch" in res.stderr or "MACSKCB" in res.stderr
    svc = IntakeService(Settings())
    try:
        with session_scope(svc.sessions) as s:
            stored = [(x.facility, x.kind) for x in s.scalars(select(Submission))]
    finally:
        svc.engine.dispose()
    assert stored == [(council.code, "assessment")]
    refused = runner.invoke(
        app,
        ["ingest", str(folder), "--facility", council.code, "--url", "http://x", "--token", "t"],
    )
    assert refused.exit_code == 2
    assert "--facility" in refused.stderr
