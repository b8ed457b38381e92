"""Records → XML → read → equal records, for both generations (property-based)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khoyte.standards.convert import table_spec
from khoyte.standards.fields import Kind, TableSpec
from khoyte.standards.layout import ENVELOPE_TABLES
from khoyte.standards.model import BirthDate, Record, Standard, Value, make_row
from khoyte.standards.qd4210 import QD4210_FIELDS, RENAMES
from khoyte.standards.serialize import record_from_json, record_to_json
from khoyte.standards.writer import envelope
from khoyte.validate.engine import validate_file
from tests.factories import as_4210, record

TEXT = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)
CODE = st.from_regex(r"[A-Z0-9.]{1,4}", fullmatch=True)
DIGITS = st.from_regex(r"[1-9][0-9]{0,2}", fullmatch=True)
DEC = st.decimals(min_value=Decimal("-1e9"), max_value=Decimal("1e9"), places=2, allow_nan=False)
WHEN = st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
DAY = st.dates(min_value=date(1950, 1, 1), max_value=date(2030, 12, 31))
BIRTH = st.builds(
    lambda d, known_month, known_day, hm: BirthDate(
        d.year,
        d.month if known_month else None,
        d.day if known_month and known_day else None,
        hm[0] if hm else None,
        hm[1] if hm else None,
    ),
    DAY,
    st.booleans(),
    st.booleans(),
    st.none() | st.tuples(st.integers(0, 23), st.integers(1, 59)),
)


def value_for(kind: Kind, numeric_code: bool) -> st.SearchStrategy[Value]:
    return {
        Kind.TEXT: TEXT,
        Kind.CODE: DIGITS if numeric_code else CODE,
        Kind.INT: st.integers(0, 999),
        Kind.DECIMAL: DEC,
        Kind.DATE: DAY,
        Kind.DATETIME: WHEN,
        Kind.BIRTH: BIRTH,
        Kind.DATE_LIST: st.lists(DAY, min_size=1, max_size=3),
        Kind.LIST: st.lists(CODE, min_size=1, max_size=4),
    }[kind]  # type: ignore[return-value]


@st.composite
def rows(
    draw: st.DrawFn, spec: TableSpec, standard: Standard, table: str, ma_lk: str
) -> dict[str, Value]:
    values: dict[str, Value] = {"MA_LK": ma_lk}
    for f in spec.fields:
        if f.name == "MA_LK" or not draw(st.booleans()):
            continue
        v = draw(value_for(f.kind, f.type == "number"))
        if f.name == "MA_LOAI_KCB":
            v = f"{draw(st.integers(1, 10)):02d}"
        targets = (
            RENAMES.get(table, {}).get(f.name, (f.name,))
            if standard is Standard.QD4210
            else (f.name,)
        )
        for t in targets:
            values[t] = v
    return values


@st.composite
def records(draw: st.DrawFn, standard: Standard) -> Record:
    ma_lk = draw(st.from_regex(r"[A-Z0-9]{4,12}", fullmatch=True))
    tables_available = list(ENVELOPE_TABLES if standard is Standard.QD130 else QD4210_FIELDS)
    chosen = [
        "XML1",
        *draw(st.lists(st.sampled_from(tables_available[1:]), unique=True, max_size=5)),
    ]
    tables = {}
    for t in chosen:
        spec = table_spec(standard, t)
        n = (
            1
            if t in ("XML1", "XML7", "XML8", "XML10", "XML11", "XML13", "XML14")
            else draw(st.integers(1, 3))
        )
        tables[t] = [make_row(t, draw(rows(spec, standard, t, ma_lk))) for _ in range(n)]
    return Record(ma_lk, standard, tables)


def _roundtrip(rec: Record) -> Record:
    data = envelope([rec], "82001", date(2025, 1, 1), rec.standard)
    res = validate_file(data, "rt.xml", keep_records=True)
    assert not res.unusable, res.findings
    out = res.records[0].record
    assert out is not None
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(Standard.QD130))
def test_roundtrip_qd130(rec: Record) -> None:
    assert _roundtrip(rec) == rec
    assert record_from_json(record_to_json(rec)) == rec


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records(Standard.QD4210))
def test_roundtrip_qd4210(rec: Record) -> None:
    out = _roundtrip(rec)
    assert out.standard is Standard.QD4210
    assert out == rec


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 3000), st.booleans())
def test_same_visit_in_both_generations_gives_the_same_record(
    minutes: int, inpatient: bool
) -> None:
    start = datetime(2023, 3, 1, 7, 0) + timedelta(minutes=minutes)
    visit = as_4210(record("LK42", inpatient=inpatient, start=start))
    as130 = Record(visit.ma_lk, Standard.QD130, visit.tables)
    a = _roundtrip(visit)
    b = _roundtrip(as130)
    assert a.standard is Standard.QD4210
    assert b.standard is Standard.QD130
    assert a.tables == b.tables


def test_stored_json_that_orjson_reads_differently_still_reads() -> None:
    # The store's JSON is written by ``json.dumps``: an integer beyond 64 bits (an XML integer
    # field may carry one; orjson makes it a float) and a lone surrogate (orjson refuses it)
    # are valid to it; ``record_from_json`` uses orjson first and the standard parser for these.
    for big, name in ((10**30, "Lan"), (-(2**63) - 1, "Lan"), (7, "L\udc80")):
        rec = Record(
            "LK1",
            Standard.QD130,
            {"XML1": [make_row("XML1", {"MA_LK": "LK1", "SO_NGAY_DTRI": big, "HO_TEN": name,
                                         "T_TONGCHI_BV": Decimal("1.50")})]},
        )  # fmt: skip
        text = record_to_json(rec)
        assert record_from_json(text) == rec
        assert record_from_json(text.encode("utf-8", "surrogatepass")) == rec
