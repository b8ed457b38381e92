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
from khoyte.validate.codelists import CODE_LISTS

_DEC = re.compile(r"-?\d+(?:\.\d+)?", re.ASCII)
_DEC_COMMA = re.compile(r"-?\d+,\d+", re.ASCII)
_INT = re.compile(r"\d+(?:\.0+)?", re.ASCII)
_INT_COMMA = re.compile(r"\d+,0+", re.ASCII)
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
def read_int(s: str) -> int | Quirk:
    if _INT.fullmatch(s):
        return int(s.split(".", 1)[0])
    if _INT_COMMA.fullmatch(s):  # "100,00": a whole number written with comma decimals
        n = int(s.split(",", 1)[0])
        return Quirk(n, "DECIMAL_COMMA", parsed=str(n))
    if _DEC.fullmatch(s) or _DEC_COMMA.fullmatch(s):
        raise Problem("INTEGER")
    raise Problem("NUMBER")


# Placeholders exporters write where a value is missing (real-world profile §2.8): words, and
# templates of dots, ellipses or underscores. ``_fastrows._suspicious`` pre-filters by the first
# character and the length: every placeholder must pass it (start with one of these characters;
# a word is at most 9 characters long).
_PH_WORDS = frozenset({"nan", "null", "none", "undefined", "nil", "n/a", "#n/a"})
_PH_WORD_START = frozenset("nNuU#")
_PH_DOT_START = frozenset(".…_([")
_PH_DOTS = re.compile(r"[.…_(\[][\s.…_()\[\]/:\-]*")


def is_placeholder(s: str) -> bool:
    """Is ``s`` (stripped, not empty) a placeholder rather than a value?"""
    c = s[0]
    if c in _PH_DOT_START:
        return _PH_DOTS.fullmatch(s) is not None and any(ch in ".…_" for ch in s)
    return c in _PH_WORD_START and len(s) <= 9 and s.lower() in _PH_WORDS


def _free_text(s: str) -> bool:
    """Words where a number is expected (a text placeholder in a numeric field)."""
    return any(c.isalpha() for c in s)


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
    numeric: frozenset[str]  # fields whose value is a number (words there are a placeholder)
    hub: bool = False  # placeholders and "0 for none" are read as missing, with a finding


@cache
def plan(standard: Standard, table: str, hub: bool = False) -> Plan:
    spec = table_spec(standard, table)
    codes = CODE_LISTS.get(table, {})
    typed: dict[str, Callable[[str], object]] = {}
    numeric: set[str] = set()
    for f in spec.fields:
        reader = _READERS[f.kind]
        if f.name == "MA_LOAI_KCB":
            reader = _two_digit_code
        elif f.kind is Kind.CODE and f.type == "number":
            reader = _numeric_code
        if reader in (read_int, read_decimal, _numeric_code):
            numeric.add(f.name)
        if hub and f.name in codes and not any(c.strip("0") == "" for c in codes[f.name]):
            reader = _zero_none(reader)
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
        numeric=frozenset(numeric),
        hub=hub,
    )


_ZERO_NONE: dict[Callable[[str], object], Callable[[str], object]] = {}


def _zero_none(reader: Callable[[str], object]) -> Callable[[str], object]:
    """``reader``, but ``0`` (``00`` …) — written for "none" in a code field whose list has no
    such code — is a ``ZERO_NONE`` problem: the value is read as missing. One wrapper per reader
    (the compiled reader caches values per reader)."""
    wrapped = _ZERO_NONE.get(reader)
    if wrapped is None:

        def wrapped(s: str) -> object:
            if not s.strip("0"):
                raise Problem("ZERO_NONE")
            return reader(s)

        _ZERO_NONE[reader] = wrapped
    return wrapped


@lru_cache(maxsize=8192)
def _two_digit_code(s: str) -> str:
    # MA_LOAI_KCB was a number before QĐ 4750: "1" and "01" are the same code.
    if _DIGITS.fullmatch(s):
        return s.zfill(2) if len(s) < 2 else s
    raise Problem("CODE", allowed="01–10")


@cache
def fast_plan(standard: Standard, table: str, hub: bool = False) -> FastPlan | None:
    """What the compiled reader needs to type a clean row of ``table`` (``reader.FastPlan``).

    QĐ 4210 rows are renamed on the way (``RENAMES``): they take the general path. Under ``hub``
    a row with a value that may be a placeholder is handed back untyped (``is_placeholder``)."""
    if standard is not Standard.QD130:
        return None
    p = plan(standard, table, hub)
    spec: dict[str, tuple[int, Callable[[str], object] | None, dict[str, object]]] = {}
    for name in sorted(p.known):
        reader = p.typed.get(name)
        cache = _READ_CACHES.setdefault(reader, {}) if reader is not None else {}
        spec[name] = (p.max_length.get(name, -1), reader, cache)
    return spec, Problem, Quirk, row_class_of(table), table, is_placeholder if hub else None


def hub_fast_plan(standard: Standard, table: str) -> FastPlan | None:
    """``fast_plan`` under the hub's reading (a planner for ``SubmissionReader``)."""
    return fast_plan(standard, table, True)


# One cache of read values per reader, shared by every table (see ``_fastrows``).
_READ_CACHES: dict[Callable[[str], object], dict[str, object]] = {}


def table_spec(standard: Standard, table: str) -> TableSpec:
    if standard is Standard.QD4210 and table in qd4210_tables():
        return qd4210_tables()[table]
    return qd130_tables()[table]


def convert_row(
    standard: Standard, table: str, raw: RawRow, stt_hint: int | None, hub: bool = False
) -> tuple[dict[str, Value], list[Finding], set[str]]:
    """Typed values keyed by canonical (QĐ 130) names, the findings, and unknown field names.

    Text as sent may carry surrounding white space (pretty-printed exports); it is stripped.
    Empty and unreadable fields are absent from the result. This runs for every line of every
    table, so the common case is kept to comprehensions and set operations.

    Under ``hub`` a placeholder (``is_placeholder``; words in a number field) in any field is
    absent too, with a ``PLACEHOLDER`` finding at the same table, line and field as the finding
    its type gives (``NUMBER`` …), which is still made; so is ``0`` for "none" (``ZERO_NONE``).
    """
    p = plan(standard, table, hub)
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
    placeholders: dict[str, str] = (
        {k: v for k, v in values.items() if is_placeholder(v)}  # type: ignore[misc,arg-type]
        if hub
        else {}
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
            if hub and name in p.numeric and _free_text(text):
                placeholders[name] = text
            continue
        if value.__class__ is Quirk:
            q: Quirk = value
            findings.append(field_finding(q.rule, table, name, text, stt, **q.params))
            value = q.value
        values[name] = value
    if placeholders:
        for name, text in placeholders.items():
            findings.append(field_finding("PLACEHOLDER", table, name, text, stt))
            values.pop(name, None)
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
