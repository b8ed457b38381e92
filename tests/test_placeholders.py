"""Issue 11, item 3: placeholders (real-world profile §2.8, §3.9) in any table and field are one
finding kind, ``TABLE.FIELD.PLACEHOLDER``, and the value is missing — never 0, never the literal.

Under the hub's reading (``hub_findings=True``); without it khoyte says what it said before
(``tests/test_payer_golden.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from khoyte.findings import Severity
from khoyte.standards import reader as R
from khoyte.standards.convert import convert_row, is_placeholder
from khoyte.standards.model import Record, Standard
from khoyte.standards.reader import RawRow
from khoyte.validate.engine import FileResult, validate_file
from khoyte.validate.policy import Policy, PolicyData, load_policy
from tests.factories import record
from tests.xmlkit import one

RECEIVED = datetime(2025, 8, 5, 12, 0)
# What khoyte emits before a profile judges it: every finding kept as the rule makes it.
EMITTED = Policy(
    "emitted", PolicyData.parse({"profiles": {"emitted": {"default": "keep"}}}, "test")
)


def run(data: bytes, hub: bool = True) -> FileResult:
    """Under the hub's reading, as emitted; without it, as the payer profile says."""
    policy = EMITTED if hub else load_policy("payer")
    return validate_file(data, "p.xml", received_at=RECEIVED, hub_findings=hub, policy=policy)


@pytest.fixture(params=["compiled", "pure"])
def reader_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "pure":
        monkeypatch.setattr(R, "_fastrows", None)
    return str(request.param)


def _row(rec: Record, table: str) -> Any:
    return rec.tables[table][1 if table in ("XML2", "XML3") else 0]


# Each placeholder the profile measured (§2.8, §3.9), where it was measured.
CASES = [
    ("XML1", "T_TONGCHI_BH", "NaN", "NUMBER"),
    ("XML1", "T_BHTT", "NaN", "NUMBER"),
    ("XML1", "T_BNTT", "NaN", "NUMBER"),
    ("XML1", "T_BNCCT", "NaN", "NUMBER"),
    ("XML1", "SO_NGAY_DTRI", "null", "NUMBER"),
    ("XML1", "DIEN_THOAI", "null", None),
    ("XML2", "HAM_LUONG", "null", None),
    ("XML2", "MA_NHOM", "undefined", "CODE"),
    ("XML2", "TEN_THUOC", "undefined", None),
    ("XML4", "MA_CHI_SO", "undefined", None),
    ("XML4", "MA_BS_DOC_KQ", "undefined", None),
    ("XML1", "SO_CCCD", ".", None),
    ("XML1", "LY_DO_VV", "None", None),
    ("XML1", "CHAN_DOAN_VAO", "(..........)", None),
    ("XML1", "CHAN_DOAN_RV", "……", None),
    ("XML3", "SO_LUONG", "Không có dữ liệu", "NUMBER"),  # words in a number field
    ("XML1", "CAN_NANG", "NULL", None),
]


@pytest.mark.parametrize(("table", "field", "text", "type_rule"), CASES)
def test_placeholder_is_one_finding_and_the_value_is_missing(
    table: str, field: str, text: str, type_rule: str | None, reader_path: str
) -> None:
    rec = record("LKPH")
    _row(rec, table).values[field] = text
    res = run(one(rec))
    (rr,) = res.records
    found = [f for f in rr.findings if f.code == f"{table}.{field}.PLACEHOLDER"]
    assert len(found) == 1, [f.code for f in rr.findings]
    ph = found[0]
    assert ph.severity is Severity.WARNING
    assert ph.value == text
    assert field in ph.message_vi
    assert "giữ chỗ" in ph.message_vi
    assert "placeholder" in ph.message_en
    # The value is missing in the typed record: not the literal, not 0.
    assert rr.record is not None
    assert field not in _row(rr.record, table).values
    if type_rule is not None:
        # Today's finding of the field's type stays, at the same place (the policy layer drops
        # one of the two under `hub`).
        typ = [f for f in rr.findings if f.code == f"{table}.{field}.{type_rule}"]
        assert typ, [f.code for f in rr.findings]
        if type_rule != "CODE":  # a code list is checked by a rule on the record
            assert (typ[0].table, typ[0].stt, typ[0].field) == (ph.table, ph.stt, ph.field)


