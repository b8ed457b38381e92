"""The shortcuts the record rules take for the usual, clean case (exact comparison before the
1-đồng tolerance, remembered code combinations, in-order timestamps) never hide a finding."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D

from khoyte.findings import Finding, Severity
from khoyte.standards.model import Record
from khoyte.validate.rules import RECORD_RULES, Context
from tests.factories import record

RECEIVED = datetime(2025, 8, 5, 12, 0)


def findings(rec: Record) -> list[Finding]:
    ctx = Context(received_at=RECEIVED)
    return [f for rule in RECORD_RULES for f in rule(rec, ctx)]


def test_clean_record_twice_has_no_findings() -> None:
    rec = record("LK0001", inpatient=True)
    assert findings(rec) == []
    assert findings(rec) == []  # with every cache warm


def test_a_bad_code_is_found_after_the_same_combination_passed() -> None:
    rec = record("LK0001")
    assert findings(rec) == []
    rec.drugs[1].values["PHAM_VI"] = "9"
    got = [(f.code, f.stt, f.value) for f in findings(rec)]
    assert got == [("XML2.PHAM_VI.CODE", 2, "9")]
    # Once more, now that the good combination of line 1 is remembered.
    assert [(f.code, f.stt, f.value) for f in findings(rec)] == got
    rec.drugs[0].values["THANG_QT"] = 13
    assert ("XML2.THANG_QT.CODE", 1, "13") in [(f.code, f.stt, f.value) for f in findings(rec)]


def test_unhashable_code_value_is_checked_the_long_way() -> None:
    rec = record("LK0001")
    rec.drugs[0].values["MA_NHOM"] = ["4"]  # not a string: no code-list finding
    assert [f.code for f in findings(rec) if f.code.endswith(".CODE")] == []


def test_required_field_present_but_none() -> None:
    rec = record("LK0001")
    rec.drugs[0].values["TEN_THUOC"] = None
    got = [(f.code, f.stt) for f in findings(rec)]
    assert got == [("XML2.TEN_THUOC.REQUIRED", 1)]


def test_line_formulas_with_service_and_insurance_ratios() -> None:
    rec = record("LK0001")
    line = rec.services[0].values
    # 2 × 38700 × 50 % = 38700; × 80 % = 30960 for the fund's share.
    line.update(
        SO_LUONG=D("2"),
        DON_GIA_BV=D("38700"),
        DON_GIA_BH=D("38700"),
        TYLE_TT_DV=50,
        TYLE_TT_BH=80,
        THANH_TIEN_BV=D("38700.00"),
        THANH_TIEN_BH=D("30960.00"),
    )
    got = [f for f in findings(rec) if f.code.endswith(".FORMULA") and f.table == "XML3"]
    assert got == []
    line["THANH_TIEN_BH"] = D("30962.50")  # off by 2.50
    got = [f for f in findings(rec) if f.table == "XML3" and f.field == "THANH_TIEN_BH"]
    assert [(f.code, f.value) for f in got] == [("XML3.THANH_TIEN_BH.FORMULA", "30962.50")]
    assert "30960.00" in got[0].message_vi
    assert "2.50" in got[0].message_vi
    assert "TYLE_TT_DV/100" in got[0].message_vi
    line["THANH_TIEN_BH"] = D("30961.00")  # within 1 đồng
    assert [f for f in findings(rec) if f.table == "XML3" and f.field == "THANH_TIEN_BH"] == []


def test_split_formulas_in_order() -> None:
    rec = record("LK0001")
    line = rec.drugs[0].values
    line["T_BHTT"] = line["T_BHTT"] + D("5")  # type: ignore[operator]
    line["T_BNTT"] = D("7.00")
    got = [(f.code, f.field) for f in findings(rec) if f.table == "XML2"]
    assert got == [
        ("XML2.T_BHTT.SPLIT", "T_BHTT"),
        ("XML2.T_BNCCT.SPLIT", "T_BNCCT"),
        ("XML2.T_BNTT.SPLIT", "T_BNTT"),
    ]


def test_order_of_line_timestamps_date_only_and_reversed() -> None:
    rec = record("LK0001")
    yl = rec.drugs[0].values["NGAY_YL"]
    assert isinstance(yl, datetime)
    rec.drugs[0].values["NGAY_TH_YL"] = datetime(yl.year, yl.month, yl.day, yl.hour, 0)
    rec.drugs[0].values["NGAY_YL"] = datetime(yl.year, yl.month, yl.day, yl.hour, 30)
    rec.drugs[1].values["NGAY_TH_YL"] = date(yl.year, yl.month, yl.day)  # a day only: in order
    rec.services[0].values.pop("NGAY_TH_YL")  # nothing to compare
    got = [(f.code, f.severity, f.stt) for f in findings(rec) if f.code.endswith(".ORDER")]
    assert got == [("XML2.NGAY_TH_YL.ORDER", Severity.WARNING, 1)]


def test_future_timestamps_in_field_order() -> None:
    rec = record("LK0001")
    ep = rec.episode.values
    ep["NGAY_TTOAN"] = datetime(2025, 8, 9)
    ep["NGAY_RA"] = datetime(2025, 8, 9)
    got = [f.code for f in findings(rec) if f.code.endswith(".FUTURE")]
    assert got == ["XML1.NGAY_RA.FUTURE", "XML1.NGAY_TTOAN.FUTURE"]
