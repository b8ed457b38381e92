"""The field specifications are the Ministry's appendix, and the reader knows every field."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from khoyte.standards.fields import Kind, qd130_tables
from khoyte.standards.layout import QD130_LAYOUTS
from khoyte.standards.qd4210 import QD4210_FIELDS, qd4210_tables
from khoyte.validate.engine import validate_file
from tests.xmlkit import raw_envelope

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "standards" / "qd130-field-tables.md"
SHARED = ROOT.parent / "shared" / "standards" / "qd130-field-tables.md"


def _fields_in_markdown() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^## Bảng .*\((XML\d+)\)", line)
        if m:
            current = m.group(1)
            out[current] = []
        elif current and line.startswith("| "):
            f = re.match(r"^\|[^|]*\| `([A-Z0-9_]+)` \|", line)
            if f:
                out[current].append(f.group(1))
    return out


def test_generated_json_is_up_to_date() -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_fieldspecs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(not SHARED.exists(), reason="shared/ is not beside this checkout")
def test_vendored_copy_equals_shared_standard() -> None:
    assert DOC.read_bytes() == SHARED.read_bytes()


def test_every_table_and_field_of_the_appendix_is_known() -> None:
    md = _fields_in_markdown()
    specs = qd130_tables()
    assert set(md) == set(specs) == {f"XML{i}" for i in range(16)}
    for table, names in md.items():
        assert list(specs[table].names) == names, table
    # Field counts as the notes state them (§4).
    expected = {
        "XML0": 26,
        "XML1": 66,
        "XML2": 39,
        "XML3": 47,
        "XML4": 12,
        "XML5": 9,
        "XML6": 47,
        "XML7": 26,
        "XML8": 22,
        "XML9": 35,
        "XML10": 13,
        "XML11": 23,
        "XML12": 35,
        "XML13": 39,
        "XML14": 22,
        "XML15": 20,
    }
    assert {t: len(s.fields) for t, s in specs.items()} == expected


def test_types_and_lengths_follow_4750_amendments() -> None:
    xml1 = qd130_tables()["XML1"]
    assert xml1.field("MA_LOAI_KCB").type == "string"  # "Đổi kiểu dữ liệu thành chuỗi"
    assert xml1.field("MA_DOITUONG_KCB").max_length == 4  # "Tăng kích thước tối đa lên 4"
    assert xml1.field("SO_CCCD").kind is Kind.TEXT
    assert xml1.field("NGAY_SINH").kind is Kind.BIRTH
    assert xml1.field("T_BHTT").kind is Kind.DECIMAL
    assert xml1.field("MA_BENH_KT").kind is Kind.LIST
    assert qd130_tables()["XML3"].field("MA_KHOA").max_length == 50


def _sample_text(kind: Kind, max_length: int | None) -> str:
    return {
        Kind.TEXT: "A",
        Kind.CODE: "1",
        Kind.INT: "1",
        Kind.DECIMAL: "1.5",
        Kind.DATE: "20250801",
        Kind.DATETIME: "202508010800",
        Kind.BIRTH: "199001010000",
        Kind.DATE_LIST: "20250801",
        Kind.LIST: "A;B",
    }[kind]


@pytest.mark.parametrize("table", [f"XML{i}" for i in range(16)])
def test_reader_reads_every_field(table: str) -> None:
    """A document holding every field of the table is read with no unknown field and every
    value present in the canonical row."""
    spec = qd130_tables()[table]
    lay = QD130_LAYOUTS[table]
    body = "".join(
        f"<{f.name}>{_sample_text(f.kind, f.max_length)}</{f.name}>" for f in spec.fields
    )
    if table in ("XML0", "XML12"):
        doc = f"<{lay.root}><{lay.list_}><{lay.record}>{body}</{lay.record}></{lay.list_}></{lay.root}>"
        res = validate_file(doc.encode(), "t.xml")
    else:
        rec = (
            body
            if lay.single
            else f"<{lay.list_}><{lay.record}>{body}</{lay.record}></{lay.list_}>"
        )
        inner = f"<{lay.root}>{rec}</{lay.root}>".encode()
        files: list[tuple[str, bytes | str]] = [(table, inner)]
        res = validate_file(raw_envelope([files]), "t.xml")
    assert not res.unusable, res.findings
    rr = res.records[0]
    assert not [f for f in rr.findings if f.code.endswith(".UNKNOWN_FIELD")]
    assert rr.record is not None
    row = rr.record.tables[table][0]
    assert set(row.values) == set(spec.names)


def test_4210_tables() -> None:
    t = qd4210_tables()
    assert {k: len(v.fields) for k, v in t.items()} == {k: len(v) for k, v in QD4210_FIELDS.items()}
    assert t["XML1"].field("T_TONGCHI").kind is Kind.DECIMAL
    assert t["XML1"].field("MA_THE").kind is Kind.LIST


def test_generated_docs_are_up_to_date() -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gen_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
