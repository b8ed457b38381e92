"""Data quality of aggregate reports (issue 13, item 4): validation rules, seasonal outliers,
completeness and timeliness, silent reporters. Pure functions over values; reading the store
and the registry is :mod:`khoyte.aggregate.quality_report`.

- **Rules** (``rules.toml``): ``left operator right`` per org unit × period, each side an
  expression over ``#{element}`` (all its disaggregations summed) or ``#{element.combo}``.
- **Outliers**: a monthly value against the same month and its two neighbours in earlier years
  (up to :data:`HISTORY_YEARS`), with the median and the median absolute deviation (MAD) —
  never a mean and standard deviation, which one bad year spoils. The spread is at least the
  Poisson spread √(median + 1), so a series of small counts (MAD 0) is not flagged for a 1.
- **Completeness / timeliness**: a report (data set × org unit × period) is received when any of
  its values is stored; on time when it first arrived by the due date, ``due_days`` working days
  after the period's end (weekends and, optionally, public holidays skipped).
- **Silent reporters**: org units that reported in earlier periods and not in this one.
"""

from __future__ import annotations

import ast
import csv
import io
import operator
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources

from khoyte.aggregate import periods
from khoyte.aggregate.metadata import Metadata, Rule

Key = tuple[str, str, str, str]  # data element, option combination, period, org unit
HISTORY_YEARS = 5
THRESHOLD = 5.0  # |x − median| / spread above this is an outlier (measured: docs/aggregate.md)
MIN_HISTORY = 3  # values of earlier years needed to judge

_REF = re.compile(r"#\{([^}]*)\}")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, "==": operator.eq,
    "!=": operator.ne, ">=": operator.ge, ">": operator.gt,
}  # fmt: skip
_BIN: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}  # fmt: skip


# ---- expressions ---------------------------------------------------------------------------


def _eval(node: ast.AST, names: dict[str, float]) -> float:
    if isinstance(node, ast.Expression):
        return _eval(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, names)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        right = _eval(node.right, names)
        if isinstance(node.op, ast.Div) and right == 0:
            raise ZeroDivisionError
        return _BIN[type(node.op)](_eval(node.left, names), right)
    raise ValueError(f"expression: {ast.dump(node)}")


def evaluate(expr: str, lookup: Callable[[str], float | None]) -> tuple[float | None, bool]:
    """(value, whether a reference had no value); ``lookup('el')`` / ``lookup('el.combo')``."""
    names: dict[str, float] = {}
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        v = lookup(m.group(1))
        missing |= v is None
        name = f"v{len(names)}"
        names[name] = 0.0 if v is None else v
        return name

    tree = ast.parse(_REF.sub(sub, expr), mode="eval")
    try:
        return _eval(tree, names), missing
    except ZeroDivisionError:
        return None, missing


def refs(expr: str) -> set[str]:
    return {r.partition(".")[0] for r in _REF.findall(expr)}


# ---- validation rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    rule: str
    period: str
    orgunit: str
    left: float
    operator: str
    right: float
    name_vi: str
    name_en: str


def by_unit(values: dict[Key, float]) -> dict[tuple[str, str], dict[tuple[str, str], float]]:
    """(period, org unit) → (element, combination) → value."""
    out: dict[tuple[str, str], dict[tuple[str, str], float]] = defaultdict(dict)
    for (de, coc, p, ou), v in values.items():
        out[(p, ou)][(de, coc)] = v
    return out


def _lookup(cells: dict[tuple[str, str], float]) -> Callable[[str], float | None]:
    sums: dict[str, float] = defaultdict(float)
    for (de, _), v in cells.items():
        sums[de] += v

    def look(ref: str) -> float | None:
        de, dot, coc = ref.partition(".")
        if dot:
            return cells.get((de, coc))
        return sums.get(de)

    return look


def check_rules(values: dict[Key, float], rules: Iterable[Rule]) -> list[Violation]:
    """Every rule broken, per period × org unit where its elements were reported."""
    out = []
    rules = list(rules)
    for (p, ou), cells in sorted(by_unit(values).items()):
        look = _lookup(cells)
        present = {de for de, _ in cells}
        for r in rules:
            if not (refs(r.left) | refs(r.right)) & present:
                continue
            left, lmiss = evaluate(r.left, look)
            right, rmiss = evaluate(r.right, look)
            if left is None or right is None or (r.missing == "skip_if_any" and (lmiss or rmiss)):
                continue
            if not _OPS[r.operator](left, right):
                out.append(Violation(r.code, p, ou, left, r.operator, right, r.name_vi, r.name_en))
    return out


