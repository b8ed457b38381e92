"""Tables that depend on each other (XML7, XML8, XML13, XML14, XML3 codes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from khoyte.findings import Finding
from khoyte.standards.model import Record, Standard
from khoyte.validate.catalog import make
from khoyte.validate.rules.base import (  # shared helpers
    Context,
)

# ---- tables that depend on each other ----------------------------------------------------------

_XML13_FROM = date(2024, 7, 1)  # QĐ 4750 applied officially


def rule_conditions(rec: Record, ctx: Context) -> Iterator[Finding]:
    if "XML1" not in rec.tables:
        return
    ep = rec.episode
    thuoc = ep.values.get("T_THUOC")
    if (
        isinstance(thuoc, Decimal)
        and thuoc > 0
        and "XML2" not in rec.tables
        and "XML2" not in ctx.broken
    ):
        # Its own finding, in the sender's terms (the payer profile reports it only through
        # the XML1 sums, as khoyte did before profiles).
        yield make(
            "ABSENT",
            code="HOSO.XML2.ABSENT",
            table="XML2",
            value=f"{thuoc:.2f}",
            what_vi="bảng thuốc XML2",
            what_en="the drug table XML2",
        )
    rv = ep.text("MA_LOAI_RV")
    has13 = bool(rec.tables.get("XML13"))
    if has13 and rv not in ("2", "5"):
        yield make(
            "CONDITION",
            code="HOSO.XML13.CONDITION",
            table="XML13",
            field="MA_LOAI_RV",
            value=rv,
            detail=f"có giấy chuyển tuyến (XML13) nhưng MA_LOAI_RV = {rv} (chỉ 2 hoặc 5)",
            detail_en=f"a referral paper (XML13) is sent but MA_LOAI_RV = {rv} (only 2 or 5)",
        )
    if (
        rv in ("2", "5")
        and not has13
        and ctx.standard is Standard.QD130
        and ep.discharged
        and ep.discharged.date() >= _XML13_FROM
    ):
        yield make(
            "ADVICE",
            code="HOSO.XML13.MISSING",
            table="XML13",
            field="MA_LOAI_RV",
            value=rv,
            detail="MA_LOAI_RV cho biết chuyển tuyến nhưng thiếu giấy chuyển tuyến (XML13)",
            detail_en="MA_LOAI_RV says referral but the referral paper (XML13) is missing",
        )
    if rec.tables.get("XML14") and not ep.values.get("NGAY_TAI_KHAM"):
        yield make(
            "ADVICE",
            code="HOSO.XML14.CONDITION",
            table="XML14",
            field="NGAY_TAI_KHAM",
            detail="có giấy hẹn khám lại (XML14) nhưng XML1 không ghi NGAY_TAI_KHAM",
            detail_en="an appointment paper (XML14) is sent but XML1 has no NGAY_TAI_KHAM",
        )
    if rec.tables.get("XML8") and ep.visit_type not in ("03", "04", "06"):
        yield make(
            "ADVICE",
            code="HOSO.XML8.CONDITION",
            table="XML8",
            field="MA_LOAI_KCB",
            value=ep.visit_type,
            detail="tóm tắt hồ sơ bệnh án (XML8) thường chỉ có khi MA_LOAI_KCB là 03, 04, 06",
            detail_en="a record summary (XML8) is expected only with MA_LOAI_KCB 03, 04 or 06",
        )
    for table in ("XML7", "XML11"):
        for row in rec.tables.get(table, []):
            if row.text("MA_DINH_CHI_THAI") == "1":
                needed = (
                    ("NGUYENNHAN_DINHCHI", "THOIGIAN_DINHCHI", "TUOI_THAI")
                    if table == "XML7"
                    else ("NGUYENNHAN_DINHCHI", "TUOI_THAI")
                )
                for name in needed:
                    if row.values.get(name) is None:
                        yield make(
                            "CONDITION",
                            code=f"{table}.{name}.CONDITION",
                            table=table,
                            field=name,
                            detail="bắt buộc khi MA_DINH_CHI_THAI = 1",
                            detail_en="required when MA_DINH_CHI_THAI = 1",
                        )
    for row in rec.services:
        get = row.values.get
        service, supply = get("MA_DICH_VU"), get("MA_VAT_TU")
        if (service and isinstance(service, str)) or (supply and isinstance(supply, str)):
            continue
        yield make(
            "CONDITION",
            code="XML3.MA_DICH_VU.CONDITION",
            table="XML3",
            field="MA_DICH_VU",
            stt=row.stt,
            detail="dòng không có MA_DICH_VU và cũng không có MA_VAT_TU",
            detail_en="the line has neither MA_DICH_VU nor MA_VAT_TU",
        )