@pytest.mark.parametrize(("table", "field", "text", "type_rule"), CASES)
def test_without_the_hub_reading_khoyte_says_what_it_said_before(
    table: str, field: str, text: str, type_rule: str | None
) -> None:
    rec = record("LKPH")
    _row(rec, table).values[field] = text
    rr = run(one(rec), hub=False).records[0]
    assert not any(f.code.endswith(".PLACEHOLDER") for f in rr.findings)
    assert rr.record is not None
    if type_rule is None:  # a text field keeps what was sent
        assert _row(rr.record, table).values[field] == text
    else:
        assert any(f.code == f"{table}.{field}.{type_rule}" for f in rr.findings)


def test_compiled_and_pure_readers_agree_on_placeholders(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = record("LKALL", inpatient=True)
    for table, field, text, _ in CASES:
        _row(rec, table).values[field] = text
    data = one(rec)
    fast = run(data)
    with monkeypatch.context() as m:
        m.setattr(R, "_fastrows", None)
        pure = run(data)
    assert fast.as_dict() == pure.as_dict()
    assert fast.records[0].record == pure.records[0].record
    n = sum(f.code.endswith(".PLACEHOLDER") for f in fast.records[0].findings)
    assert n == len(CASES)


def test_tables_without_a_test_document_of_their_own() -> None:
    """XML9 ``SO_CON`` as a 29-character text (47/49 real records) and XML13 dotted templates,
    read at the level of one line."""
    values, findings, _ = convert_row(
        Standard.QD130,
        "XML9",
        RawRow({"MA_LK": "LK9", "SO_CON": "Chưa xác định số con sinh ra"}),
        1,
        hub=True,
    )
    assert "SO_CON" not in values
    assert [f.code for f in findings] == [  # as measured on real files, and the placeholder
        "XML9.SO_CON.MAX_LENGTH",
        "XML9.SO_CON.NUMBER",
        "XML9.SO_CON.PLACEHOLDER",
    ]
    values, findings, _ = convert_row(
        Standard.QD130,
        "XML13",
        RawRow({"MA_LK": "LK13", "GIAY_CHUYEN_TUYEN": "...../.....", "SO_HOSO": "……"}),
        None,
        hub=True,
    )
    assert {f.code for f in findings} == {
        "XML13.GIAY_CHUYEN_TUYEN.PLACEHOLDER",
        "XML13.SO_HOSO.PLACEHOLDER",
    }
    assert "GIAY_CHUYEN_TUYEN" not in values
    assert "SO_HOSO" not in values


@pytest.mark.parametrize(
    "text",
    ["NaN", "nan", "null", "NULL", "undefined", "None", "n/a", "#N/A", ".", ".....", "……",
     "(..........)", "___", "…/…/…", "[...]"],
)  # fmt: skip
def test_what_is_a_placeholder(text: str) -> None:
    assert is_placeholder(text)


@pytest.mark.parametrize(
    "text",
    ["0", "-0.00", "Nam", "Nữ", "Nguyễn Văn A", "Ngày 1", "...Viêm phổi", "(1)", "( )", "-",
     "N18.8", "nulla", "Undefinedness", "u", "0912345678", "Na"],
)  # fmt: skip
def test_what_is_not_a_placeholder(text: str) -> None:
    assert not is_placeholder(text)


def test_an_unreadable_number_is_missing_not_zero() -> None:
    """Issue 11: "the field's unreadable value stored as missing, never as 0" — with and
    without the hub's reading."""
    for hub in (False, True):
        values, findings, _ = convert_row(
            Standard.QD130, "XML1", RawRow({"MA_LK": "LK", "T_BHTT": "1.2.3"}), 1, hub=hub
        )
        assert "T_BHTT" not in values
        assert [f.code for f in findings] == ["XML1.T_BHTT.NUMBER"]  # not a placeholder


def test_under_the_hub_profile_a_placeholder_is_one_warning() -> None:
    """End to end with the product's default profile: the type's finding is dropped where a
    placeholder says it, and the record is accepted with a warning."""
    rec = record("LKHUB")
    rec.episode.values["T_BNCCT"] = "NaN"  # type: ignore[assignment]
    rec.drugs[0].values["HAM_LUONG"] = "null"
    res = validate_file(one(rec), "h.xml", received_at=RECEIVED, policy=load_policy("hub"))
    (rr,) = res.records
    codes = [f.code for f in rr.findings]
    assert "XML1.T_BNCCT.PLACEHOLDER" in codes
    assert "XML2.HAM_LUONG.PLACEHOLDER" in codes
    assert "XML1.T_BNCCT.NUMBER" not in codes
    assert all(f.severity is not Severity.ERROR for f in rr.findings)
    assert rr.record is not None
    assert "T_BNCCT" not in rr.record.episode.values
