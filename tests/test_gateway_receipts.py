"""Receipts quote patient identifiers only to who may see records (security test 2026-12, F4),
on SQLite and on PostgreSQL: the stored receipt is the same, what each caller is shown differs,
and what was shown is in the audit trail."""

from __future__ import annotations

from sqlalchemy import select

from khoyte.gateway.receipts import redact_finding
from khoyte.security import service
from khoyte.security.models import AuditEntry
from khoyte.store.db import session_scope
from tests.gateway_helpers import (
    FAC_A,
    PII_CARD,
    PII_CCCD,
    Gateway,
    claim_with_identifying_findings,
    db_url_fixture,
    gateway_fixture,
)
from tests.security_helpers import PASSWORD

__all__ = ["db_url_fixture", "gateway_fixture"]  # the fixtures: SQLite and PostgreSQL


def _user_token(gw: Gateway, username: str, role: str) -> str:
    st = gw.client.app.state.security  # type: ignore[attr-defined]
    with session_scope(st.factory) as s:
        service.create_user(s, gw.settings, username=username, password=PASSWORD, roles=[role],
                            scopes=[f"facility:{FAC_A}"], actor="test", ip="test")  # fmt: skip
    r = gw.client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def test_receipt_identifiers_by_permission(gateway: Gateway) -> None:
    sent = gateway.post_xml(claim_with_identifying_findings())
    # hub profile: the card number's form is flagged, the visit counted
    assert sent.status_code == 201, sent.text
    receipt = sent.json()
    sid = receipt["id"]
    assert PII_CCCD in sent.text
    assert PII_CARD in sent.text

    spec = {"Authorization": f"Bearer {_user_token(gateway, 'spec1', 'doh_specialist')}"}
    staff = {"Authorization": f"Bearer {_user_token(gateway, 'staff1', 'facility_staff')}"}
    hidden = gateway.client.get(f"/api/v1/submissions/{sid}", headers=spec)
    assert hidden.status_code == 200
    assert PII_CCCD not in hidden.text
    assert PII_CARD not in hidden.text
    assert "1999" not in hidden.text
    body = hidden.json()
    assert body["redacted"] is True
    redacted = [f for rec in body["records"] for f in rec["findings"] if f.get("redacted")]
    assert {f["field"] for f in redacted} >= {"SO_CCCD", "MA_THE_BHYT"}
    assert all(f["value"] is None and "ẩn" in f["message_vi"] for f in redacted)
    assert body["counts"] == receipt["counts"]  # everything else is the same receipt

    shown = gateway.client.get(f"/api/v1/submissions/{sid}", headers=staff)
    assert shown.status_code == 200
    assert PII_CCCD in shown.text
    assert PII_CARD in shown.text
    st = gateway.client.app.state.security  # type: ignore[attr-defined]
    with session_scope(st.factory) as s:
        views = s.scalars(select(AuditEntry).where(AuditEntry.action == "receipt.view")).all()
    assert [(v.actor, v.target) for v in views] == [("user:staff1", f"submission:{sid}")]


def test_other_findings_mask_what_looks_like_an_identifier() -> None:
    f = {
        "code": "XML1.MA_LK.X",
        "field": "MA_LK",
        "table": "XML1",
        "stt": 1,
        "value": "LK1",
        "message_vi": "gọi 0912345678, CCCD 082190001234, thẻ GD4828212345678, ngày 202508010800",
        "message_en": "x",
    }
    out = redact_finding(f)
    assert "0912345678" not in out["message_vi"]
    assert "082190001234" not in out["message_vi"]
    assert "GD4828212345678" not in out["message_vi"]
    assert "202508010800" in out["message_vi"]  # a 12-digit date is not a CCCD


def test_odd_ma_lk_values_can_be_fetched(gateway: Gateway) -> None:
    """F22: a MA_LK with "/" (and other characters a URL must encode) is addressable."""
    from urllib.parse import quote

    from tests.gateway_helpers import claim

    # ("%" is left out: the test client decodes the path twice; uvicorn decodes it once)
    for ma_lk in ("82004/../../x", "A/B C", "LK ?#1", "LK+é"):
        r = gateway.post_xml(claim(ma_lk))
        assert r.status_code in (201, 422), r.text
        got = gateway.client.get(
            f"/api/v1/records/{FAC_A}/{quote(ma_lk, safe='')}", headers=gateway.auth()
        )
        assert got.status_code == 200, (ma_lk, got.text)
        assert got.json()["ma_lk"] == ma_lk


def test_two_file_parts_and_a_truncated_form_are_refused(gateway: Gateway) -> None:
    """F25: the last of two `file` parts no longer silently wins; a form that breaks off is
    ``invalid_form``."""
    from tests.gateway_helpers import claim

    files = [("file", ("a.xml", claim("LKF1"), "application/xml")),
             ("file", ("b.xml", claim("LKF2"), "application/xml"))]  # fmt: skip
    r = gateway.client.post("/api/v1/submissions", files=files, headers=gateway.auth())
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "multiple_files"
    one = gateway.client.post("/api/v1/submissions", files=files[:1], headers=gateway.auth())
    assert one.status_code == 201, one.text
    body = (b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.xml"\r\n'
            b"Content-Type: application/xml\r\n\r\n" + claim("LKF3")[:200])  # fmt: skip
    cut = gateway.client.post(
        "/api/v1/submissions",
        content=body,
        headers={**gateway.auth(), "Content-Type": "multipart/form-data; boundary=XyZ"},
    )
    assert cut.status_code == 400
    assert cut.json()["error"]["code"] == "invalid_form"
