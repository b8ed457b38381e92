"""Receipts as each caller may see them: findings quote the values they are about, and some of
those values identify a patient (card number, CCCD, name, address, birth date, free text about
the person). Those are shown only to who may see record content (``Permission.VIEW_RECORDS``)
and to the facility's own system that sent them; everyone else (a DoH specialist reading
receipts for data quality) gets the same receipt with those values and the messages quoting
them replaced by value-free messages (security test 2026-12, F4).

:func:`for_principal` is the one function every place that serves a receipt goes through; a
view that did show identifying values is audited (``receipt.view``) by :func:`serve`.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from khoyte.access import Permission, Principal, audit_event
from khoyte.standards.personal import is_identifying as is_identifying  # one list of fields
from khoyte.validate.catalog import RULES

# Defence in depth for messages of other findings: what looks like a CCCD (12 digits, the first
# a 0: province codes are 001-096, while 12-digit dates start with 1 or 2), a card number
# (2 letters + 13 digits) or a phone number (0 + 9 digits) is masked anyway.
_LOOKS_PERSONAL = re.compile(r"(?<![0-9A-Za-z])(0\d{11}|0\d{9}|[A-Z]{2}\d{13})(?![0-9A-Za-z])")
MASK = "•••"


def may_see_identifiers(principal: Principal) -> bool:
    """Record-viewing users, and the facility's own system (it sent these values)."""
    return Permission.VIEW_RECORDS in principal.permissions or principal.kind == "facility"


def _location(table: str | None, stt: int | None, field: str | None, en: bool) -> str:
    parts = []
    if table:
        parts.append(f"Table {table}" if en else f"Bảng {table}")
    if stt is not None:
        parts.append(f"line STT {stt}" if en else f"dòng STT {stt}")
    if field:
        parts.append(f"field {field}" if en else f"trường {field}")
    return ", ".join(parts)


def redact_finding(f: dict[str, Any]) -> dict[str, Any]:
    """The finding without the identifying value (and without a message quoting it)."""
    if is_identifying(f.get("field")):
        rule = RULES.get(str(f.get("code", "")).rsplit(".", 1)[-1])
        loc_vi = _location(f.get("table"), f.get("stt"), f.get("field"), en=False)
        loc_en = _location(f.get("table"), f.get("stt"), f.get("field"), en=True)
        return {
            **f,
            "value": None,
            "redacted": True,
            "message_vi": f"{loc_vi}: giá trị không đạt quy tắc {f.get('code')} (giá trị định "
            "danh người bệnh được ẩn; người có quyền xem hồ sơ xem được đầy đủ)."
            + (f" {rule.fix_vi}" if rule else ""),
            "message_en": f"{loc_en}: the value fails rule {f.get('code')} (patient-identifying "
            "values are hidden; users who may view records see them)."
            + (f" {rule.fix_en}" if rule else ""),
        }
    out = dict(f)
    for key in ("value", "message_vi", "message_en"):
        if isinstance(out.get(key), str):
            out[key] = _LOOKS_PERSONAL.sub(MASK, out[key])
    return out


def _findings(receipt: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(receipt.get("findings") or [])
    for rec in receipt.get("records") or []:
        found.extend(rec.get("findings") or [])
    return found


def identifying_count(receipt: dict[str, Any]) -> int:
    """How many findings quote an identifying value."""
    return sum(
        1
        for f in _findings(receipt)
        if f.get("value") is not None and is_identifying(f.get("field"))
    )


def redact(receipt: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(receipt)
    out["findings"] = [redact_finding(f) for f in out.get("findings") or []]
    for rec in out.get("records") or []:
        rec["findings"] = [redact_finding(f) for f in rec.get("findings") or []]
    out["redacted"] = True
    return out


def for_principal(principal: Principal, receipt: dict[str, Any]) -> dict[str, Any]:
    """The receipt as ``principal`` may see it."""
    return receipt if may_see_identifiers(principal) else redact(receipt)


def serve(request: Request, principal: Principal, raw: str) -> Response:
    """A stored receipt (JSON text) answered to ``principal``: redacted, or shown and audited
    when it quotes identifying values."""
    receipt = json.loads(raw)
    if not may_see_identifiers(principal):
        body = json.dumps(redact(receipt), ensure_ascii=False, separators=(",", ":"))
        return Response(body, media_type="application/json")
    shown = identifying_count(receipt)
    if shown:
        audit_event(
            request,
            principal,
            "receipt.view",
            f"submission:{receipt.get('id')}",
            details={"identifying_findings": shown, "facility": receipt.get("facility")},
        )
    return Response(raw, media_type="application/json")
