"""What every rule shares: the context of one HOSO and how a finding is made."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from khoyte.findings import Finding
from khoyte.standards.model import Record, Row, Standard
from khoyte.standards.qd4210 import RENAMES
from khoyte.validate.catalog import field_finding

ZERO = Decimal(0)
CENT = Decimal("0.01")
ONE = Decimal(1)
HUNDRED = Decimal(100)

_CARD = re.compile(r"[A-Z]{2}\d{13}", re.ASCII)
_FACILITY = re.compile(r"\d{5}", re.ASCII)
_CCCD = re.compile(r"\d{9}|\d{12}|[A-Z]\d{7}", re.ASCII)


@dataclass(slots=True)
class Context:
    standard: Standard = Standard.QD130
    facility: str | None = None  # MACSKCB of the envelope
    received_at: datetime = field(default_factory=datetime.now)
    _reverse: dict[str, dict[str, str]] = field(default_factory=dict)
    # Fields that were sent but could not be read, per row (by id): rules that need them stay
    # silent rather than report a second, derived problem.
    invalid: dict[int, set[str]] = field(default_factory=dict)
    # Tables of the current HOSO that were sent but could not be decoded.
    broken: set[str] = field(default_factory=set)

    def bad(self, row: Row, name: str) -> bool:
        names = self.invalid.get(id(row))
        return names is not None and name in names

    def any_bad(self, rows: list[Row], name: str) -> bool:
        return bool(self.invalid) and any(self.bad(r, name) for r in rows)

    def sent(self, table: str, name: str) -> str:
        """The field name as the sender wrote it (QĐ 4210 names for 4210 input)."""
        if self.standard is not Standard.QD4210:
            return name
        rev = self._reverse.get(table)
        if rev is None:
            rev = {t: src for src, targets in RENAMES.get(table, {}).items() for t in targets}
            self._reverse[table] = rev
        return rev.get(name, name)


Rule = Callable[[Record, Context], Iterator[Finding]]


def _f(ctx: Context, rule: str, row: Row, name: str, value: object, **params: object) -> Finding:
    table = row.table
    return field_finding(
        rule, table, ctx.sent(table, name), value, row.stt if table != "XML1" else None, **params
    )


def _money(v: Decimal) -> str:
    # As the standard writes amounts (dot decimals, no grouping), so senders can search for it.
    return f"{v:.2f}"


def _round2(v: Decimal) -> Decimal:
    return v.quantize(CENT, rounding=ROUND_HALF_UP)


def _fmt(v: object) -> str:
    if isinstance(v, datetime):
        return v.strftime("%Y%m%d%H%M")
    if isinstance(v, date):
        return v.strftime("%Y%m%d")
    return str(v)
