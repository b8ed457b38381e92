"""Reporting completeness and timeliness: for each facility and day or month, whether and when
it sent data, how many records were rejected, and which facilities have gone silent.

Counted over every version received (``fact_submission``, rejected ones included), dated by the
admission day the record carries (``NGAY_VAO``) — the day the activity happened — with the
time it reached khoyte (``received_at``) for timeliness.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from khoyte.access import Scope
from khoyte.analytics import disclosure
from khoyte.analytics.filters import Filters, source, where
from khoyte.warehouse import schema
from khoyte.warehouse.engine import AnalyticsEngine

MONTH = "EXTRACT(YEAR FROM e.ngay_vao) * 100 + EXTRACT(MONTH FROM e.ngay_vao)"
FACT = "agg_submission"  # facility × admission day over every version (``schema``)
LOOKBACK_DAYS = 366  # how far before the period the last day with data is looked for


def _iso(v: Any) -> str | None:
    if isinstance(v, datetime):
        return v.isoformat(timespec="seconds")
    if isinstance(v, date):
        return v.isoformat()
    return None if v is None else str(v)


def scan(
    eng: AnalyticsEngine, scope: Scope, flt: Filters
) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """One pass over the period: per facility (records, rejected, days with data, first and
    last received, last day) and facilities with data per day."""
    w, p = where(scope, flt, with_visit_type=False, eng=eng)
    rows = eng.query(
        "WITH g AS MATERIALIZED (SELECT e.facility AS fac, e.ngay_vao AS d, e.records AS n, "
        "e.rejected AS r, e.first_received AS a, e.last_received AS b "
        f"FROM {source(FACT, scope, flt, eng)} WHERE {w}) "
        "SELECT 'f', fac, SUM(n), SUM(r), COUNT(d), MIN(a), MAX(b), MAX(d) FROM g GROUP BY fac "
        "UNION ALL SELECT 'd', NULL, COUNT(*), NULL, NULL, NULL, NULL, d FROM g GROUP BY d",
        p,
    )
    per_facility = [r[1:] for r in rows if r[0] == "f"]
    per_day = {str(_iso(r[7])): int(r[2]) for r in rows if r[0] == "d" and r[7] is not None}
    return per_facility, per_day


def q_facilities(
    eng: AnalyticsEngine,
    scope: Scope,
    flt: Filters,
    silent_days: int,
    period: list[tuple[Any, ...]] | None = None,
) -> list[dict[str, Any]]:
    """Every facility of the registry in scope (and any that sent data without being in it),
    with its activity over the period and the last day it had data for."""
    if period is None:
        period = scan(eng, scope, flt)[0]
    last: dict[Any, Any] = {r[0]: r[6] for r in period}
    reg_w, reg_p = where(scope, None, fac="f.ma_cskcb")
    registry_filters = []
    if flt.commune:
        registry_filters.append(("f.ma_xa = ?", flt.commune))
    if flt.facility:
        registry_filters.append(("f.ma_cskcb = ?", flt.facility))
    if flt.tier:
        registry_filters.append(("f.tuyen = ?", flt.tier))
    extra = "".join(f" AND {c}" for c, _ in registry_filters)
    registry = eng.query(
        f"SELECT f.ma_cskcb, f.ten, f.tuyen, f.ma_xa, f.ten_xa, f.active FROM dim_facility f "
        f"WHERE {reg_w}{extra} ORDER BY f.ma_cskcb",
        [*reg_p, *(v for _, v in registry_filters)],
    )
    info = {str(r[0]): r for r in registry}
    # Facilities silent over the whole period: their last day with data in the year before.
    before = Filters(
        flt.date_from - timedelta(days=LOOKBACK_DAYS),
        flt.date_from - timedelta(days=1),
        flt.commune,
        flt.facility,
        flt.tier,
    )
    if set(info) - set(last):
        w_b, p_b = where(scope, before, with_visit_type=False, eng=eng)
        for fac, day in eng.query(
            f"SELECT e.facility, MAX(e.ngay_vao) FROM {source(FACT, scope, before, eng)} WHERE {w_b} "
            "GROUP BY e.facility",
            p_b,
        ):
            last.setdefault(fac, day)
    days = (flt.date_to - flt.date_from).days + 1
    stats = {str(r[0]): r for r in period}
    out = []
    for code in sorted(set(info) | set(stats)):
        reg = info.get(code)
        st = stats.get(code)
        last_day = last.get(code)
        silent_for = (flt.date_to - last_day).days if isinstance(last_day, date) else None
        out.append(
            {
                "facility": code,
                "name": str(reg[1]) if reg else code,
                "tier": reg[2] if reg else None,
                "commune": reg[3] if reg else None,
                "commune_name": reg[4] if reg else None,
                "days": days,
                "days_with_data": int(st[3]) if st else 0,
                "records": int(st[1]) if st else 0,
                "rejected": int(st[2]) if st else 0,
                "first_received": _iso(st[4]) if st else None,
                "last_received": _iso(st[5]) if st else None,
                "last_day_with_data": _iso(last_day),
                # the registry's flag (None: not in the registry); a facility the registry
                # marks inactive is not expected to send, so it is never "silent"
                "active": (reg[5] is not False) if reg else None,
                "silent": (not reg or reg[5] is not False)
                and (silent_for is None or silent_for >= silent_days),
                "silent_days": silent_for,
            }
        )
    return out


def q_grid(
    eng: AnalyticsEngine, scope: Scope, flt: Filters, unit: str = "day"
) -> list[dict[str, Any]]:
    """One row per facility and day (or month) that has data."""
    key = "e.ngay_vao" if unit == "day" else MONTH
    w, p = where(scope, flt, with_visit_type=False, eng=eng)
    rows = eng.query(
        f"SELECT e.facility, {key} AS k, SUM(e.records), "
        "SUM(e.rejected), MIN(e.first_received), MAX(e.last_received) "
        f"FROM {source(FACT, scope, flt, eng)} WHERE {w} GROUP BY e.facility, k ORDER BY e.facility, k",
        p,
    )
    out = []
    for fac, k, n, rej, first, lastr in rows:
        if unit == "day":
            when = _iso(k)
        else:
            ym = int(float(k))
            when = f"{ym // 100:04d}-{ym % 100:02d}"
        out.append(
            {
                "facility": str(fac),
                unit: when,
                "records": int(n),
                "rejected": int(rej),
                "first_received": _iso(first),
                "last_received": _iso(lastr),
            }
        )
    return out


def q_reporting(
    eng: AnalyticsEngine, scope: Scope, flt: Filters, unit: str = "day"
) -> dict[str, int]:
    """Facilities with data per day (or month)."""
    key = "e.ngay_vao" if unit == "day" else MONTH
    w, p = where(scope, flt, with_visit_type=False, eng=eng)
    rows = eng.query(
        f"SELECT {key} AS k, COUNT(DISTINCT e.facility) FROM {source(FACT, scope, flt, eng)} WHERE {w} GROUP BY k",
        p,
    )
    out = {}
    for k, n in rows:
        if unit == "day":
            out[str(_iso(k))] = int(n)
        else:
            ym = int(float(k))
            out[f"{ym // 100:04d}-{ym % 100:02d}"] = int(n)
    return out


# Facility × day cells beyond which the grid is left out unless asked for (``grid=1``).
GRID_DAYS = 93


def completeness(
    eng: AnalyticsEngine,
    scope: Scope,
    flt: Filters,
    silent_days: int = 7,
    unit: str = "day",
    grid: bool | None = None,
    small: int = 0,
) -> dict[str, Any]:
    """The completeness twin. The facility × day grid comes with periods up to
    ``GRID_DAYS`` days (or by month, or when ``grid`` is asked for). Record counts below
    ``small`` are suppressed (``analytics.disclosure``; 0 for data-quality callers)."""
    period, per_day = scan(eng, scope, flt)
    facilities = q_facilities(eng, scope, flt, silent_days, period)
    if grid is None:
        grid = unit == "month" or (flt.date_to - flt.date_from).days < GRID_DAYS
    per = per_day if unit == "day" else q_reporting(eng, scope, flt, unit)
    timeline: list[dict[str, Any]] = []
    if unit == "day":
        d = flt.date_from
        while d <= flt.date_to:
            timeline.append({"day": d.isoformat(), "facilities": per.get(d.isoformat(), 0)})
            d += timedelta(days=1)
    else:
        timeline = [{"month": k, "facilities": v} for k, v in sorted(per.items())]
    data = {
        "period": {"from": flt.date_from.isoformat(), "to": flt.date_to.isoformat()},
        "filters": {k: v for k, v in flt.as_dict().items() if k != "loai_kcb"},
        "unit": unit,
        "silent_after_days": silent_days,
        "facilities": facilities,
        "silent": [f["facility"] for f in facilities if f["silent"]],
        "reporting": timeline,
        "grid": q_grid(eng, scope, flt, unit) if grid else None,
        "as_of": schema.get_meta(eng, "as_of"),
    }
    return disclosure.completeness(data, small)
