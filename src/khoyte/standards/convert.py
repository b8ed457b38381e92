"""From text as sent to typed values: the field-level reading of every table.

Each field is read by its kind (``fields.Kind``). What real exports do and the standard allows to
be understood without doubt is accepted (8 digits where a 12-digit time is specified, a
non-padded month, ``01`` written ``1`` in a two-digit code); what changes the meaning or cannot
be read is a finding, naming table, line, field and value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from khoyte.findings import Finding, Severity
from khoyte.standards.fields import Kind, TableSpec, qd130_tables
from khoyte.standards.model import BirthDate, Standard, Value
from khoyte.standards.qd4210 import RENAMES, qd4210_tables
from khoyte.standards.reader import RawRow
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


def read_decimal(s: str) -> Decimal | Quirk:
    if _DEC.fullmatch(s):
        return Decimal(s)
    if _DEC_COMMA.fullmatch(s):
        d = Decimal(s.replace(",", "."))
        return Quirk(d, "DECIMAL_COMMA", parsed=str(d))
    raise Problem("NUMBER")


def read_int(s: str) -> int:
    if _INT.fullmatch(s):
        return int(s.split(".", 1)[0])
    if _DEC.fullmatch(s) or _DEC_COMMA.fullmatch(s):
        raise Problem("INTEGER")
    raise Problem("NUMBER")


def read_date(s: str) -> date:
    if len(s) == 8 and _DIGITS.fullmatch(s):
        try:
            return date(int(s[:4]), int(s[4:6]), int(s[6:8]))
        except ValueError:
            pass
    raise Problem("DATE")


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

# Per table: field → (reader, max length, severity of an over-long value).
Plan = dict[str, tuple[Callable[[str], object], int | None, Severity]]


@cache
def plan(standard: Standard, table: str) -> Plan:
    spec = table_spec(standard, table)
    out: Plan = {}
    for f in spec.fields:
        reader = _READERS[f.kind]
        if f.kind is Kind.CODE and f.type == "number":
            reader = _two_digit_code if f.name == "MA_LOAI_KCB" else _numeric_code
        elif f.name == "MA_LOAI_KCB":
            reader = _two_digit_code
        severity = Severity.ERROR if f.name == "MA_LK" else Severity.WARNING
        out[f.name] = (reader, f.max_length, severity)
    return out


def _two_digit_code(s: str) -> str:
    # MA_LOAI_KCB was a number before QĐ 4750: "1" and "01" are the same code.
    if _DIGITS.fullmatch(s):
        return s.zfill(2) if len(s) < 2 else s
    raise Problem("CODE", allowed="01–10")


def table_spec(standard: Standard, table: str) -> TableSpec:
    if standard is Standard.QD4210 and table in qd4210_tables():
        return qd4210_tables()[table]
    return qd130_tables()[table]


def convert_row(
    standard: Standard, table: str, raw: RawRow, stt_hint: int | None
) -> tuple[dict[str, Value], list[Finding], set[str]]:
    """Typed values keyed by canonical (QĐ 130) names, the findings, and unknown field names."""
    p = plan(standard, table)
    values: dict[str, Value] = {}
    findings: list[Finding] = []
    unknown: set[str] = set()
    stt_text = raw.values.get("STT")
    stt = int(stt_text) if stt_text and stt_text.isdigit() else stt_hint
    renames = RENAMES.get(table, {}) if standard is Standard.QD4210 else {}
    for name, text in raw.values.items():
        entry = p.get(name)
        if entry is None:
            unknown.add(name)
            continue
        if text is None:
            value: object = None
        else:
            reader, max_length, severity = entry
            if max_length is not None and len(text) > max_length:
                findings.append(
                    field_finding(
                        "MAX_LENGTH",
                        table,
                        name,
                        text,
                        stt,
                        length=len(text),
                        max=max_length,
                        severity=severity,
                    )
                )
            try:
                value = reader(text)
            except Problem as prob:
                findings.append(field_finding(prob.rule, table, name, text, stt, **prob.params))
                value = None
            if isinstance(value, Quirk):
                findings.append(field_finding(value.rule, table, name, text, stt, **value.params))
                value = value.value
        if value is None:
            continue  # empty and unreadable fields are absent from the canonical row
        targets = renames.get(name)
        if targets:
            for target in targets:
                values[target] = value  # type: ignore[assignment]
        else:
            values[name] = value  # type: ignore[assignment]
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
    return values, findings, unknown
