"""Recognising exporter conventions (``validate/conventions.py``) behind findings.

A finding is tagged with a convention only when the record shows that convention's signature —
not merely because the code is one the convention can explain. For example ``XML1.T_THUOC.SUM``
is ``T_THUOC_FUND_BASIS`` only when ``T_THUOC`` equals the fund-paid amount of the drug lines,
and ``DRUG_LINES_ABSENT`` only when XML2 is missing while ``T_THUOC`` > 0. Under the ``hub``
profile the message then says so in plain words; under ``payer`` it is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from khoyte.findings import Finding
from khoyte.standards.model import Record, Row
from khoyte.validate.conventions import CONVENTIONS

ONE = Decimal(1)
_CCHN = re.compile(r"\d{3,8}/[A-Z]{2,4}-[A-Z]{2,6}", re.ASCII)
_DATE8 = re.compile(r"\d{8}", re.ASCII)


def _dec(row: Row, name: str) -> Decimal | None:
    v = row.values.get(name)
    return v if isinstance(v, Decimal) else None


def _sum(rows: list[Row], name: str) -> Decimal:
    total = Decimal(0)
    for r in rows:
        v = r.values.get(name)
        if isinstance(v, Decimal):
            total += v
    return total


def _line(rec: Record, f: Finding) -> Row | None:
    if f.stt is None or f.table is None:
        return None
    for r in rec.rows(f.table):
        if r.stt == f.stt:
            return r
    return None


def _head(rec: Record) -> Row | None:
    rows = rec.tables.get("XML1")
    return rows[0] if rows else None


def _drugs_absent(rec: Record, f: Finding) -> bool:
    head = _head(rec)
    if head is None or rec.tables.get("XML2"):
        return False
    thuoc = _dec(head, "T_THUOC")
    return thuoc is not None and thuoc > 0


def _gdv_zero(rec: Record, f: Finding) -> bool:
    head = _head(rec)
    return head is not None and _dec(head, "T_BHTT_GDV") == 0


def _fund_basis(rec: Record, f: Finding) -> bool:
    head, drugs = _head(rec), rec.drugs
    if head is None or not drugs:
        return False
    thuoc = _dec(head, "T_THUOC")
    if thuoc is None:
        return False
    tol = max(ONE, Decimal("0.01") * len(drugs))
    return any(abs(thuoc - _sum(drugs, n)) <= tol for n in ("T_BHTT", "THANH_TIEN_BH"))


def _markup(rec: Record, f: Finding) -> bool:
    row = _line(rec, f)
    if row is None:
        return False
    bv, bh = _dec(row, "THANH_TIEN_BV"), _dec(row, "THANH_TIEN_BH")
    ratio = row.values.get("TYLE_TT_BH")
    if bv is None or bh is None or bh <= 0 or not isinstance(ratio, int) or ratio <= 0:
        return False
    share = bv * ratio / 100 / bh
    return Decimal("0.5") <= share <= Decimal(2)


def _days_24h(rec: Record, f: Finding) -> bool:
    head = _head(rec)
    if head is None:
        return False
    days = head.values.get("SO_NGAY_DTRI")
    loai = head.values.get("MA_LOAI_KCB")
    if not isinstance(days, int):
        return False
    if loai == "02":
        return days == 0
    start = head.values.get("NGAY_VAO_NOI_TRU") or head.values.get("NGAY_VAO")
    end = head.values.get("NGAY_RA")
    if not isinstance(start, datetime) or not isinstance(end, datetime) or end < start:
        return False
    return days == int((end - start).total_seconds() // 86400)


def _copay(rec: Record, f: Finding) -> bool:
    if f.table in ("XML2", "XML3"):
        row = _line(rec, f)
        if row is None:
            return False
        bv, bhtt = _dec(row, "THANH_TIEN_BV"), _dec(row, "T_BHTT")
        bntt, bncct = _dec(row, "T_BNTT"), _dec(row, "T_BNCCT")
        if bv is None or bhtt is None or bntt is None:
            return False
        return (bncct or 0) == 0 and abs(bntt - (bv - bhtt)) <= ONE
    head = _head(rec)
    if head is None:
        return False
    lines = rec.drugs + rec.services
    a, b = _dec(head, "T_BNTT"), _dec(head, "T_BNCCT")
    if a is None or b is None or not lines:
        return False
    tol = max(ONE, Decimal("0.01") * len(lines))
    return abs((a + b) - (_sum(lines, "T_BNTT") + _sum(lines, "T_BNCCT"))) <= tol


def _muc_huong(rec: Record, f: Finding) -> bool:
    row = _line(rec, f)
    if row is None or row.values.get("MUC_HUONG") != 100:
        return False
    bh, bhtt = _dec(row, "THANH_TIEN_BH"), _dec(row, "T_BHTT")
    if bh is None or bhtt is None or bh <= 0:
        return False
    share = bhtt * 100 / bh
    return any(abs(share - p) <= Decimal("0.5") for p in (80, 95))


def _dv_bh_only(rec: Record, f: Finding) -> bool:
    row = _line(rec, f)
    if row is None:
        return False
    dv = row.values.get("TYLE_TT_DV")
    qty, price, bv = _dec(row, "SO_LUONG"), _dec(row, "DON_GIA_BV"), _dec(row, "THANH_TIEN_BV")
    if not isinstance(dv, int) or dv == 100 or qty is None or price is None or bv is None:
        return False
    return abs(bv - qty * price) <= ONE


def _cchn(rec: Record, f: Finding) -> bool:
    return f.value is not None and _CCHN.fullmatch(f.value) is not None


def _date8(rec: Record, f: Finding) -> bool:
    return f.value is not None and _DATE8.fullmatch(f.value) is not None


Signature = Callable[[Record, Finding], bool]

# finding code (``*`` for any table) → the conventions that may explain it, tried in order.
_BY_CODE: dict[str, tuple[tuple[str, Signature], ...]] = {
    "XML1.T_BHTT_GDV.SUM": (("GDV_ZERO", _gdv_zero),),
    "XML1.T_THUOC.SUM": (("DRUG_LINES_ABSENT", _drugs_absent), ("T_THUOC_FUND_BASIS", _fund_basis)),
    "HOSO.XML2.ABSENT": (("DRUG_LINES_ABSENT", _drugs_absent),),
    "XML1.T_TONGCHI_BV.SUM": (("DRUG_LINES_ABSENT", _drugs_absent),),
    "XML1.T_TONGCHI_BH.SUM": (("DRUG_LINES_ABSENT", _drugs_absent),),
    "XML1.T_BHTT.SUM": (("DRUG_LINES_ABSENT", _drugs_absent),),
    "XML1.T_BNTT.SUM": (("DRUG_LINES_ABSENT", _drugs_absent), ("COPAY_IN_BNTT", _copay)),
    "XML1.T_BNCCT.SUM": (("DRUG_LINES_ABSENT", _drugs_absent), ("COPAY_IN_BNTT", _copay)),
    "XML2.THANH_TIEN_BH.FORMULA": (("DRUG_MARKUP", _markup),),
    "XML1.SO_NGAY_DTRI.RULE": (("DAYS_24H_FROM_WARD", _days_24h),),
    "XML3.T_BNTT.SPLIT": (("COPAY_IN_BNTT", _copay),),
    "XML3.T_BNCCT.SPLIT": (("COPAY_IN_BNTT", _copay),),
    "XML2.T_BHTT.SPLIT": (("MUC_HUONG_NOMINAL", _muc_huong),),
    "XML3.T_BHTT.SPLIT": (("MUC_HUONG_NOMINAL", _muc_huong),),
    "XML3.THANH_TIEN_BV.FORMULA": (("TYLE_DV_BH_ONLY", _dv_bh_only),),
    "*.MA_TTDV.MAX_LENGTH": (("MA_TTDV_CCHN", _cchn),),
    "*.NGAY_HEN_KL.DATETIME": (("DATE_8_DIGITS", _date8),),
}


def _candidates(code: str) -> tuple[tuple[str, Signature], ...]:
    hit = _BY_CODE.get(code)
    if hit is None and "." in code:
        hit = _BY_CODE.get("*." + code.split(".", 1)[1])
    return hit or ()


def recognise(rec: Record | None, findings: list[Finding], *, explain: bool) -> list[Finding]:
    """Tag each finding a convention explains; with ``explain`` say so in its message."""
    if rec is None or not findings:
        return findings
    out = findings
    for i, f in enumerate(findings):
        for code, signature in _candidates(f.code):
            if signature(rec, f):
                if out is findings:
                    out = list(findings)
                out[i] = _tagged(f, code, explain)
                break
    return out


def _tagged(f: Finding, code: str, explain: bool) -> Finding:
    if not explain:
        return replace(f, convention=code)
    c = CONVENTIONS[code]
    return replace(
        f,
        convention=code,
        message_vi=f"{f.message_vi} Quy ước của phần mềm xuất dữ liệu ({code}): {c.vi}; "
        "khoyte ghi nhận và vẫn đếm lượt khám này.",
        message_en=f"{f.message_en} Exporter convention ({code}): {c.en}; khoyte notes it and "
        "still counts this visit.",
    )
