"""The papers of a record as fact tables: HIV care (XML6), discharge paper (XML7), birth
certificate (XML9), medical assessment (XML12), referral (XML13) and TB treatment (XML15).

Each table gets its fields typed as the standard specifies them (``standards.fields``: codes
stay strings with their leading zeros, counts are integers, amounts and weights numbers, dates
and timestamps dates and timestamps) under the field's own name in lower case. What the
warehouse never holds (docs/warehouse.md "No free text, no direct identifier") is left out by
rule: free text (names, addresses, diagnoses in words, notes), the person's identifiers (CCCD,
card, patient and health-record numbers, dates of birth, the dates CCCDs were issued) and staff
identifiers. The few text fields that carry a code are listed by name (``TEXT_CODES``). Dates of
birth become an age (``tuoi_me``: the mother's age when the child was born; ``tuoi``: the
assessed person's age on the day of the meeting); ICD-10 codes are normalised like the
episode's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from khoyte.registry import icd10
from khoyte.standards.fields import Kind, qd130_tables
from khoyte.standards.model import Row

# table of the warehouse -> XML table
PAPER_TABLES: dict[str, str] = {
    "fact_hiv": "XML6",
    "fact_discharge": "XML7",
    "fact_birth": "XML9",
    "fact_assessment": "XML12",
    "fact_referral": "XML13",
    "fact_tb": "XML15",
}
# text fields that hold a code from a list, not words (loaded as text)
TEXT_CODES: dict[str, frozenset[str]] = {
    "XML6": frozenset({"MA_PHAC_DO_DIEU_TRI_BD", "BDDT_ARV", "MA_TINH_TRANG_DK", "MA_XU_TRI",
                       "MA_PHAC_DO_DIEU_TRI"}),
    "XML7": frozenset({"MA_KHOA_RV"}),
    "XML12": frozenset({"MA_DOI_TUONG", "MA_DONVI"}),
    "XML15": frozenset({"BDDT_ARV"}),
}  # fmt: skip
# lists of diagnosis codes (kept as one ';'-separated text of normalised codes)
DIAGNOSIS_LISTS = frozenset({"MA_BENH_KT", "MA_BENH_YHCT"})
# dates that identify a person: read only to compute an age, or not at all
IDENTIFYING_DATES = frozenset({"NGAYSINH_NND", "NGAY_SINH", "NGAYCAP_CCCD_NND", "NGAY_CAP_CCCD"})
# ICD-10 codes normalised as the episode's main code is
ICD_CODES = frozenset({"MA_BENH_CHINH"})
# derived columns: name -> (fields read, SQL type)
DERIVED: dict[str, dict[str, tuple[tuple[str, str], str]]] = {
    "XML9": {"tuoi_me": (("NGAYSINH_NND", "NGAY_SINH_CON"), "INTEGER")},
    "XML12": {"tuoi": (("NGAY_SINH", "NGAY_HOP"), "INTEGER")},
}
_SQL = {
    Kind.CODE: "VARCHAR",
    Kind.TEXT: "VARCHAR",
    Kind.LIST: "VARCHAR",
    Kind.INT: "INTEGER",
    Kind.DECIMAL: "DOUBLE PRECISION",
    Kind.DATE: "DATE",
    Kind.DATETIME: "TIMESTAMP",
}
KEY_COLUMNS = ("facility", "ma_lk", "version_id", "line")


@dataclass(frozen=True, slots=True)
class PaperColumn:
    field: str  # the standard's name
    column: str  # the warehouse's (lower case)
    kind: Kind
    sql: str


def _loaded(table: str, name: str, kind: Kind) -> bool:
    if name == "MA_LK" or name in IDENTIFYING_DATES:
        return False
    if kind is Kind.TEXT:
        return name in TEXT_CODES.get(table, frozenset())
    if kind is Kind.LIST:
        return name in DIAGNOSIS_LISTS
    return kind in _SQL


def columns_of(table: str) -> tuple[PaperColumn, ...]:
    spec = qd130_tables()[table]
    return tuple(
        PaperColumn(f.name, f.name.lower(), f.kind, _SQL[f.kind])
        for f in spec.fields
        if _loaded(table, f.name, f.kind)
    )


COLUMNS: dict[str, tuple[PaperColumn, ...]] = {
    name: columns_of(xml) for name, xml in PAPER_TABLES.items()
}


def column_names(name: str) -> tuple[str, ...]:
    xml = PAPER_TABLES[name]
    return (*KEY_COLUMNS, *(c.column for c in COLUMNS[name]), *DERIVED.get(xml, {}))


def ddl(name: str) -> str:
    xml = PAPER_TABLES[name]
    cols = [
        "facility VARCHAR NOT NULL",
        "ma_lk VARCHAR NOT NULL",
        "version_id BIGINT",
        "line INTEGER",  # 1, 2, … in the order the rows were sent
        *(f"{c.column} {c.sql}" for c in COLUMNS[name]),
        *(f"{d} {sql}" for d, (_, sql) in DERIVED.get(xml, {}).items()),
    ]
    return ", ".join(cols)


def fields() -> dict[str, frozenset[str]]:
    """Every field the paper tables read, per XML table (for ``transform.FIELDS``)."""
    out: dict[str, frozenset[str]] = {}
    for name, xml in PAPER_TABLES.items():
        derived = {f for fs, _ in DERIVED.get(xml, {}).values() for f in fs}
        out[xml] = frozenset({c.field for c in COLUMNS[name]} | derived)
    return out


def _age(born: date | None, on: date | None) -> int | None:
    if born is None or on is None or on < born:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _icd(v: str | None) -> str | None:
    return icd10.normalize(v) if v else None


def _text(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) else None


def _float(v: Any) -> float | None:
    return float(v) if isinstance(v, Decimal) else None


def _date(v: Any) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    return v if isinstance(v, date) else None


def _naive(v: Any) -> datetime | None:
    return v.replace(tzinfo=None) if isinstance(v, datetime) else None


def _codes(v: Any) -> str | None:
    items = [str(x) for x in v] if isinstance(v, list) else [v] if isinstance(v, str) else []
    return ";".join(x for x in (_icd(i) for i in items) if x) or None


def _icd_text(v: Any) -> str | None:
    return _icd(v) if isinstance(v, str) else None


def _reader(c: PaperColumn) -> Callable[[Any], Any] | None:
    """What turns the stored value of ``c`` into the column's (``None``: a code or text kept
    as it is when it is a string: most paper columns, read inline by ``rows_of``)."""
    if c.kind is Kind.INT:
        return _int
    if c.kind is Kind.DECIMAL:
        return _float
    if c.kind is Kind.DATE:
        return _date
    if c.kind is Kind.DATETIME:
        return _naive
    if c.kind is Kind.LIST:
        return _codes
    return _icd_text if c.field in ICD_CODES else None


# per warehouse table: (field, reader) per column, in column order
_READERS: dict[str, tuple[tuple[str, Callable[[Any], Any] | None], ...]] = {
    name: tuple((c.field, _reader(c)) for c in COLUMNS[name]) for name in PAPER_TABLES
}
_DERIVE: dict[str, Callable[[dict[str, Any]], Any]] = {
    "tuoi_me": lambda v: _age(_date(v.get("NGAYSINH_NND")), _date(v.get("NGAY_SINH_CON"))),
    "tuoi": lambda v: _age(_date(v.get("NGAY_SINH")), _date(v.get("NGAY_HOP"))),
}
# XML table -> (warehouse table, derived columns' functions)
BY_XML: dict[str, tuple[str, tuple[Callable[[dict[str, Any]], Any], ...]]] = {
    xml: (name, tuple(_DERIVE[d] for d in DERIVED.get(xml, {})))
    for name, xml in PAPER_TABLES.items()
}


def rows_of(
    name: str, row_list: list[Row], facility: str, ma_lk: str, version_id: int
) -> list[tuple[Any, ...]]:
    """The warehouse rows of one record's paper table ``name``: the values read straight from
    each row's dict, a code kept inline, other kinds through one reader each (a first load
    reads millions of these values)."""
    readers = _READERS[name]
    derive = BY_XML[PAPER_TABLES[name]][1]
    out = []
    for i, r in enumerate(row_list, start=1):
        values = r.values
        get = values.get
        out.append((
            facility, ma_lk, version_id, i,
            *[(v if isinstance(v, str) else None) if f is None else f(v)
              for field, f in readers for v in (get(field),)],
            *[d(values) for d in derive],
        ))  # fmt: skip
    return out
