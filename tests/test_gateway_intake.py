"""Intake over HTTP on SQLite and PostgreSQL: receipts, idempotency, versions, facility scope."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

from sqlalchemy import func, select

from khoyte.gateway.models import IntakeEvent, RecordVersionRow, Submission
from khoyte.gateway.versions import StoreVersionSource
from khoyte.standards.serialize import record_to_dict
from khoyte.validate.engine import validate_file
from tests.factories import record
from tests.gateway_helpers import (  # noqa: F401  (fixtures)
    FAC_A,
    FAC_B,
    Gateway,
    claim,
    claims,
    db_url_fixture,
    gateway_fixture,
)


def _count(gw: Gateway, model: type) -> int:
    with gw.service.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_receipt_matches_validate_and_is_stored(gateway: Gateway) -> None:
    data = claims(["LK1", "LK2"])
    resp = gateway.post_xml(data)
    assert resp.status_code == 201, resp.text
    receipt = resp.json()
    expected = validate_file(data, "x.xml").as_dict()
    assert receipt["facility"] == FAC_A
    assert receipt["status"] == expected["status"]
    assert receipt["counts"] == expected["counts"]
    assert [r["findings"] for r in receipt["records"]] == [
        r["findings"] for r in expected["records"]
    ]
    assert [r["ma_lk"] for r in receipt["records"]] == ["LK1", "LK2"]
    assert {r["change"] for r in receipt["records"]} == {"new"}
    # the archive holds the bytes unchanged, under their sha256
    assert gateway.service.archive.get(receipt["sha256"]) == data
    again = gateway.client.get(f"/api/v1/submissions/{receipt['id']}", headers=gateway.auth())
    assert again.status_code == 200
    assert again.json() == receipt


def test_same_bytes_twice_give_the_same_receipt_and_store_nothing_new(gateway: Gateway) -> None:
    data = claim("LK9")
    first = gateway.post_xml(data)
    second = gateway.post_xml(data)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert _count(gateway, Submission) == 1
    assert _count(gateway, RecordVersionRow) == 1


def test_changed_content_makes_a_new_version_and_keeps_both(gateway: Gateway) -> None:
    v1 = gateway.post_xml(claim("LK7", day=1)).json()
    v2 = gateway.post_xml(claim("LK7", day=2)).json()
    assert v1["records"][0]["version"] == 1
    assert v1["records"][0]["change"] == "new"
    assert v2["records"][0]["version"] == 2
    assert v2["records"][0]["change"] == "updated"
    hist = gateway.client.get(f"/api/v1/records/{FAC_A}/LK7", headers=gateway.auth()).json()
    assert [v["version"] for v in hist["versions"]] == [1, 2]
    assert hist["current"]["version"] == 2
    assert [v["submission_id"] for v in hist["versions"]] == [v1["id"], v2["id"]]
    # the same record inside different bytes (another file) is not a new version
    other_file = claims(["LK7X", "LK7"])  # LK7 here has day-1 content again → a real change
    r3 = gateway.post_xml(other_file).json()
    assert [r["change"] for r in r3["records"]] == ["new", "updated"]
    r4 = gateway.post_xml(claims(["LK7Y", "LK7"])).json()
    assert [r["change"] for r in r4["records"]] == ["new", "unchanged"]
    assert r4["records"][1]["version_id"] == r3["records"][1]["version_id"]


def test_version_source_rebuilds_the_records_in_order(gateway: Gateway) -> None:
    gateway.post_xml(claim("LKA", day=1))
    gateway.post_xml(claim("LKA", day=3))
    gateway.post_xml(claim("LKB", facility=FAC_B), facility=FAC_B)
    versions = list(StoreVersionSource(gateway.service.engine).iter_versions())
    assert [(v.facility, v.ma_lk, v.version) for v in versions] == [
        (FAC_A, "LKA", 1),
        (FAC_A, "LKA", 2),
        (FAC_B, "LKB", 1),
    ]
    ids = [v.version_id for v in versions]
    assert ids == sorted(ids)
    rebuilt = versions[1].record
    from datetime import datetime

    original = record("LKA", facility=FAC_A, start=datetime(2025, 8, 3, 8, 0))
    assert record_to_dict(rebuilt) == record_to_dict(original)
    assert all(v.received_at.tzinfo is not None for v in versions)
    later = list(StoreVersionSource(gateway.service.engine).iter_versions(ids[1]))
    assert [v.version_id for v in later] == [ids[2]]


def test_racing_identical_submissions_store_exactly_one(gateway: Gateway) -> None:
    data = claims([f"LKR{i}" for i in range(5)])
    results: list[int] = []
    bodies: list[dict[str, object]] = []

    def send() -> None:
        r = gateway.service.submit(data, facility=FAC_A, channel="api")
        results.append(1 if r.created else 0)
        bodies.append(r.data)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 1
    assert all(b == bodies[0] for b in bodies)
    assert _count(gateway, Submission) == 1
    assert _count(gateway, RecordVersionRow) == 5


def test_wrong_facility_is_refused_and_recorded(gateway: Gateway) -> None:
    resp = gateway.post_xml(claim("LKX", facility=FAC_B), facility=FAC_A)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "wrong_facility"
    assert _count(gateway, Submission) == 0
    with gateway.service.sessions() as s:
        ev = s.scalars(select(IntakeEvent)).all()
    assert [(e.kind, e.facility, e.status) for e in ev] == [("wrong_facility", FAC_A, 403)]


def test_reads_are_limited_to_the_facility_scope(gateway: Gateway) -> None:
    a = gateway.post_xml(claim("LKS")).json()
    gateway.post_xml(claim("LKT", facility=FAC_B), facility=FAC_B)
    b_reads_a = gateway.client.get(f"/api/v1/submissions/{a['id']}", headers=gateway.auth(FAC_B))
    assert b_reads_a.status_code == 404
    rec = gateway.client.get(f"/api/v1/records/{FAC_A}/LKS", headers=gateway.auth(FAC_B))
    assert rec.status_code == 404
    listing = gateway.client.get("/api/v1/submissions", headers=gateway.auth(FAC_B)).json()
    assert {s["facility"] for s in listing["submissions"]} == {FAC_B}
    asked = gateway.client.get(
        f"/api/v1/submissions?facility={FAC_A}", headers=gateway.auth(FAC_B)
    ).json()
    assert asked["submissions"] == []
    own = gateway.client.get(
        "/api/v1/submissions?since=2000-01-01T00:00:00", headers=gateway.auth(FAC_A)
    ).json()
    assert [s["id"] for s in own["submissions"]] == [a["id"]]
    future = gateway.client.get(
        "/api/v1/submissions", params={"since": "2999-01-01T00:00:00+07:00"}, headers=gateway.auth()
    ).json()
    assert future["submissions"] == []
    recent = gateway.client.get(
        "/api/v1/submissions", params={"since": a["received_at"]}, headers=gateway.auth()
    ).json()
    assert [s["received_at"] for s in recent["submissions"]] == [a["received_at"]]


def test_social_insurance_gateway_fields_and_multipart(gateway: Gateway) -> None:
    data = claim("LKF")
    form = {
        "loaiHoSo": "XML130",
        "maTinh": "82",
        "maCSKCB": FAC_A,
        "fileHSBase64": base64.b64encode(data).decode(),
    }
    as_json = gateway.client.post("/api/v1/submissions", json=form, headers=gateway.auth())
    assert as_json.status_code == 201, as_json.text
    as_form = gateway.client.post("/api/v1/submissions", data=form, headers=gateway.auth())
    assert as_form.status_code == 200  # same bytes: the same receipt
    assert as_form.json() == as_json.json()
    upload = gateway.client.post(
        "/api/v1/submissions",
        files={"file": ("x.xml", claim("LKG"), "application/xml")},
        headers=gateway.auth(),
    )
    assert upload.status_code == 201
    wrong = {**form, "maCSKCB": FAC_B}
    mism = gateway.client.post("/api/v1/submissions", json=wrong, headers=gateway.auth())
    assert mism.status_code == 400
    assert mism.json()["error"]["code"] == "facility_mismatch"


def test_checkins_endpoint_takes_only_checkins(gateway: Gateway, tmp_path: Path) -> None:
    from datetime import datetime

    from khoyte.standards.model import make_row
    from khoyte.standards.writer import standalone

    row = make_row(
        "XML0",
        {
            "MA_LK": "LKC1",
            "STT": 1,
            "MA_BN": "BN1",
            "HO_TEN": "Nguyễn Văn A",
            "MA_CSKCB": FAC_A,
            "NGAY_VAO": datetime(2025, 8, 1, 8, 0),
        },
    )
    doc = standalone("XML0", [row])
    resp = gateway.post_xml(doc, path="/api/v1/checkins")
    assert resp.status_code in (201, 422), resp.text
    body = resp.json() if resp.status_code == 201 else resp.json()["error"]["details"]["receipt"]
    assert body["kind"] == "checkin"
    assert body["facility"] == FAC_A
    wrong = gateway.post_xml(claim("LKC2"), path="/api/v1/checkins")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "wrong_document_kind"


def test_a_wholly_rejected_file_is_stored_and_answered_with_422(gateway: Gateway) -> None:
    resp = gateway.post_xml(b"<GIAMDINHHS><THONGTINDONVI><MACSKCB>82001</MACSKCB>")
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "submission_rejected"
    receipt = err["details"]["receipt"]
    assert receipt["status"] == "rejected"
    assert receipt["counts"]["records"] == 0
    assert any(f["code"] == "FILE.XML.SYNTAX" for f in receipt["findings"])
    stored = gateway.client.get(f"/api/v1/submissions/{receipt['id']}", headers=gateway.auth())
    assert stored.json() == receipt


def test_a_rejected_version_is_kept_but_does_not_become_current(gateway: Gateway) -> None:
    from datetime import date

    from khoyte.standards.writer import envelope

    gateway.post_xml(claim("LKQ"))
    bad = record("LKQ", facility=FAC_A)
    for row in bad.drugs:
        row.values["MA_LK"] = "LK_KHAC"  # lines that point at another visit: the record is rejected
    resp = gateway.post_xml(envelope([bad], FAC_A, date(2025, 8, 28)))
    assert resp.status_code == 422
    rec = resp.json()["error"]["details"]["receipt"]["records"][0]
    assert (rec["status"], rec["version"], rec["change"]) == ("rejected", 2, "updated")
    hist = gateway.client.get(f"/api/v1/records/{FAC_A}/LKQ", headers=gateway.auth()).json()
    assert [(v["version"], v["status"]) for v in hist["versions"]] == [
        (1, "accepted"),
        (2, "rejected"),
    ]
    assert hist["current"]["version"] == 1
    assert hist["latest_version"] == 2
    versions = list(StoreVersionSource(gateway.service.engine).iter_versions())
    assert [(v.version, v.status) for v in versions] == [(1, "accepted"), (2, "rejected")]
