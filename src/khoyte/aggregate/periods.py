"""Periods in DHIS2's ISO notation: ``2025`` (year), ``2025Q1`` (quarter), ``202501`` (month).

The synth's files write a month as ``2025-01``; ADX writes ``2025-01-01/P1M``. Both are read
here and turned into the ISO code every stored value carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4})Q([1-4])")
_MONTH = re.compile(r"(\d{4})(0[1-9]|1[0-2])")
_DASHED = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_ADX = re.compile(r"(\d{4})-(\d{2})-(\d{2})/(P1Y|P3M|P1M)")
_DURATION = {"year": "P1Y", "quarter": "P3M", "month": "P1M"}


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    kind: str  # year | quarter | month
    start: date
    end: date  # inclusive

    @property
    def iso(self) -> str:
        if self.kind == "year":
            return f"{self.start.year}"
        if self.kind == "quarter":
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}{self.start.month:02d}"

    @property
    def adx(self) -> str:
        return f"{self.start.isoformat()}/{_DURATION[self.kind]}"

    def months(self) -> list[Period]:
        """The months this period is made of (itself for a month)."""
        out = []
        d = self.start
        while d <= self.end:
            out.append(month(d.year, d.month))
            d = _next_month(d)
        return out


def _next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def month(year: int, m: int) -> Period:
    start = date(year, m, 1)
    return Period("month", start, _next_month(start) - timedelta(days=1))


def parse(text: str) -> Period:
    """``2025`` / ``2025Q1`` / ``202501`` / ``2025-01`` / ``2025-01-01/P1M``."""
    t = text.strip()
    if m := _YEAR.fullmatch(t):
        y = int(m.group(1))
        return Period("year", date(y, 1, 1), date(y, 12, 31))
    if m := _QUARTER.fullmatch(t):
        y, q = int(m.group(1)), int(m.group(2))
        start = date(y, 3 * q - 2, 1)
        return Period("quarter", start, month(y, 3 * q).end)
    if m := _MONTH.fullmatch(t) or _DASHED.fullmatch(t):
        return month(int(m.group(1)), int(m.group(2)))
    if m := _ADX.fullmatch(t):
        y, mo, d, dur = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
        iso = {"P1Y": f"{y}", "P3M": f"{y}Q{(mo + 2) // 3}", "P1M": f"{y}{mo:02d}"}[dur]
        starts = {"P1Y": (1,), "P3M": (1, 4, 7, 10), "P1M": tuple(range(1, 13))}[dur]
        if d == 1 and mo in starts:
            return parse(iso)
    raise PeriodError(text)
