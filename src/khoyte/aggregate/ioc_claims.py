"""The claims panels of the IOC dashboards: money of the warehouse's ``agg_month`` by month and
by commune or facility, spending by group of service from the claim lines (XML2 drugs, XML3
services and supplies) — group 4, finance — and papers counted by kind (XML12 medical
assessments, group 7). Money in đồng; scoped by
:func:`khoyte.analytics.filters.where` like every dashboard. A month's or a row's money is
hidden when its visits are a small count (as the KCB dashboard hides a hidden period's cost).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from khoyte.aggregate.form_claims import condition
from khoyte.aggregate.ioc import Selection, _round, achieved, plan
from khoyte.aggregate.metadata import Metadata, Panel
from khoyte.aggregate.residence import UNKNOWN_EN, UNKNOWN_VI, where_resident
from khoyte.analytics.disclosure import small as is_small
from khoyte.analytics.filters import Filters, where
from khoyte.analytics.kcb import AGG_MONTH, MONTH_KEY
from khoyte.warehouse.engine import AnalyticsEngine

SERVICE_GROUPS = {
    "thuoc": ("Thuốc (XML2)", "Drugs (XML2)"),
    "dich_vu": ("Dịch vụ kỹ thuật, xét nghiệm, giường (XML3)", "Services, tests, beds (XML3)"),
    "vat_tu": ("Vật tư y tế (XML3)", "Medical supplies (XML3)"),
}


def _filters(sel: Selection) -> Filters:
    first = date(int(sel.months[0][:4]), int(sel.months[0][4:]), 1)
    y, m = int(sel.months[-1][:4]), int(sel.months[-1][4:])
    last = date(y + m // 12, m % 12 + 1, 1) - timedelta(days=1)
    commune = sel.orgunit if sel.level == "commune" else None
    facility = sel.orgunit if sel.level == "facility" else None
    return Filters(first, last, commune=commune, facility=facility)


def _money(cents: Any) -> float:
    return round(int(cents or 0) / 100, 2)


def claims_panel(
    eng: AnalyticsEngine, md: Metadata, panel: Panel, sel: Selection
) -> dict[str, Any]:
    code = panel.code
    m = md.claims[code]
    flt = _filters(sel)
    w, p = where(sel.scope, flt, eng=eng)
    col = m.column  # one of metadata.CLAIMS_COLUMNS (checked at load)
    # fixed identifiers only: the column is one of metadata.CLAIMS_COLUMNS; values are bound
    sql = f"SELECT {MONTH_KEY} AS k, SUM(e.visits), SUM(e.{col}) FROM {AGG_MONTH} e WHERE {w} GROUP BY k"  # nosec B608
    rows = eng.query(sql, p)
    got = {str(int(float(k))): (int(v), int(c or 0)) for k, v, c in rows}
    unit = sel.plan_unit()
    monthly = []
    total = 0.0
    visits = 0
    for mo in sel.months:
        v, c = got.get(mo, (0, 0))
        visits += v
        total += _money(c)
        val = None if is_small(v, sel.small) else _money(c)
        monthly.append({"month": f"{mo[:4]}-{mo[4:]}", "actual": val,
                        "plan": _round(plan(md, code, unit, [mo], True, sel.targets))})  # fmt: skip
    p_total = plan(md, code, unit, sel.months, True, sel.targets)
    table = _breakdown(eng, md, code, sel, flt) if panel.breakdown else []
    for r in [*monthly, *table]:
        r["achieved_pct"] = achieved(r["actual"], r["plan"])
    shown = None if is_small(visits, sel.small) else round(total, 2)
    return {
        "code": code, "kind": "claims", "chart": panel.chart, "name_vi": m.name_vi,
        "name_en": m.name_en, "unit_vi": m.unit_vi, "unit_en": m.unit_en, "additive": True,
        "level": "facility", "datasets": [], "actual": shown, "plan": _round(p_total),
        "achieved_pct": achieved(shown, p_total), "reports": None, "monthly": monthly,
        "breakdown": table, "by_option": None,
    }  # fmt: skip


def _breakdown(
    eng: AnalyticsEngine, md: Metadata, code: str, sel: Selection, flt: Filters
) -> list[dict[str, Any]]:
    """By commune of the facility (the province or a scope), by facility (a commune)."""
    by_commune = sel.level == "province" or (sel.level == "scope" and len(sel.scope.communes) > 1)
    cols = "f.ma_xa, f.ten_xa" if by_commune else "x.facility, f.ten"
    w, p = where(sel.scope, flt, eng=eng)
    col = md.claims[code].column
    # fixed identifiers only (the column is checked at load); values are bound
    sql = (
        f"SELECT {cols}, SUM(x.n), SUM(x.c) FROM (SELECT e.facility, SUM(e.visits) AS n, "  # nosec B608
        f"SUM(e.{col}) AS c FROM {AGG_MONTH} e WHERE {w} GROUP BY e.facility) x "
        f"LEFT JOIN dim_facility f ON f.ma_cskcb = x.facility GROUP BY {cols} "
        "ORDER BY SUM(x.c) DESC, 1"
    )
    rows = eng.query(sql, p)
    out = []
    for c, name, n, money in rows:
        unit = str(c) if c else None
        out.append({
            "code": unit, "name": str(name or c or "—"),
            "level": "commune" if by_commune else "facility",
            "actual": None if is_small(int(n), sel.small) else _money(money),
            "plan": _round(plan(md, code, unit, sel.months, True, sel.targets)),
        })  # fmt: skip
    return out


def service_groups_panel(eng: AnalyticsEngine, sel: Selection) -> dict[str, Any]:
    """Spending at the facility's price (``THANH_TIEN_BV`` of the lines) by group of service
    and month: drugs (XML2), supplies (XML3 lines with ``MA_VAT_TU``), other services (XML3)."""
    flt = _filters(sel)
    w, p = where(sel.scope, flt, eng=eng)
    # fixed identifiers only; values are bound
    sql = (
        f"SELECT {MONTH_KEY} AS k, 'thuoc' AS g, SUM(d.thanh_tien_bv), COUNT(DISTINCT e.ma_lk) "  # nosec B608
        "FROM fact_drug d JOIN fact_episode e ON e.facility = d.facility AND e.ma_lk = d.ma_lk "
        f"WHERE {w} GROUP BY k "
        f"UNION ALL SELECT {MONTH_KEY} AS k, CASE WHEN COALESCE(s.ma_vat_tu, '') <> '' "
        "THEN 'vat_tu' ELSE 'dich_vu' END AS g, SUM(s.thanh_tien_bv), COUNT(DISTINCT e.ma_lk) "
        "FROM fact_service s JOIN fact_episode e ON e.facility = s.facility AND e.ma_lk = s.ma_lk "
        f"WHERE {w} GROUP BY k, g"
    )
    got: dict[tuple[str, str], tuple[float, int]] = {}
    for k, g, money, n in eng.query(sql, p + p):
        got[(str(int(float(k))), str(g))] = (_money(money), int(n))
    monthly = []
    totals = dict.fromkeys(SERVICE_GROUPS, 0.0)
    for mo in sel.months:
        point: dict[str, Any] = {"month": f"{mo[:4]}-{mo[4:]}"}
        for g in SERVICE_GROUPS:
            money, n = got.get((mo, g), (0.0, 0))
            totals[g] += money
            point[g] = None if is_small(n, sel.small) else money
        monthly.append(point)
    options = [
        {"code": g, "name_vi": vi, "name_en": en, "value": round(totals[g], 2)}
        for g, (vi, en) in SERVICE_GROUPS.items()
    ]
    return {
        "code": "service_groups", "kind": "service_groups", "chart": "bar",
        "name_vi": "Chi phí theo nhóm dịch vụ (giá của cơ sở, THANH_TIEN_BV)",
        "name_en": "Spending by group of service (facility price, THANH_TIEN_BV)",
        "unit_vi": "đồng", "unit_en": "VND", "additive": True, "level": "facility",
        "datasets": [], "actual": round(sum(totals.values()), 2), "plan": None,
        "achieved_pct": None, "reports": None, "monthly": monthly, "breakdown": [],
        "by_option": options,
    }  # fmt: skip


def papers_panel(
    eng: AnalyticsEngine, md: Metadata, panel: Panel, sel: Selection
) -> dict[str, Any]:
    """Papers of the warehouse (``ioc.toml`` ``[papers]``, e.g. XML12 medical assessments) by
    month of their own date and by option, with the plan of an indicator, placed by the person's
    commune of residence (``aggregate.residence``): the drill-down is by that commune, a commune
    (chosen or of the caller's scope) counts its residents, papers of no commune of the province
    count in the province only (their own row). Small counts are hidden: a month, a row or an
    option of 1 … threshold − 1 papers."""
    pm = md.papers[panel.code]
    date_col = f"p.{pm.date}"  # columns of the table, checked at load
    w, p = where_resident(sel.scope, _filters(sel), sel.residence, date_col=date_col,
                          place_col=f"p.{pm.commune}", eng=eng)  # fmt: skip
    cases, cp = [], []
    for code, conds in pm.options[:-1]:
        parts = [condition("p", c, op, v, None) for c, op, v in conds]
        cases.append(f"WHEN {' AND '.join(s for s, _ in parts)} THEN ?")
        cp += [x for _, ps in parts for x in ps] + [code]
    option = f"CASE {' '.join(cases)} ELSE ? END"
    cp.append(pm.options[-1][0])
    month = f"EXTRACT(YEAR FROM {date_col}) * 100 + EXTRACT(MONTH FROM {date_col})"
    # tables and columns are checked at load (metadata); values are bound
    sql = (
        f"SELECT {month} AS k, {option} AS o, p.{pm.commune} AS u, COUNT(*) "  # nosec B608
        f"FROM {pm.table} p WHERE {w} GROUP BY 1, 2, 3"
    )
    rows = eng.query(sql, cp + p)
    months: dict[str, int] = {}
    options: dict[str, int] = {}
    units: dict[str | None, int] = {}
    for k, o, u, n in rows:
        mo = str(int(float(k)))
        months[mo] = months.get(mo, 0) + int(n)
        options[str(o)] = options.get(str(o), 0) + int(n)
        key = sel.residence.commune(u, sel.province or None)  # no registry: any province
        units[key] = units.get(key, 0) + int(n)

    def shown(n: int) -> int | None:
        return None if is_small(n, sel.small) else n

    unit = sel.plan_unit()
    monthly: list[dict[str, Any]] = [{"month": f"{mo[:4]}-{mo[4:]}", "actual": shown(months.get(mo, 0)),
                "plan": _round(plan(md, pm.plan, unit, [mo], True, sel.targets))} for mo in sel.months]  # fmt: skip
    total = sum(months.get(mo, 0) for mo in sel.months)
    table: list[dict[str, Any]] = [
        {"code": u, "name": sel.names.get(u, u) if u else f"{UNKNOWN_VI} / {UNKNOWN_EN}",
         "level": "commune" if u else "province", "actual": shown(n),
         "plan": _round(plan(md, pm.plan, u, sel.months, True, sel.targets))}
        for u, n in sorted(units.items(), key=lambda kv: (kv[0] is None, -kv[1], kv[0] or ""))
    ] if panel.breakdown else []  # fmt: skip
    for r in [*monthly, *table]:
        r["achieved_pct"] = achieved(r["actual"], r["plan"])
    combo = md.combos[pm.category]
    by_option = [{"code": o, "name_vi": combo.labels_vi[o], "name_en": combo.labels_en[o],
                  "value": shown(options.get(o, 0))} for o, _ in pm.options]  # fmt: skip
    p_total = plan(md, pm.plan, unit, sel.months, True, sel.targets)
    actual = shown(total)
    return {
        "code": pm.code, "kind": "papers", "chart": panel.chart, "name_vi": pm.name_vi,
        "name_en": pm.name_en, "unit_vi": pm.unit_vi, "unit_en": pm.unit_en, "additive": True,
        "level": "facility", "datasets": [], "actual": actual, "plan": _round(p_total),
        "achieved_pct": achieved(actual, p_total), "reports": None, "monthly": monthly,
        "breakdown": table, "by_option": by_option if panel.by_option else None,
    }  # fmt: skip
