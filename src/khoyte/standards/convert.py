"""From text as sent to typed values: the field-level reading of every table.

Each field is read by its kind (``fields.Kind``). What real exports do and the standard allows to
be understood without doubt is accepted (8 digits where a 12-digit time is specified, a
non-padded month, ``01`` written ``1`` in a two-digit code); what changes the meaning or cannot
be read is a finding, naming table, line, field and value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache, lru_cache

from khoyte.findings import Finding, Severity
from khoyte.standards.fields import Kind, TableSpec, qd130_tables
from khoyte.standards.model import BirthDate, Standard, Value, row_class_of
from khoyte.standards.qd4210 import RENAMES, qd4210_tables
from khoyte.standards.reader import FastPlan, RawRow
from khoyte.validate.catalog import field_finding

_DEC = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)
_DEC_COMMA = re.compile(r"-?\d+,\d+", re.ASCII)
_INT = re.compile(r"\d+(?:\.0+)?", re.ASCII)
_DIGITS = re.compile(r"\d+", re.ASCII)


class Problem(Exception):
    """A value that cannot be read; ``rule`` names the catalogue entry."""

    def __init__(self, rule: str, **params: object) -> None:
        super().__init__(rule)
        self.rule = rule
        self.params = params


class Quirk:
    """A value read with a tolerated deviation worth telling the sender."""

    __slots__ = ("params", "rule", "value")

    def __init__(self, value: Value, rule: str, **params: object) -> None:
        self.value = value
        self.rule = rule
        self.params = params


@lru_cache(maxsize=8192)
def read_decimal(s: str) -> Decimal | Quirk:
    if _DEC.fullmatch(s):
        return Decimal(s)
    if _DEC_COMMA.fullmatch(s):
        d = Decimal(s.replace(",", "."))
        return Quirk(d, "DECIMAL_COMMA", parsed=str(d))
    raise Problem("NUMBER")


@lru_cache(maxsize=8192)
def read_int(s: str) -> int:
    if _INT.fullmatch(s):
        return int(s.split(".", 1)[0])
    if _DEC.fullmatch(s) or _DEC_COMMA.fullmatch(s):
        raise Problem("INTEGER")
    raise Problem("NUMBER")


@lru_cache(maxsize=8192)
def read_date(s: str) -> date:
    if len(s) == 8 and _DIGITS.fullmatch(s):
        try:
            return date(int(s[:4]), int(s[4:6]), int(s[6:8]))
        except ValueError:
            pass
    raise Problem("DATE")


@lru_cache(maxsize=8192)
def read_datetime(s: str) -> datetime:
    if _DIGITS.fullmatch(s):
        try:
            if len(s) == 12:
                return datetime(int(s[:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]))
            if len(s) == 8:  # real files send yyyymmdd where 12 digits are specified
                return datetime(int(s[:4]), int(s[4:6]), int(s[6:8]))
        except ValueError:
            pass
    raise Problem("DATETIME")


@lru_cache(maxsize=8192)
def read_birth(s: str) -> BirthDate:
    if _DIGITS.fullmatch(s) and len(s) in (8, 12):
        y, m, d = int(s[:4]), int(s[4:6]), int(s[6:8])
        hh, mm = (int(s[8:10]), int(s[10:12])) if len(s) == 12 else (None, None)
        try:
            if y < 1850 or (d and not m):
                raise ValueError
            date(y, m or 1, d or 1)
            if hh is not None and (hh > 23 or (mm or 0) > 59):
                raise ValueError
        except ValueError:
            raise Problem("DATETIME") from None
        known_time = len(s) == 12 and (hh or mm)
        return BirthDate(
            y, m or None, d or None, hh if known_time else None, mm if known_time else None
        )
    raise Problem("DATETIME")


def read_date_list(s: str) -> list[date]:
    return [read_date(part.strip()) for part in s.split(";") if part.strip()]


def read_list(s: str) -> list[str]:
    return [part.strip() for part in s.split(";") if part.strip()]


@lru_cache(maxsize=8192)
def _numeric_code(s: str) -> str:
    if _DIGITS.fullmatch(s):
        return s
    raise Problem("CODE", allowed="chỉ gồm chữ số", allowed_en="digits only")


_READERS: dict[Kind, Callable[[str], object]] = {
    Kind.TEXT: str,
    Kind.CODE: str,
    Kind.INT: read_int,
    Kind.DECIMAL: read_decimal,
    Kind.DATE: read_date,
    Kind.DATETIME: read_datetime,
    Kind.BIRTH: read_birth,
    Kind.DATE_LIST: read_date_list,
    Kind.LIST: read_list,
}


@dataclass(frozen=True, slots=True)
class Plan:
    """How to read one table: what khoyte knows of it, precomputed once."""

    known: frozenset[str]
    max_length: dict[str, int]  # fields with a maximum length
    typed: dict[str, Callable[[str], object]]  # fields whose text becomes another type
    error_if_long: frozenset[str]  # over-long is an error, not a warning (MA_LK)


@cache
def plan(standard: Standard, table: str) -> Plan:
    spec = table_spec(standard, table)
    typed: dict[str, Callable[[str], object]] = {}
    for f in spec.fields:
        reader = _READERS[f.kind]
        if f.name == "MA_LOAI_KCB":
            reader = _two_digit_code
        elif f.kind is Kind.CODE and f.type == "number":
            reader = _numeric_code
        if reader is not str:
            typed[f.name] = reader
    return Plan(
        known=frozenset(spec.names),
        # Decimals and dates are checked by their type instead (a "Số/15" amount may be longer
        # than 15 characters with its decimal point and decimals).
        max_length={
            f.name: f.max_length
            for f in spec.fields
            if f.max_length is not None and f.kind in (Kind.TEXT, Kind.LIST, Kind.CODE, Kind.INT)
        },
        typed=typed,
        error_if_long=frozenset({"MA_LK"}),
    )


@lru_cache(maxsize=8192)
def _two_digit_code(s: str) -> str:
    # MA_LOAI_KCB was a number before QĐ 4750: "1" and "01" are the same code.
    if _DIGITS.fullmatch(s):
        return s.zfill(2) if len(s) < 2 else s
    raise Problem("CODE", allowed="01–10")


@cache
def fast_plan(standard: Standard, table: str) -> FastPlan | None:
    """What the compiled reader needs to type a clean row of ``table`` (``reader.FastPlan``).

    QĐ 4210 rows are renamed on the way (``RENAMES``): they take the general path."""
    if standard is not Standard.QD130:
        return None
    p = plan(standard, table)
    spec: dict[str, tuple[int, Callable[[str], object] | None, dict[str, object]]] = {}
    for name in sorted(p.known):
        reader = p.typed.get(name)
        cache = _READ_CACHES.setdefault(reader, {}) if reader is not None else {}
        spec[name] = (p.max_length.get(name, -1), reader, cache)
    return spec, Problem, Quirk, row_class_of(table), table


# One cache of read values per reader, shared by every table (see ``_fastrows``).
_READ_CACHES: dict[Callable[[str], object], dict[str, object]] = {}


def table_spec(standard: Standard, table: str) -> TableSpec:
    if standard is Standard.QD4210 and table in qd4210_tables():
        return qd4210_tables()[table]
    return qd130_tables()[table]


def convert_row(
    standard: Standard, table: str, raw: RawRow, stt_hint: int | None
) -> tuple[dict[str, Value], list[Finding], set[str]]:
    """Typed values keyed by canonical (QĐ 130) names, the findings, and unknown field names.

    Text as sent may carry surrounding white space (pretty-printed exports); it is stripped.
    Empty and unreadable fields are absent from the result. This runs for every line of every
    table, so the common case is kept to comprehensions and set operations.
    """
    p = plan(standard, table)
    values: dict[str, object] = {k: v.strip() for k, v in raw.values.items() if v}
    if "" in values.values():  # white space only
        values = {k: v for k, v in values.items() if v}
    findings: list[Finding] = []
    unknown = values.keys() - p.known
    stt = stt_hint
    stt_text = values.get("STT")
    if isinstance(stt_text, str) and stt_text.isascii() and stt_text.isdigit():
        stt = int(stt_text)
    if unknown:
        for name in unknown:
            del values[name]
    limits = p.max_length
    long = [k for k in values.keys() & limits.keys() if len(values[k]) > limits[k]]  # type: ignore[arg-type]
    for name in long:
        text = values[name]
        assert isinstance(text, str)
        findings.append(
            field_finding(
                "MAX_LENGTH",
                table,
                name,
                text,
                stt,
                length=len(text),
                max=limits[name],
                severity=Severity.ERROR if name in p.error_if_long else Severity.WARNING,
            )
        )
    typed = p.typed
    for name in values.keys() & typed.keys():
        text = values[name]
        assert isinstance(text, str)
        try:
            value = typed[name](text)
        except Problem as prob:
            findings.append(field_finding(prob.rule, table, name, text, stt, **prob.params))
            del values[name]
            continue
        if value.__class__ is Quirk:
            q: Quirk = value
            findings.append(field_finding(q.rule, table, name, text, stt, **q.params))
            value = q.value
        values[name] = value
    if standard is Standard.QD4210:
        renames = RENAMES.get(table, {})
        for name in [n for n in values if n in renames]:
            v = values.pop(name)
            for target in renames[name]:
                values[target] = v
    if raw.duplicates:
        for name, count in raw.duplicates.items():
            findings.append(
                field_finding(
                    "DUPLICATE_FIELD", table, name, raw.values.get(name), stt, count=count
                )
            )
    if raw.nested:
        for name in raw.nested:
            findings.append(field_finding("NESTED", table, name, None, stt))
    return values, findings, set(unknown)  # type: ignore[return-value]
