"""The compiled reader (``khoyte.standards._fastrows``) gives the pure-Python reader's results.

Every comparison reads the same bytes twice, once with the accelerator and once without it, and
compares everything a caller sees: the file's JSON (status, counts, every finding with its
message) and every typed value of every row.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khoyte.standards import reader as R
from khoyte.standards.convert import convert_row, fast_plan
from khoyte.standards.layout import QD130_LAYOUTS
from khoyte.standards.model import DrugLine, Row, Standard
from khoyte.standards.safexml import parse_document
from khoyte.validate.engine import FileResult, validate_file
from tests.factories import as_4210, drug_line, record
from tests.synth_helpers import RECEIVED, generate
from tests.xmlkit import hoso_files, one, raw_envelope

ACCEL = R._fastrows


def test_the_accelerator_is_built() -> None:
    # `uv sync` compiles it (hatch_build.py). Without it khoyte still works, on the slower
    # pure-Python path; the test environment must have it so that both paths are compared.
    assert ACCEL is not None, "khoyte.standards._fastrows is not built: run `uv sync`"


def _snapshot(res: FileResult) -> dict[str, Any]:
    out = res.as_dict()
    out["values"] = [
        {t: [row.values for row in rows] for t, rows in r.record.tables.items()}
        if r.record is not None
        else None
        for r in res.records
    ]
    return out


def _both(data: bytes, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, Any]:
    fast = _snapshot(validate_file(data, "f.xml", received_at=RECEIVED, **kw))
    with monkeypatch.context() as m:
        m.setattr(R, "_fastrows", None)
        pure = _snapshot(validate_file(data, "f.xml", received_at=RECEIVED, **kw))
    return fast, pure


def test_synthetic_dirty_province_reads_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(
        tmp_path,
        seed=23,
        population=1500,
        start=date(2025, 6, 2),
        end=date(2025, 6, 15),
        dirty=0.4,
    )
    files = sorted((tmp_path / "xml").rglob("*.xml"))
    assert len(files) > 20
    typed_rows = 0
    for p in files:
        fast, pure = _both(p.read_bytes(), monkeypatch)
        assert fast == pure, p
        typed_rows += sum(len(rows) for v in fast["values"] if v for rows in v.values())
    assert typed_rows > 500


def _doc(table: str, rows_xml: list[str], root_attrs: str = "", wrap: bool = True) -> bytes:
    lay = QD130_LAYOUTS[table]
    if lay.single:
        return f"<{lay.root}{root_attrs}>{rows_xml[0]}</{lay.root}>".encode()
    inner = "".join(f"<{lay.record}>{r}</{lay.record}>" for r in rows_xml)
    if wrap and lay.list_:
        inner = f"<{lay.list_}>{inner}</{lay.list_}>"
    return f"<{lay.root}{root_attrs}>{inner}</{lay.root}>".encode()


def _weird_documents() -> Iterator[tuple[str, list[tuple[str, bytes | str]]]]:
    rec = record("LKWEIRD01", inpatient=True)
    base = dict(hoso_files(rec))
    xml1 = base["XML1"]
    assert isinstance(xml1, bytes)
    yield "plain", list(base.items())
    yield (
        "namespaced",
        [
            (t, d.replace(b"<TONG_HOP>", b'<TONG_HOP xmlns="urn:x">', 1))
            if isinstance(d, bytes)
            else (t, d)
            for t, d in base.items()
        ],
    )
    yield (
        "cdata and padding",
        [
            (
                "XML1",
                xml1.replace(
                    b"<MA_LK>LKWEIRD01</MA_LK>", b"<MA_LK><![CDATA[ LKWEIRD01 ]]></MA_LK>"
                ),
            ),
            *[(t, d) for t, d in base.items() if t != "XML1"],
        ],
    )
    yield (
        "nbsp and tabs",
        [
            (
                "XML1",
                xml1.replace(
                    b"<MA_LK>LKWEIRD01</MA_LK>", "<MA_LK>\u00a0LKWEIRD01\t</MA_LK>".encode()
                ),
            ),
            *[(t, d) for t, d in base.items() if t != "XML1"],
        ],
    )
    yield (
        "duplicate, nested, unknown, over-long, comma decimal",
        [(t, d) for t, d in base.items() if t != "XML2"]
        + [
            (
                "XML2",
                _doc(
                    "XML2",
                    [
                        "<MA_LK>LKWEIRD01</MA_LK><STT>1</STT><MA_THUOC>40.1</MA_THUOC>"
                        "<MA_THUOC>40.2</MA_THUOC><SO_LUONG>1,5</SO_LUONG>",
                        "<MA_LK>LKWEIRD01</MA_LK><STT>2</STT><TEN_THUOC><B>x</B></TEN_THUOC>",
                        "<MA_LK>LKWEIRD01</MA_LK><STT>3</STT><KHONG_CO>1</KHONG_CO>",
                        "<MA_LK>LKWEIRD01</MA_LK><STT>4</STT><DON_VI_TINH>"
                        + "x" * 80
                        + "</DON_VI_TINH>",
                        "<MA_LK>LKWEIRD01</MA_LK><STT>5</STT><NGAY_YL>2025081</NGAY_YL><SO_LUONG/>",
                        "<MA_LK>LKWEIRD01</MA_LK><STT>6</STT><NGAY_YL>20250801</NGAY_YL>"
                        "<SO_LUONG>  2 </SO_LUONG><!-- c --><DON_GIA>1<!-- c -->000</DON_GIA>",
                    ],
                ),
            )
        ],
    )
    yield (
        "records unwrapped and at two depths",
        [(t, d) for t, d in base.items() if t != "XML2"]
        + [
            (
                "XML2",
                b"<CHITIEU_CHITIET_THUOC><CHI_TIET_THUOC><MA_LK>LKWEIRD01</MA_LK><STT>1</STT>"
                b"</CHI_TIET_THUOC><X><Y><CHI_TIET_THUOC><MA_LK>LKWEIRD01</MA_LK><STT>2</STT>"
                b"</CHI_TIET_THUOC></Y></X></CHITIEU_CHITIET_THUOC>",
            )
        ],
    )
    yield (
        "no records",
        [(t, d) for t, d in base.items() if t != "XML2"]
        + [("XML2", b"<CHITIEU_CHITIET_THUOC><DSACH_CHI_TIET_THUOC/></CHITIEU_CHITIET_THUOC>")],
    )
    yield (
        "wrong root",
        [(t, d) for t, d in base.items() if t != "XML3"]
        + [("XML3", b"<KHAC><CHI_TIET_THUOC><STT>1</STT></CHI_TIET_THUOC></KHAC>")],
    )
    yield (
        "LOAIHOSO padded, lower case, repeated, unknown",
        [
            (" xml1 ", xml1),
            ("XML1", xml1),
            ("XML99", xml1),
            *[(t, d) for t, d in base.items() if t != "XML1"],
        ],
    )
    rec4210 = as_4210(record("LK4210X01", inpatient=True))
    yield "QD 4210", hoso_files(rec4210, Standard.QD4210)


@pytest.mark.parametrize("case", [name for name, _ in _weird_documents()])
def test_unusual_documents_read_the_same(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    files = dict(_weird_documents())[case]
    data = raw_envelope([files, files])
    fast, pure = _both(data, monkeypatch)
    assert fast == pure


def test_a_whole_envelope_with_cdata_base64_reads_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    data = one(record("LKCDATA01"))
    text = data.decode()
    start = text.index("<NOIDUNGFILE>") + len("<NOIDUNGFILE>")
    end = text.index("</NOIDUNGFILE>")
    b64 = text[start:end]
    mangled = text[:start] + f"\n  <![CDATA[{b64[:40]}]]>{b64[40:]}\n" + text[end:]
    fast, pure = _both(mangled.encode(), monkeypatch)
    assert fast == pure
    assert fast["status"] == "accepted"


# Values a field may carry, from clean to hostile, for the row-level property test.
_TEXTS = st.one_of(
    st.sampled_from(
        [
            "1",
            "01",
            "1.5",
            "1,5",
            "-2",
            "20250801",
            "202508010930",
            "2025080",
            "abc",
            "",
            " ",
            "40.17",
            "I10;E11",
            "\u00a0x\u00a0",
            "x" * 300,
            "\u3000",
            "Đồng Tháp",
            "0.0",
            "1e5",
        ]
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=20,
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "MA_LK",
                    "STT",
                    "MA_THUOC",
                    "TEN_THUOC",
                    "SO_LUONG",
                    "DON_GIA",
                    "THANH_TIEN_BV",
                    "NGAY_YL",
                    "MA_KHOA",
                    "TYLE_TT_BH",
                    "MUC_HUONG",
                    "PHAM_VI",
                    "KHONG_CO",
                ]
            ),
            _TEXTS,
        ),
        max_size=12,
    )
)
def test_any_row_types_the_same(fields: list[tuple[str, str]]) -> None:
    from xml.sax.saxutils import escape

    body = "".join(f"<{n}>{escape(v)}</{n}>" for n, v in fields if "\r" not in v)
    try:
        root = parse_document(_doc("XML2", [body]))
    except Exception:  # a value libxml2 refuses (e.g. a control character): not a row
        return
    lay, plan = QD130_LAYOUTS["XML2"], fast_plan(Standard.QD130, "XML2")
    fast_rows = R.extract_rows(root, lay, plan)
    saved, R._fastrows = R._fastrows, None
    try:
        pure_rows = R.extract_rows(root, lay, plan)
    finally:
        R._fastrows = saved
    assert fast_rows is not None
    assert pure_rows is not None
    assert len(fast_rows) == len(pure_rows) == 1
    assert isinstance(pure_rows[0], R.RawRow)
    pure = convert_row(Standard.QD130, "XML2", pure_rows[0], 1)
    got = fast_rows[0]
    if isinstance(got, Row):  # typed in C: the row must be one the pure path finds clean
        assert got.values == pure[0]
        assert pure[1] == []
        assert pure[2] == set()
    else:
        fast = convert_row(Standard.QD130, "XML2", got, 1)
        assert fast[0] == pure[0]
        assert [f.as_dict() for f in fast[1]] == [f.as_dict() for f in pure[1]]
        assert fast[2] == pure[2]


def test_a_drug_line_is_typed_in_c(monkeypatch: pytest.MonkeyPatch) -> None:
    # The accelerator really types clean rows (otherwise the comparisons above prove little).
    rec = record("LKTYPED01")
    rec.tables["XML2"] = [drug_line("LKTYPED01", 1, "2", "1000")]
    doc = dict(hoso_files(rec))["XML2"]
    assert isinstance(doc, bytes)
    root = parse_document(doc)
    lay, plan = QD130_LAYOUTS["XML2"], fast_plan(Standard.QD130, "XML2")
    rows = R.extract_rows(root, lay, plan)
    assert rows is not None
    assert isinstance(rows[0], DrugLine)
    assert rows[0].table == "XML2"
    monkeypatch.setattr(R, "_fastrows", None)
    pure = R.extract_rows(root, lay, plan)
    assert pure is not None
    assert isinstance(pure[0], R.RawRow)
    assert rows[0].values == convert_row(Standard.QD130, "XML2", pure[0], 1)[0]


def test_threads_come_and_go_and_read_the_same() -> None:
    """Files read in threads that start and end (lxml keeps a name dictionary per thread, which
    the compiled reader's name cache sees) give exactly the single-threaded results. (The cache
    also compares a hit by content, so even a freed dictionary's reused memory cannot give a
    wrong name; this test does not force that reuse.)"""
    from concurrent.futures import ThreadPoolExecutor

    files = [one(record(f"LKTHR{i:03d}", inpatient=i % 3 == 0)) for i in range(24)]
    files += [raw_envelope([files_]) for _, files_ in _weird_documents()]
    expected = [_snapshot(validate_file(f, "f.xml", received_at=RECEIVED)) for f in files]
    for _ in range(4):  # new threads each round, after the last round's threads have ended
        with ThreadPoolExecutor(max_workers=4) as pool:
            got = list(
                pool.map(
                    lambda f: _snapshot(validate_file(f, "f.xml", received_at=RECEIVED)), files
                )
            )
        assert got == expected


def test_thousands_of_hoso_are_all_read_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Processed HOSO are emptied at once and removed in bulk every 1 024: none is skipped or
    read twice across those sweeps."""
    files = hoso_files(record("LKMANY"))
    template = raw_envelope([files])
    start = template.index(b"<HOSO>")
    end = template.index(b"</HOSO>") + len(b"</HOSO>")
    hoso = template[start:end]
    data = template[:start] + hoso * 2500 + template[end:]
    data = data.replace(b"<SOLUONGHOSO>1</SOLUONGHOSO>", b"<SOLUONGHOSO>2500</SOLUONGHOSO>")
    res = validate_file(data, "many.xml", received_at=RECEIVED)
    assert not res.unusable
    assert [r.index for r in res.records] == list(range(1, 2501))
    assert res.findings == []  # SOLUONGHOSO agrees with what was read
    dup = [f for r in res.records for f in r.findings if f.code == "HOSO.MA_LK.DUPLICATE"]
    assert len(dup) == 2499  # the same MA_LK each time: every later one is a duplicate