# ---- seasonal outliers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Outlier:
    data_element: str
    coc: str
    period: str
    orgunit: str
    value: float
    median: float
    mad: float
    score: float
    history: int  # values of earlier years it was compared with


def _shift(iso: str, years: int, months: int) -> str:
    y, m = int(iso[:4]) - years, int(iso[4:6]) + months
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    return f"{y}{m:02d}"


def seasonal_history(iso: str, years: int = HISTORY_YEARS) -> list[str]:
    """The same month and its neighbours in each of the ``years`` years before ``iso``."""
    return [_shift(iso, y, dm) for y in range(1, years + 1) for dm in (-1, 0, 1)]


def _days(iso: str) -> int:
    p = periods.parse(iso)
    return (p.end - p.start).days + 1


def score(value: float, history: list[float], scale: float = 1.0) -> tuple[float, float, float]:
    """(median, MAD, robust score) of ``value`` against ``history``; the history is multiplied
    by ``scale`` first (a per-day rate times the days of the month judged)."""
    med = statistics.median(history) * scale
    mad = statistics.median(abs(x * scale - med) for x in history)
    spread = max(1.4826 * mad, (med + 1) ** 0.5)
    return med, mad, (value - med) / spread


def outliers(
    values: dict[Key, float],
    target: list[str] | None = None,
    threshold: float = THRESHOLD,
    per_day: frozenset[str] = frozenset(),
) -> list[Outlier]:
    """Monthly values (of the ``target`` periods, default all) far from their seasonal history.
    Elements in ``per_day`` (counts summed over the days of a month) are compared as rates per
    day, so a 31-day month is not an outlier beside a 28-day one."""
    series: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    for (de, coc, p, ou), v in values.items():
        if len(p) == 6:  # months only: seasonality has no meaning for a year
            series[(de, coc, ou)][p] = v
    wanted = set(target) if target is not None else None
    out = []
    for (de, coc, ou), by_period in series.items():
        rate = de in per_day
        for p, v in by_period.items():
            if wanted is not None and p not in wanted:
                continue
            hist = [by_period[h] / (_days(h) if rate else 1)
                    for h in seasonal_history(p) if h in by_period]  # fmt: skip
            if len(hist) < MIN_HISTORY:
                continue
            med, mad, s = score(v, hist, _days(p) if rate else 1.0)
            if abs(s) > threshold:
                out.append(Outlier(de, coc, p, ou, v, round(med, 2), round(mad, 2), round(s, 2),
                                   len(hist)))  # fmt: skip
    return sorted(out, key=lambda o: (o.period, o.orgunit, o.data_element, o.coc))


def per_day_elements(md: Metadata) -> frozenset[str]:
    """Elements summed over time: their monthly values grow with the month's length."""
    return frozenset(e.code for e in md.elements.values() if e.aggregation == "sum")


# ---- completeness and timeliness -----------------------------------------------------------


@cache
def holidays() -> frozenset[date]:
    """Public holidays of Việt Nam (``holidays.csv``: Labour Code 2019 art. 112, lunar dates as
    announced each year)."""
    text = resources.files("khoyte.aggregate").joinpath("data/holidays.csv").read_text("utf-8")
    return frozenset(date.fromisoformat(r["date"]) for r in csv.DictReader(io.StringIO(text)))


def due_date(period: str, days: int, with_holidays: bool = False) -> date:
    """``days`` working days after the last day of ``period``."""
    d = periods.parse(period).end
    off = holidays() if with_holidays else frozenset()
    left = days
    while left > 0:
        d += timedelta(days=1)
        if d.weekday() < 5 and d not in off:
            left -= 1
    return d


@dataclass(frozen=True)
class Status:
    dataset: str
    period: str
    orgunit: str
    received: bool
    on_time: bool
    first_received: datetime | None
    due: date


def completeness(
    md: Metadata,
    dataset: str,
    period: str,
    expected: Iterable[str],
    first_received: dict[str, datetime],
    with_holidays: bool = False,
) -> list[Status]:
    """One status per expected org unit: ``first_received`` maps org unit → first arrival."""
    due = due_date(period, md.datasets[dataset].due_days, with_holidays)
    out = []
    for ou in sorted(set(expected)):
        at = first_received.get(ou)
        out.append(Status(dataset, period, ou, at is not None,
                          at is not None and at.date() <= due, at, due))  # fmt: skip
    return out


def silent(reported: dict[str, set[str]], period: str, earlier: list[str]) -> list[str]:
    """Org units that reported in any of the ``earlier`` periods and not in ``period``
    (``reported``: period → org units)."""
    before = set().union(*(reported.get(p, set()) for p in earlier)) if earlier else set()
    return sorted(before - reported.get(period, set()))
