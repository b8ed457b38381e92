"""Calendar arithmetic shared by intake (retention) and the dashboards (same period last year)."""

from __future__ import annotations

from datetime import date
from typing import TypeVar

D = TypeVar("D", bound=date)  # a date or a datetime: the result has the same type


def add_years(d: D, years: int) -> D:
    """``d`` moved by ``years`` (negative: back). 29 February becomes 28 February in a year
    without one — ``d.replace(year=…)`` alone raises ``ValueError`` on that day."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)
