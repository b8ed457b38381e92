"""Dirty mode: the quirks and errors real exports contain (standard notes §9), injected so that
each one yields exactly predictable findings, and listed in the manifest with the file, table,
MA_LK, field and the finding codes the validator must report (none for tolerated quirks).

Record-level defects change one value of the canonical record before writing (the writer writes a
``str`` as is, so ``NaN`` or ``12345,50`` reach the file exactly as a faulty exporter writes
them); byte-level defects (BOM, wrong ``xsi`` URI, broken base64, non-UTF-8 table, duplicate
``HOSO``, duplicate file) are applied to the written bytes. Defects are injected into QĐ 130
records only: QĐ 4210 files would report the same defects under the old field names.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from khoyte.standards.model import Record, Standard
from khoyte.standards.writer import DocumentWriter
from khoyte.synth.fastwrite import envelope, table_document

BOM = b"\xef\xbb\xbf"
WRONG_XSI = b' xmlns:xsi="http://www.w3.org/2001/XMLSchema instance"'


@dataclass(slots=True)
class Defect:
    kind: str
    file: str
    ma_lk: str | None
    table: str | None
    field: str | None
    value: str | None
    expected: list[str]  # finding codes the validator must report (empty: tolerated quirk)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "ma_lk": self.ma_lk,
            "table": self.table,
            "field": self.field,
            "value": self.value,
            "expected": self.expected,
        }


# kind → what it needs in the record
_RECORD_KINDS = (
    "sum_total",
    "nan_amount",
    "null_days",
    "text_code",
    "comma_decimal",
    "missing_xml1",
    "wrong_ma_lk",
    "unknown_icd",
    "bad_icd",
    "invalid_date",
    "wrong_facility",
    "bad_card",
    "cccd_shape",
    "broken_base64",
    "not_utf8",
    "wrong_xsi",
    "short_code",
    "duplicate_hoso",
)


def _applicable(kind: str, rec: Record) -> bool:
    ep = rec.episode
    if kind in ("text_code", "comma_decimal"):
        return bool(rec.drugs)
    if kind == "wrong_ma_lk":
        return bool(rec.services)
    if kind in ("broken_base64", "not_utf8"):
        return bool(rec.labs)
    if kind == "bad_card":
        return bool(ep.cards)
    if kind == "cccd_shape":
        return ep.text("SO_CCCD") is not None
    if kind == "missing_xml1":
        return len(rec.tables) > 1
    if kind == "invalid_date":  # an exporter family's interim record has no NGAY_RA
        return isinstance(ep.get("NGAY_RA"), datetime)
    return True


@dataclass(slots=True)
class FileDefects:
    """What to do to one file after writing it."""

    records: list[Record]
    defects: list[Defect] = field(default_factory=list)
    byte_edits: list[tuple[str, Record, str]] = field(default_factory=list)  # (kind, record, table)
    duplicates: list[Record] = field(default_factory=list)
    bom: bool = False
    copy: bool = False


def plan_file(
    records: list[Record], name: str, rate: float, r: random.Random, facilities: list[str]
) -> FileDefects:
    fd = FileDefects(records)
    if rate <= 0:
        return fd
    if r.random() < rate * 0.3:
        fd.bom = True
        fd.defects.append(Defect("bom", name, None, None, None, None, []))
    if r.random() < rate * 0.1:
        fd.copy = True  # a resent file: identical bytes under another name, listed in generate
        return fd
    for rec in records:
        if rec.standard is not Standard.QD130 or r.random() >= rate:
            continue
        kinds = [k for k in _RECORD_KINDS if _applicable(k, rec)]
        kind = kinds[r.randrange(len(kinds))]
        fd.defects.append(_inject(kind, rec, name, r, facilities, fd))
    return fd


def _inject(
    kind: str, rec: Record, name: str, r: random.Random, facilities: list[str], fd: FileDefects
) -> Defect:
    ep = rec.episode.values
    lk = rec.ma_lk

    def d(table: str | None, fld: str | None, value: str | None, *codes: str) -> Defect:
        return Defect(kind, name, lk, table, fld, value, list(codes))

    if kind == "sum_total":
        v = ep["T_TONGCHI_BV"]
        assert isinstance(v, Decimal)
        ep["T_TONGCHI_BV"] = v + Decimal(r.choice((1000, 5000, 20000)))
        return d("XML1", "T_TONGCHI_BV", str(ep["T_TONGCHI_BV"]), "XML1.T_TONGCHI_BV.SUM")
    if kind == "nan_amount":
        ep["T_THUOC"] = "NaN"
        return d("XML1", "T_THUOC", "NaN", "XML1.T_THUOC.NUMBER")
    if kind == "null_days":
        ep["SO_NGAY_DTRI"] = "null"
        return d(
            "XML1",
            "SO_NGAY_DTRI",
            "null",
            "XML1.SO_NGAY_DTRI.MAX_LENGTH",
            "XML1.SO_NGAY_DTRI.NUMBER",
        )
    if kind == "text_code":
        text = r.choice(("undefined", "Nhóm 1"))
        rec.drugs[0].values["MA_NHOM"] = text
        # Longer than the field's 2 characters as well as not a code: two findings.
        return d("XML2", "MA_NHOM", text, "XML2.MA_NHOM.MAX_LENGTH", "XML2.MA_NHOM.CODE")
    if kind == "comma_decimal":
        row = rec.drugs[0].values
        v = row["THANH_TIEN_BV"]
        text = f"{v:.2f}".replace(".", ",")
        row["THANH_TIEN_BV"] = text
        return d("XML2", "THANH_TIEN_BV", text, "XML2.THANH_TIEN_BV.DECIMAL_COMMA")
    if kind == "missing_xml1":
        del rec.tables["XML1"]
        return d("XML1", None, None, "HOSO.XML1.MISSING")
    if kind == "wrong_ma_lk":
        wrong = lk[:-1] + str((int(lk[-1]) + 1) % 10)
        rec.services[0].values["MA_LK"] = wrong
        return d("XML3", "MA_LK", wrong, "XML3.MA_LK.LINK")
    if kind == "unknown_icd":
        ep["MA_BENH_CHINH"] = "U99.9"
        return d("XML1", "MA_BENH_CHINH", "U99.9", "XML1.MA_BENH_CHINH.ICD10_UNKNOWN")
    if kind == "bad_icd":
        code = str(ep["MA_BENH_CHINH"]).replace(".", "-") + (
            "" if "." in str(ep["MA_BENH_CHINH"]) else "-"
        )
        ep["MA_BENH_CHINH"] = code
        return d("XML1", "MA_BENH_CHINH", code, "XML1.MA_BENH_CHINH.ICD10_FORMAT")
    if kind == "invalid_date":
        ra = ep["NGAY_RA"]
        assert isinstance(ra, datetime)
        text = f"{ra:%Y}0230{ra:%H%M}"  # 30 February
        ep["NGAY_RA"] = text
        return d("XML1", "NGAY_RA", text, "XML1.NGAY_RA.DATETIME")
    if kind == "wrong_facility":
        own = str(ep["MA_CSKCB"])
        other = next((f for f in facilities if f != own), own[:2] + "999")
        ep["MA_CSKCB"] = other
        return d("XML1", "MA_CSKCB", other, "XML1.MA_CSKCB.FACILITY")
    if kind == "bad_card":
        card = rec.episode.cards[0][:-1]
        ep["MA_THE_BHYT"] = [card]
        return d("XML1", "MA_THE_BHYT", card, "XML1.MA_THE_BHYT.FORMAT")
    if kind == "cccd_shape":
        short = str(ep["SO_CCCD"])[:10]
        ep["SO_CCCD"] = short
        return d("XML1", "SO_CCCD", short, "XML1.SO_CCCD.SHAPE")
    if kind == "short_code":
        ep["MA_LOAI_KCB"] = str(ep["MA_LOAI_KCB"]).lstrip("0")  # "01" written as the number 1
        return d("XML1", "MA_LOAI_KCB", str(ep["MA_LOAI_KCB"]))
    if kind in ("broken_base64", "not_utf8"):
        rec.labs[0].values["MO_TA"] = "Kết quả đã đối chiếu"  # non-ASCII text to mis-encode
        fd.byte_edits.append((kind, rec, "XML4"))
        code = "HOSO.XML4.BASE64" if kind == "broken_base64" else "HOSO.XML4.ENCODING"
        return d("XML4", "NOIDUNGFILE", None, code)
    if kind == "wrong_xsi":
        fd.byte_edits.append((kind, rec, "XML1"))
        return d("XML1", None, None)
    # duplicate_hoso: the same visit twice in one file; the second copy is reported.
    fd.duplicates.append(rec)
    return d(None, "MA_LK", lk, "HOSO.MA_LK.DUPLICATE")


def render(
    fd: FileDefects, facility: str, created: Any, document: DocumentWriter | None = None
) -> bytes:
    """The file's bytes with the planned defects applied (``document``: an exporter family's
    inner-document writer)."""
    data = envelope(
        fd.records + fd.duplicates,
        facility,
        created,
        Standard.QD130 if all(r.standard is Standard.QD130 for r in fd.records) else None,
        document,
    )
    write = document or table_document
    for kind, rec, table in fd.byte_edits:
        doc = write(rec.standard, table, rec.tables[table])
        old = base64.b64encode(doc)
        if kind == "broken_base64":
            new = old[:20] + b"!*" + old[22:]
        elif kind == "not_utf8":
            new = base64.b64encode(doc.decode("utf-8").encode("cp1258", errors="replace"))
        elif WRONG_XSI in doc:  # the exporter family writes it already: nothing to add
            continue
        else:
            root_end = doc.index(b">", doc.index(b"?>") + 2 if doc.startswith(b"<?") else 0)
            new = base64.b64encode(doc[:root_end] + WRONG_XSI + doc[root_end:])
        data = data.replace(old, new, 1)
    return BOM + data if fd.bom else data
