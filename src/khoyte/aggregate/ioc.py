"""The IOC dashboards of groups 4–8 (issue 13, item 6): each panel of ``ioc.toml`` computed
over the stored aggregates (or the claims, :mod:`khoyte.aggregate.ioc_claims`), with the plan of
``targets.csv``, by month and by org unit, within the caller's scope.

Counting rules (``docs/aggregate.md``):

- a value of an org unit and month counts when its report (data set × month × org unit) is in the
  selection; with ``approved_only`` only approved (locked) reports count;
- over org units values are summed; over months an element follows its ``aggregation``: ``sum``,
  ``average`` (of the months that have a value) or ``last`` (the last month with a value);
- an indicator is ``numerator / denominator × factor`` over those totals;
- the plan: the target of the indicator × org unit × year. A flow (numerator summed over time)
  over nothing or over a stock (births; births per 1,000 people in the period) is planned pro
  rata: a month is a twelfth of its year's target, a period the sum of its months. Any other (a
  ratio of flows such as boys per 100 girls, a level such as the population) is compared with
  the target of the year as it is;
- small counts of people are hidden like the dashboards' (``analytics.disclosure``): the months
  and the rows of an additive count with their complement, a rate when its numerator is small.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.access import Scope
from khoyte.aggregate import quality, store
from khoyte.aggregate.metadata import Indicator, Metadata, Panel
from khoyte.aggregate.models import AggReport, AggValue
from khoyte.aggregate.residence import Residence
from khoyte.analytics import disclosure
from khoyte.registry import adminunits

PEOPLE_UNITS = frozenset({"persons", "births", "cases"})
LEVELS = ("province", "commune", "facility")  # coarsest first
Totals = dict[tuple[str, str], float]  # (element, option combination) -> value


@dataclass(frozen=True)
class Selection:
    """What a dashboard shows: the months (ISO ``YYYYMM``), the org unit chosen (``""``: the
    caller's whole scope), the province, the scope and whether only approved reports count."""

    months: tuple[str, ...]
    orgunit: str
    level: str  # province | commune | facility | scope
    province: str
    scope: Scope
    approved_only: bool = False
    small: int = 0
    units: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # store.known_orgunits
    names: dict[str, str] = field(default_factory=dict)  # org unit -> name
    read_cache: dict[tuple[str, str], list[tuple[str, str, str, str, float]]] = field(
        default_factory=dict
    )  # (element, level) -> values, read once per request (panels share elements)
    # plan targets in effect (targets.effective: the package's, with the stored ones over them);
    # None: the package's
    targets: dict[tuple[str, str, int], float] | None = None
    # how a person's commune of residence is read (papers placed by residence: XML12)
    residence: Residence = field(default_factory=Residence)

    def plan_unit(self) -> str | None:
        """The org unit whose targets apply: the one chosen, or the scope's only commune."""
        if self.level == "scope":
            only = self.scope.communes | self.scope.facilities
            return next(iter(only)) if len(only) == 1 else None
        return self.orgunit


def units_of(sel: Selection, level: str) -> list[str]:
    """The org units of a data set's ``level`` that the selection covers, in the scope."""
    units = sel.units
    if level == "province":
        chosen = [sel.province] if sel.level in ("province", "scope") else []
    elif level == "commune":
        if sel.level == "commune":
            chosen = [sel.orgunit]
        elif sel.level == "facility":
            chosen = []
        else:
            chosen = [c for c, _ in adminunits.communes_of(sel.province)]
    else:
        chosen = [
            c
            for c, (lv, commune) in units.items()
            if lv == "facility"
            and (
                sel.level in ("province", "scope")
                or (sel.level == "commune" and commune == sel.orgunit)
                or c == sel.orgunit
            )
        ]
    return sorted(c for c in chosen if c in units and store.allowed(sel.scope, c, units[c]))


def _read(
    session: Session, sel: Selection, element: str, level: str, units: list[str]
) -> list[tuple[str, str, str, str, float]]:
    """The values of ``element`` in the selection's months and ``units`` (plain rows: a year of
    a province's communes is tens of thousands of values)."""
    key = (element, level)
    if key not in sel.read_cache:
        got: list[tuple[str, str, str, str, float]] = []
        cols = (AggValue.data_element, AggValue.coc, AggValue.period, AggValue.orgunit,
                AggValue.value)  # fmt: skip
        wanted = set(units)
        if wanted:
            q = select(*cols).where(
                AggValue.data_element == element, AggValue.period.in_(sel.months)
            )
            got = [(de, coc, p, ou, float(v)) for de, coc, p, ou, v in session.execute(q)
                   if ou in wanted]  # fmt: skip
        sel.read_cache[key] = got
    return sel.read_cache[key]


def _approved(session: Session, datasets: set[str], months: Iterable[str]) -> set[tuple[str, ...]]:
    q = select(AggReport.dataset, AggReport.period, AggReport.orgunit).where(
        AggReport.dataset.in_(sorted(datasets)),
        AggReport.period.in_(sorted(months)),
        AggReport.level.is_not(None),
    )
    return {tuple(r) for r in session.execute(q)}


def additive(md: Metadata, ind: Indicator) -> bool:
    """A count: denominator ``1``, every numerator element summed over time."""
    return ind.denominator.strip() == "1" and all(
        md.elements[e].aggregation == "sum" for e in quality.refs(ind.numerator)
    )


def pro_rata(md: Metadata, ind: Indicator) -> bool:
    """Whether the plan is pro rata: a flow (numerator summed over time) over nothing or over a
    stock (a denominator averaged or last), e.g. births, or births per 1,000 people *in the
    period*. A ratio of two flows (boys per 100 girls) or of stocks is planned as it is."""
    den = quality.refs(ind.denominator)
    return all(md.elements[e].aggregation == "sum" for e in quality.refs(ind.numerator)) and all(
        md.elements[e].aggregation != "sum" for e in den
    )


def people(md: Metadata, ind: Indicator) -> bool:
    return all(md.elements[e].unit_en in PEOPLE_UNITS for e in quality.refs(ind.numerator))


def _over_time(md: Metadata, by_month: dict[str, Totals]) -> Totals:
    """Month totals → the period's, each element by its aggregation rule."""
    acc: dict[tuple[str, str], list[float]] = defaultdict(list)
    for m in sorted(by_month):
        for k, v in by_month[m].items():
            acc[k].append(v)
    out: Totals = {}
    for (de, coc), vs in acc.items():
        how = md.elements[de].aggregation
        out[(de, coc)] = (
            sum(vs) if how == "sum" else (vs[-1] if how == "last" else sum(vs) / len(vs))
        )
    return out


def _lookup(t: Totals) -> Callable[[str], float | None]:
    sums: dict[str, float] = defaultdict(float)
    for (de, _), v in t.items():
        sums[de] += v

    def look(ref: str) -> float | None:
        de, dot, coc = ref.partition(".")
        return t.get((de, coc)) if dot else sums.get(de)

    return look


def value_of(ind: Indicator, t: Totals) -> tuple[float | None, float | None]:
    """(indicator value, its numerator) over totals; None when nothing was reported."""
    if not t:
        return None, None
    look = _lookup(t)
    num, missing = quality.evaluate(ind.numerator, look)
    if num is None or missing:
        return None, num
    if ind.denominator.strip() == "1":
        return num * ind.factor, num
    den, missing = quality.evaluate(ind.denominator, look)
    if den is None or missing or den == 0:
        return None, num
    return num / den * ind.factor, num


def plan(
    md: Metadata,
    code: str,
    unit: str | None,
    months: Iterable[str],
    pro_rata: bool,
    targets: dict[tuple[str, str, int], float] | None = None,
) -> float | None:
    """The plan of ``code`` for org unit ``unit`` over ``months`` (see the module's rules), from
    ``targets`` (a selection's: the stored targets over the package's) or the package's."""
    table = md.targets if targets is None else targets
    if unit is None:
        return None
    months = sorted(months)
    if not months:
        return None
    if not pro_rata:
        return table.get((code, unit, int(months[-1][:4])))
    got = [table.get((code, unit, int(m[:4]))) for m in months]
    return None if any(g is None for g in got) else sum(g / 12 for g in got if g is not None)


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def achieved(actual: float | None, planned: float | None) -> float | None:
    return None if actual is None or not planned else round(actual / planned * 100, 1)


def indicator_panel(session: Session, md: Metadata, panel: Panel, sel: Selection) -> dict[str, Any]:
    """One indicator panel: the period's value and plan, its months, its org units and (with
    ``by_option``) its numerator's disaggregation."""
    ind = md.indicators[panel.code]
    elements = quality.refs(ind.numerator) | quality.refs(ind.denominator)
    datasets = {md.elements[e].dataset for e in elements}
    # each element is read at its data set's level; the drill-down is by the coarsest of them
    # (doctors of the facilities per 10,000 people of the communes: by commune)
    level_of = {e: md.datasets[md.elements[e].dataset].orgunit_level for e in elements}
    level = min(level_of.values(), key=LEVELS.index)
    units = units_of(sel, level)
    rows = [v for e in sorted(elements)
            for v in _read(session, sel, e, level_of[e], units_of(sel, level_of[e]))]  # fmt: skip
    if sel.approved_only and rows:
        ok = _approved(session, datasets, sel.months)
        rows = [v for v in rows if (md.elements[v[0]].dataset, v[2], v[3]) in ok]
    # (org unit of the drill-down, month) -> totals; a facility's values count in its commune
    cells: dict[tuple[str, str], Totals] = defaultdict(lambda: defaultdict(float))
    reports = set()
    for de, coc, period, ou, value in rows:
        reports.add((ou, period))
        row = ou if level_of[de] == level else (sel.units[ou][1] or ou)
        cells[(row, period)][(de, coc)] += value
    by_month: dict[str, Totals] = defaultdict(lambda: defaultdict(float))
    by_unit: dict[str, dict[str, Totals]] = defaultdict(dict)
    for (ou, m), t in cells.items():
        by_unit[ou][m] = t
        for k, x in t.items():
            by_month[m][k] += x
    counts, by_year = additive(md, ind), pro_rata(md, ind)
    hide = sel.small if people(md, ind) else 0
    unit = sel.plan_unit()
    total, total_num = value_of(ind, _over_time(md, by_month))
    monthly: list[dict[str, Any]] = []
    for m in sel.months:
        val, num = value_of(ind, by_month.get(m, {}))
        monthly.append({"month": f"{m[:4]}-{m[4:]}", "actual": val, "numerator": num,
                        "plan": _round(plan(md, ind.code, unit, [m], by_year, sel.targets))})  # fmt: skip
    breakdown: list[dict[str, Any]] = []
    for ou in units if panel.breakdown and len(units) > 1 else []:
        val, num = value_of(ind, _over_time(md, by_unit.get(ou, {})))
        p = plan(md, ind.code, ou, sel.months, by_year, sel.targets)
        breakdown.append({"code": ou, "name": sel.names.get(ou, ou), "level": level,
                          "actual": val, "numerator": num, "plan": _round(p)})  # fmt: skip
    options = _options(md, ind, by_month) if panel.by_option else None
    shown, monthly, breakdown, options = _suppress(
        counts, hide, (total, total_num), monthly, breakdown, options
    )
    p_total = plan(md, ind.code, unit, sel.months, by_year, sel.targets)
    for r in [*monthly, *breakdown]:
        r["achieved_pct"] = achieved(r["actual"], r["plan"])
        r["actual"] = _round(r["actual"])
        r.pop("numerator", None)
    return {
        "code": ind.code, "kind": "indicator", "chart": panel.chart,
        "name_vi": ind.name_vi, "name_en": ind.name_en, "unit_vi": unit_label(md, ind, "vi"),
        "unit_en": unit_label(md, ind, "en"), "additive": by_year, "level": level,
        "datasets": sorted(datasets), "actual": _round(shown), "plan": _round(p_total),
        "achieved_pct": achieved(shown, p_total), "reports": len(reports),
        "monthly": monthly, "breakdown": breakdown, "by_option": options,
    }  # fmt: skip


def unit_label(md: Metadata, ind: Indicator, lang: str) -> str:
    if ind.denominator.strip() != "1":
        return "%" if ind.factor == 100 else ("‰" if ind.factor == 1000 else "")
    el = md.elements[sorted(quality.refs(ind.numerator))[0]]
    return el.unit_vi if lang == "vi" else el.unit_en


def _options(md: Metadata, ind: Indicator, by_month: dict[str, Totals]) -> list[dict[str, Any]]:
    """The numerator's first element by its option combinations, over the period."""
    de = sorted(quality.refs(ind.numerator))[0]
    combo = md.combos[md.elements[de].combo]
    t = _over_time(md, by_month)
    return [
        {"code": coc, "name_vi": combo.labels_vi.get(coc, coc),
         "name_en": combo.labels_en.get(coc, coc), "value": t.get((de, coc))}
        for coc in combo.combinations
    ]  # fmt: skip


def _suppress(
    pro_rata: bool,
    t: int,
    total: tuple[float | None, float | None],
    monthly: list[dict[str, Any]],
    breakdown: list[dict[str, Any]],
    options: list[dict[str, Any]] | None,
) -> tuple[float | None, list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]] | None]:
    if t <= 1:
        return total[0], monthly, breakdown, options

    def small(v: float | None) -> bool:
        return v is not None and 0 < v < t

    if small(total[1]):  # the whole period is a handful of people: say nothing about them
        for r in [*monthly, *breakdown]:
            r["actual"] = None if r["actual"] else r["actual"]
        hidden = [{**o, "value": None if o["value"] else o["value"]} for o in options or []]
        return None, monthly, breakdown, (hidden if options is not None else None)
    if pro_rata:
        for rows in (monthly, breakdown):
            got = disclosure.group({i: int(r["actual"]) for i, r in enumerate(rows)
                                    if r["actual"] is not None}, t)  # fmt: skip
            for i, v in got.items():
                rows[i]["actual"] = v
    else:
        for r in [*monthly, *breakdown]:
            if small(r["numerator"]):
                r["actual"] = None
    if options is not None:
        got = disclosure.group({i: int(o["value"]) for i, o in enumerate(options)
                                if o["value"] is not None}, t)  # fmt: skip
        options = [{**o, "value": got.get(i, o["value"])} for i, o in enumerate(options)]
    return total[0], monthly, breakdown, options
