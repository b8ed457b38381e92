"""The KCB (examination & treatment) dashboard: every number the page and its JSON twin show.

Each ``q_*`` function is one query (the benchmark times them one by one); :func:`kcb` assembles
the JSON twin ``GET /api/v1/dashboards/kcb``. Counting rules: ``docs/warehouse.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from khoyte.access import Scope
from khoyte.analytics import disclosure
from khoyte.analytics.filters import Filters, source, where
from khoyte.registry.agebands import AGE_BANDS
from khoyte.warehouse import schema
from khoyte.warehouse.engine import AnalyticsEngine

SEXES = schema.AGG_SEXES
AGG = "agg_day"  # day × facility × visit type, with the summed measures (``schema``)
AGG_ICD = "agg_icd_day"  # day × facility × visit type × main ICD-10 code → visits
AGG_MONTH = "agg_month"  # as agg_day per month (``ngay_vao`` = the month's first day)


def _money(cents: Any) -> float:
    return round(int(cents or 0) / 100, 2)


def q_summary(eng: AnalyticsEngine, scope: Scope, flt: Filters) -> dict[str, Any]:
    w, p = where(scope, flt, eng=eng)
    row = eng.query(
        "SELECT COALESCE(SUM(e.visits), 0), COUNT(DISTINCT e.facility), "
        "COALESCE(SUM(e.inpatient), 0), COALESCE(SUM(e.emergencies), 0), "
        "COALESCE(SUM(e.deaths), 0), COALESCE(SUM(e.bed_days), 0), "
        "COALESCE(SUM(e.cost_total), 0), COALESCE(SUM(e.cost_bhyt), 0), "
        "COALESCE(SUM(e.cost_patient), 0), COALESCE(SUM(e.bhyt_records), 0) "
        f"FROM {source(AGG, scope, flt, eng)} WHERE {w}",
        p,
    )[0]
    total, facs, inpatient, emerg, deaths, bed_days, cost, bhyt, patient, bhyt_n = row
    return {
        "facilities_reporting": int(facs),
        "total": int(total),
        "outpatient": int(total) - int(inpatient),
        "inpatient": int(inpatient),
        "emergencies": int(emerg),
        "deaths": int(deaths),
        "bed_days": int(bed_days),
        "costs": {"total": _money(cost), "bhyt": _money(bhyt), "patient": _money(patient)},
        "bhyt_records": int(bhyt_n),
    }


def q_by_loai_kcb(eng: AnalyticsEngine, scope: Scope, flt: Filters) -> dict[str, int]:
    w, p = where(scope, flt, eng=eng)
    rows = eng.query(
        f"SELECT e.ma_loai_kcb, SUM(e.visits) FROM {source(AGG, scope, flt, eng)} WHERE {w} "
        "GROUP BY e.ma_loai_kcb",
        p,
    )
    return dict(sorted((str(k), int(n)) for k, n in rows if k is not None))


def _columns(eng: AnalyticsEngine, scope: Scope, flt: Filters, cols: list[str]) -> list[int]:
    """Sums of count columns of the aggregate (one per sex or age band)."""
    w, p = where(scope, flt, eng=eng)
    sums = ", ".join(f"COALESCE(SUM(e.{c}), 0)" for c in cols)
    row = eng.query(f"SELECT {sums} FROM {source(AGG, scope, flt, eng)} WHERE {w}", p)[0]
    return [int(v) for v in row]


def q_by_sex(eng: AnalyticsEngine, scope: Scope, flt: Filters) -> dict[str, int]:
    got = _columns(eng, scope, flt, [f"sex_{s}" for s in SEXES])
    return dict(zip(SEXES, got, strict=True))


def q_by_age_band(eng: AnalyticsEngine, scope: Scope, flt: Filters) -> dict[str, int]:
    labels = [label for _, _, label in AGE_BANDS]
    got = _columns(eng, scope, flt, [f"age_{schema.AGG_AGE_BANDS.index(b)}" for b in labels])
    return dict(zip(labels, got, strict=True))


def q_top_icd10(
    eng: AnalyticsEngine, scope: Scope, flt: Filters, limit: int = 10
) -> list[dict[str, Any]]:
    w, p = where(scope, flt, eng=eng)
    rows = eng.query(
        "SELECT t.code, d.name_vi, d.name_en, t.n FROM ("
        f"SELECT e.ma_benh_chinh AS code, SUM(e.visits) AS n FROM {source(AGG_ICD, scope, flt, eng)} WHERE {w} "
        "AND e.ma_benh_chinh IS NOT NULL GROUP BY e.ma_benh_chinh "
        f"ORDER BY n DESC, code LIMIT {int(limit)}) t "
        "LEFT JOIN dim_icd10 d ON d.code = t.code ORDER BY t.n DESC, t.code",
        p,
    )
    return [
        {"code": c, "name_vi": vi or en or c, "name_en": en or vi or c, "count": int(n)}
        for c, vi, en, n in rows
    ]


def _series(
    eng: AnalyticsEngine, scope: Scope, flt: Filters, key: str, table: str = AGG
) -> dict[str, tuple[int, int, int, int, int]]:
    w, p = where(scope, flt, eng=eng)
    rows = eng.query(
        f"SELECT {key} AS k, SUM(e.visits), SUM(e.inpatient), SUM(e.emergencies), "
        f"SUM(e.deaths), SUM(e.cost_total) FROM {source(table, scope, flt, eng)} WHERE {w} "
        "GROUP BY k",
        p,
    )
    return {str(k): (int(a), int(b), int(c), int(d), int(m)) for k, a, b, c, d, m in rows}


MONTH_KEY = "EXTRACT(YEAR FROM e.ngay_vao) * 100 + EXTRACT(MONTH FROM e.ngay_vao)"


def _months(a: date, b: date) -> list[tuple[int, int]]:
    out = []
    y, m = a.year, a.month
    while (y, m) <= (b.year, b.month):
        out.append((y, m))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _trend(
    now: dict[str, tuple[int, int, int, int, int]],
    before: dict[str, tuple[int, int, int, int, int]],
    keys: list[tuple[str, str, str]],
    label: str,
) -> list[dict[str, Any]]:
    zero = (0, 0, 0, 0, 0)
    out = []
    for shown, k_now, k_before in keys:
        v, lv = now.get(k_now, zero), before.get(k_before, zero)
        out.append(
            {
                label: shown,
                "visits": v[0],
                "inpatient": v[1],
                "emergencies": v[2],
                "deaths": v[3],
                "cost_total": _money(v[4]),
                "visits_last_year": lv[0],
                "cost_total_last_year": _money(lv[4]),
            }
        )
    return out


def _month_series(
    eng: AnalyticsEngine, scope: Scope, flt: Filters
) -> dict[str, tuple[int, int, int, int, int]]:
    """Per month (key ``YYYYMM``): the whole months of the period from ``agg_month``, the
    partial months at its edges from ``agg_day``."""
    a, b = flt.date_from, flt.date_to
    first = a if a.day == 1 else _next_month(a)  # first day of the first whole month
    end = _next_month(b) - timedelta(days=1) == b  # the period ends on a month's last day
    last = b if end else b.replace(day=1) - timedelta(days=1)  # last day of the last whole one
    parts: list[tuple[Filters, str]] = []
    if first <= last:
        parts.append((replace(flt, date_from=first, date_to=last), AGG_MONTH))
        if a < first:
            parts.append((replace(flt, date_to=first - timedelta(days=1)), AGG))
        if last < b:
            parts.append((replace(flt, date_from=last + timedelta(days=1)), AGG))
    else:
        parts.append((flt, AGG))
    out: dict[str, tuple[int, int, int, int, int]] = {}
    for f, table in parts:
        for k, v in _series(eng, scope, f, MONTH_KEY, table).items():
            # Engines return the key as int or decimal: normalise to its integer text.
            key = str(int(float(k)))
            o = out.get(key)
            if o is not None:
                v = (o[0] + v[0], o[1] + v[1], o[2] + v[2], o[3] + v[3], o[4] + v[4])
            out[key] = v
    return out


def _next_month(d: date) -> date:
    return date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)


def q_monthly(eng: AnalyticsEngine, scope: Scope, flt: Filters) -> list[dict[str, Any]]:
    """Visits per month of the period, with the same month one year before."""
    now = _month_series(eng, scope, flt)
    before = _month_series(eng, scope, flt.shifted_year(1))
    keys = [
        (f"{y:04d}-{m:02d}", str(y * 100 + m), str((y - 1) * 100 + m))
        for y, m in _months(flt.date_from, flt.date_to)
    ]
    return _trend(now, before, keys, "month")


def q_daily(
    eng: AnalyticsEngine, scope: Scope, flt: Filters, small: int = 0
) -> list[dict[str, Any]]:
    """Visits per day of the period, with the same day one year before (counts below ``small``
    suppressed: ``analytics.disclosure``)."""
    now = _series(eng, scope, flt, "e.ngay_vao")
    last = flt.shifted_year(1)
    before = _series(eng, scope, last, "e.ngay_vao")
    keys: list[tuple[str, str, str]] = []
    d = flt.date_from
    while d <= flt.date_to:
        prev = last.date_from + (d - flt.date_from)
        keys.append((d.isoformat(), d.isoformat(), prev.isoformat()))
        d += timedelta(days=1)
    return disclosure.series(_trend(now, before, keys, "date"), small)


def q_breakdown(
    eng: AnalyticsEngine, scope: Scope, flt: Filters, by: str, small: int = 0
) -> list[dict[str, Any]]:
    """One row per commune (where the facility is) or per facility: the drill-down table.
    Facts are summed per facility first, then joined with the registry (a few hundred rows).
    Counts below ``small`` are suppressed (``analytics.disclosure``)."""
    names: tuple[str, ...]
    if by == "commune":
        cols, names = "f.ma_xa, f.ten_xa", ("code", "name")
    else:
        # active: the registry's flag (null: a sender the registry does not know)
        cols, names = "x.facility, f.ten, f.tuyen, f.active", ("code", "name", "tier", "active")
    w, p = where(scope, flt, eng=eng)
    rows = eng.query(
        f"SELECT {cols}, SUM(x.n), COUNT(*), SUM(x.inp), SUM(x.em), SUM(x.de), SUM(x.bd), "
        "SUM(x.cost), SUM(x.bhyt) FROM ("
        "SELECT e.facility, SUM(e.visits) AS n, SUM(e.inpatient) AS inp, "
        "SUM(e.emergencies) AS em, SUM(e.deaths) AS de, SUM(e.bed_days) AS bd, "
        f"SUM(e.cost_total) AS cost, SUM(e.cost_bhyt) AS bhyt FROM {source(AGG, scope, flt, eng)} WHERE {w} "
        "GROUP BY e.facility) x LEFT JOIN dim_facility f ON f.ma_cskcb = x.facility "
        f"GROUP BY {cols} ORDER BY SUM(x.n) DESC, 1",
        p,
    )
    out = []
    n = len(names)
    for r in rows:
        item: dict[str, Any] = dict(zip(names, r[:n], strict=True))
        vis, facs, inp, em, de, bd, cost, bhyt = r[n:]
        item.update(
            visits=int(vis), facilities=int(facs), inpatient=int(inp), emergencies=int(em),
            deaths=int(de), bed_days=int(bd), cost_total=_money(cost), cost_bhyt=_money(bhyt),
        )  # fmt: skip
        out.append(item)
    return disclosure.breakdown(out, small)


def data_range(eng: AnalyticsEngine, scope: Scope) -> tuple[date, date] | None:
    """First and last admission day the caller may see."""
    w, p = where(scope, None, eng=eng)
    lo, hi = eng.query(
        f"SELECT MIN(e.ngay_vao), MAX(e.ngay_vao) FROM {source(AGG, scope, None, eng)} WHERE {w}",
        p,
    )[0]
    return (lo, hi) if isinstance(lo, date) and isinstance(hi, date) else None


def as_of(eng: AnalyticsEngine) -> str | None:
    return schema.get_meta(eng, "as_of")


QUERIES: dict[str, Callable[[AnalyticsEngine, Scope, Filters], Any]] = {
    "summary": q_summary,
    "by_loai_kcb": q_by_loai_kcb,
    "by_sex": q_by_sex,
    "by_age_band": q_by_age_band,
    "top_icd10": q_top_icd10,
    "monthly": q_monthly,
}


def kcb(eng: AnalyticsEngine, scope: Scope, flt: Filters, small: int = 0) -> dict[str, Any]:
    """The JSON twin of the KCB dashboard (shape documented in ``docs/warehouse.md``); counts of
    people below ``small`` are ``null`` (``analytics.disclosure``)."""
    raw = q_summary(eng, scope, flt)
    s = disclosure.summary(raw, small)
    n = raw["total"]
    return {
        "period": {"from": flt.date_from.isoformat(), "to": flt.date_to.isoformat()},
        "filters": flt.as_dict(),
        "facilities_reporting": s["facilities_reporting"],
        "visits": {
            "total": s["total"],
            "by_loai_kcb": disclosure.counts(q_by_loai_kcb(eng, scope, flt), small, n),
            "outpatient": s["outpatient"],
            "inpatient": s["inpatient"],
            "by_sex": disclosure.counts(q_by_sex(eng, scope, flt), small, n),
            "by_age_band": disclosure.counts(q_by_age_band(eng, scope, flt), small, n),
        },
        "emergencies": s["emergencies"],
        "deaths": s["deaths"],
        "bed_days": s["bed_days"],
        "costs": s["costs"],
        "bhyt_records": s["bhyt_records"],
        "top_icd10": disclosure.top(q_top_icd10(eng, scope, flt), small),
        "monthly": disclosure.series(q_monthly(eng, scope, flt), small),
        "suppressed_below": small if small > 1 else 0,
        "as_of": as_of(eng),
    }


def options(eng: AnalyticsEngine, scope: Scope) -> dict[str, list[dict[str, str]]]:
    """Choices of the filter form: the communes and facilities the caller may see."""
    w, p = where(scope, None, fac="f.ma_cskcb")
    facs = eng.query(
        "SELECT f.ma_cskcb, f.ten, f.tuyen, f.ma_xa, f.ten_xa FROM dim_facility f "
        f"WHERE {w} ORDER BY f.ma_cskcb",
        p,
    )
    communes = sorted({(str(r[3]), str(r[4] or r[3])) for r in facs if r[3]}, key=lambda x: x[1])
    return {
        "facilities": [
            {"code": str(c), "name": str(n or c), "tier": str(t or ""), "commune": str(x or "")}
            for c, n, t, x, _ in facs
        ],
        "communes": [{"code": c, "name": n} for c, n in communes],
    }
