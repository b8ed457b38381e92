"""Small-count suppression of the dashboards' numbers (security test 2026-12, F6).

One commune station on one day, filtered by sex, age band and diagnosis, can pin down a single
visit: anyone who knows a neighbour went there that day would learn their diagnosis. So counts
of people from 1 to ``small_count_threshold − 1`` are hidden (``None``: JSON ``null``, ``< 5``
in a spreadsheet) for every caller who may not see records anyway (:func:`threshold`).

Which counts, and how (``docs/warehouse.md``):

- a group of cells that adds up to a published total (outpatient / inpatient; by visit type,
  sex, age band; the months or days of a series; the rows of a breakdown) is suppressed with
  its complement (``khoyte.security.privacy.suppress``): when one cell alone would be hidden,
  the next smallest is hidden too, so subtraction from the total gives nothing back;
- a count that is part of no published partition (emergencies, deaths, BHYT records, each
  code of the top-10) is hidden on its own;
- what would describe the hidden people is hidden with them: bed-days with the inpatients,
  costs with the visits; when the period's whole total is small, everything about it is hidden.

Zero is shown (it says nobody). Counts of facilities and days are not counts of people and are
shown. Completeness figures (records a facility sent) are reporting counts: shown exact to the
callers who may do data-quality work, suppressed for anyone else.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, TypeVar

from khoyte.access import Permission, Principal
from khoyte.config import Settings
from khoyte.security.privacy import suppress

K = TypeVar("K", bound=Hashable)
SERIES_COUNTS = ("visits", "inpatient", "emergencies", "deaths", "visits_last_year")
ROW_COUNTS = ("visits", "inpatient", "emergencies", "deaths")


def threshold(principal: Principal, small_count_threshold: int, *, reporting: bool = False) -> int:
    """The threshold that applies to ``principal``: 0 (nothing hidden) for callers holding
    ``view_records`` (they may read the records themselves, in their scope), and — for
    completeness (``reporting``) — for callers holding ``data_quality``; the setting otherwise."""
    if Permission.VIEW_RECORDS in principal.permissions:
        return 0
    if reporting and Permission.DATA_QUALITY in principal.permissions:
        return 0
    return small_count_threshold


def small_for(principal: Principal, settings: Settings, reporting: bool = False) -> int:
    """:func:`threshold` with the setting ``small_count_threshold`` (what routes call)."""
    return threshold(principal, settings.small_count_threshold, reporting=reporting)


def small(v: Any, t: int) -> bool:
    return isinstance(v, int) and 0 < v < t


def one(v: int | None, t: int) -> int | None:
    """A count on its own (part of no published partition)."""
    return None if v is not None and small(v, t) else v


def group(counts: Mapping[K, int], t: int) -> dict[K, int | None]:
    """Cells adding up to a published total: suppressed with their complement."""
    return suppress(counts, t) if t > 1 else dict(counts)


def summary(s: dict[str, Any], t: int) -> dict[str, Any]:
    """``kcb.q_summary``'s figures."""
    if t <= 1:
        return s
    out = dict(s)
    if small(s["total"], t):  # the whole period is a handful of people: say nothing about them
        for k in ("total", "outpatient", "inpatient", "emergencies", "deaths", "bed_days",
                  "bhyt_records"):  # fmt: skip
            out[k] = None if s[k] else s[k]
        out["costs"] = dict.fromkeys(s["costs"])
        return out
    out.update(group({"outpatient": s["outpatient"], "inpatient": s["inpatient"]}, t))
    for k in ("emergencies", "deaths", "bhyt_records"):
        out[k] = one(s[k], t)
    if out["inpatient"] is None:
        out["bed_days"] = None
    return out


def counts(d: dict[str, int], t: int, total: int | None = None) -> dict[str, int | None]:
    """A breakdown by visit type, sex or age band (the cells add up to the total)."""
    if t <= 1:
        return dict(d)
    if total is not None and small(total, t):
        return {k: (None if v else v) for k, v in d.items()}
    return group(d, t)


def top(rows: list[dict[str, Any]], t: int) -> list[dict[str, Any]]:
    """The top-10 codes: each count on its own (the other codes are not published)."""
    if t <= 1:
        return rows
    return [{**r, "count": one(r["count"], t)} for r in rows]


def _columns(rows: list[dict[str, Any]], names: tuple[str, ...], t: int) -> None:
    for name in names:
        cells = {i: r[name] for i, r in enumerate(rows) if isinstance(r.get(name), int)}
        hidden = group(cells, t)
        for i, v in hidden.items():
            rows[i][name] = v


def series(rows: list[dict[str, Any]], t: int) -> list[dict[str, Any]]:
    """A monthly or daily series: each count column across the periods (they add up to the
    period's total), then the money of a hidden period's visits."""
    if t <= 1:
        return rows
    out = [dict(r) for r in rows]
    _columns(out, SERIES_COUNTS, t)
    for r in out:
        if r.get("visits") is None and "cost_total" in r:
            r["cost_total"] = None
        if r.get("visits_last_year") is None and "cost_total_last_year" in r:
            r["cost_total_last_year"] = None
    return out


def breakdown(rows: list[dict[str, Any]], t: int) -> list[dict[str, Any]]:
    """Rows by commune or facility (they add up to the total)."""
    if t <= 1:
        return rows
    out = [dict(r) for r in rows]
    _columns(out, ROW_COUNTS, t)
    for r in out:
        if r.get("visits") is None:
            r["cost_total"] = r["cost_bhyt"] = None
        if r.get("inpatient") is None or r.get("visits") is None:
            r["bed_days"] = None
    return out


def completeness(data: dict[str, Any], t: int) -> dict[str, Any]:
    """The completeness twin for a caller without ``data_quality``: records and rejections per
    facility (and per cell of the grid) hidden when small."""
    if t <= 1:
        return data
    out = dict(data)
    facs = [dict(f) for f in data["facilities"]]
    _columns(facs, ("records", "rejected"), t)
    out["facilities"] = facs
    if data.get("grid"):
        grid = [dict(g) for g in data["grid"]]
        _columns(grid, ("records", "rejected"), t)
        out["grid"] = grid
    return out


def persons(p: dict[str, Any], t: int) -> dict[str, Any]:
    """Persons served and re-admissions (``analytics.people``): each count on its own; the
    ratios go with the counts they are made of."""
    if t <= 1:
        return p
    out = dict(p)
    out["served"] = one(p["served"], t)
    if out["served"] is None:
        out["visits_per_person"] = None
    r = dict(p["readmissions"])
    r["discharges"], r["readmitted"] = one(r["discharges"], t), one(r["readmitted"], t)
    if r["discharges"] is None or r["readmitted"] is None:
        r["rate"] = None
    out["readmissions"] = r
    return out


def referrals(r: dict[str, Any], t: int) -> dict[str, Any]:
    """Referral flows: the rows add up to the total (suppressed with their complement, per
    column); the totals on their own."""
    if t <= 1:
        return r
    flows = [dict(f) for f in r["flows"]]
    _columns(flows, ("count", "followed_up"), t)
    return {**r, "total": one(r["total"], t), "followed_up": one(r["followed_up"], t),
            "flows": flows}  # fmt: skip
