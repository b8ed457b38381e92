"""Every dashboard table as XLSX (formatted, Vietnamese headers, the filters written on the
sheet) or CSV (UTF-8 with BOM, so spreadsheet programs read the diacritics)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response

from khoyte import i18n
from khoyte.access import Scope
from khoyte.analytics import disclosure, kcb, people
from khoyte.analytics.filters import Filters
from khoyte.errors import ApiError
from khoyte.warehouse.engine import AnalyticsEngine


@dataclass
class Table:
    name: str
    title: str
    columns: list[tuple[str, str]]  # (key, header)
    rows: list[dict[str, Any]]
    small: int = 0  # counts below it were suppressed: an empty count cell is written "< small"


KCB_TABLES = (
    "summary", "by_loai_kcb", "by_sex", "by_age_band", "top_icd10", "monthly", "daily",
    "commune", "facility", "referrals",
)  # fmt: skip
# summary rows that are not counts: "—" when hidden with the people they describe
NOT_COUNTS = ("cost", "visits_per_person", "readmission_rate")


def kcb_table(
    eng: AnalyticsEngine, scope: Scope, flt: Filters, name: str, lang: str, small: int = 0
) -> Table:
    """One table of the KCB dashboard; counts of people below ``small`` are suppressed
    (``analytics.disclosure``) and written ``< small`` in the file."""
    table = _kcb_table(eng, scope, flt, name, lang, small)
    table.small = small if small > 1 else 0
    return table


def _kcb_table(
    eng: AnalyticsEngine, scope: Scope, flt: Filters, name: str, lang: str, small: int
) -> Table:
    t = i18n.texts(lang)
    if name not in KCB_TABLES:
        raise ApiError(422, details={"parameter": "table", "allowed": list(KCB_TABLES)})
    if name == "summary":
        s = disclosure.summary(kcb.q_summary(eng, scope, flt), small)
        items = [
            ("facilities_reporting", s["facilities_reporting"]),
            ("visits", s["total"]),
            ("outpatient", s["outpatient"]),
            ("inpatient", s["inpatient"]),
            ("emergencies", s["emergencies"]),
            ("deaths", s["deaths"]),
            ("bed_days", s["bed_days"]),
            ("cost_total", s["costs"]["total"]),
            ("cost_bhyt", s["costs"]["bhyt"]),
            ("cost_patient", s["costs"]["patient"]),
            ("bhyt_records", s["bhyt_records"]),
        ]
        p = disclosure.persons({**people.q_persons(eng, scope, flt),
                                "readmissions": people.q_readmissions(eng, scope, flt)}, small)  # fmt: skip
        r = p["readmissions"]
        rate = None if r["rate"] is None else round(r["rate"] * 100, 2)
        items += [
            ("persons_served", p["served"]),
            ("visits_per_person", p["visits_per_person"]),
            ("discharges", r["discharges"]),
            ("readmitted", r["readmitted"]),
            ("readmission_rate", rate),
        ]
        # money hidden with the people it describes is not a count: "—", not "< 5"
        rows = [{"name": t[k], "value": "—" if v is None and k.startswith(NOT_COUNTS) else v}
                for k, v in items]  # fmt: skip
        return Table(name, t["title"], [("name", t["name"]), ("value", t["value"])], rows)
    if name in ("by_loai_kcb", "by_sex", "by_age_band"):
        raw = {"by_loai_kcb": kcb.q_by_loai_kcb, "by_sex": kcb.q_by_sex,
               "by_age_band": kcb.q_by_age_band}[name](eng, scope, flt)  # fmt: skip
        total = kcb.q_summary(eng, scope, flt)["total"] if small > 1 else None
        got = disclosure.counts(raw, small, total)
        labels = {
            "by_loai_kcb": i18n.visit_types(lang),
            "by_sex": i18n.SEXES[lang],
            "by_age_band": {},
        }[name]
        rows = [{"code": k, "name": labels.get(k, k), "count": v} for k, v in got.items()]
        cols = [("code", t["code"]), ("name", t["group"]), ("count", t["count"])]
        return Table(name, t[name], cols, rows)
    if name == "top_icd10":
        key = "name_en" if lang == "en" else "name_vi"
        rows = [
            {"code": r["code"], "name": r[key], "count": r["count"]}
            for r in disclosure.top(kcb.q_top_icd10(eng, scope, flt), small)
        ]
        cols = [("code", t["code"]), ("name", t["name"]), ("count", t["count"])]
        return Table(name, t[name], cols, rows)
    if name in ("monthly", "daily"):
        if name == "monthly":
            rows = disclosure.series(kcb.q_monthly(eng, scope, flt), small)
        else:
            rows = kcb.q_daily(eng, scope, flt, small)
        first = "month" if name == "monthly" else "date"
        cols = [
            (first, t[first]),
            ("visits", t["visits"]),
            ("visits_last_year", f"{t['visits']} — {t['last_year']}"),
            ("inpatient", t["inpatient"]),
            ("emergencies", t["emergencies"]),
            ("deaths", t["deaths"]),
            ("cost_total", t["cost_total"]),
            ("cost_total_last_year", f"{t['cost_total']} — {t['last_year']}"),
        ]
        return Table(name, t[name], cols, rows)
    if name == "referrals":
        ref = disclosure.referrals(people.q_referrals(eng, scope, flt), small)
        within = t["within_days"].format(n=ref["followup_days"])
        cols = [("from", t["code"]), ("from_name", t["ref_from"]), ("to", t["code"]),
                ("to_name", t["ref_to"]), ("count", t["count"]),
                ("followed_up", f"{t['followed_up']} {within}")]  # fmt: skip
        return Table(name, t[name], cols, ref["flows"])
    rows = kcb.q_breakdown(eng, scope, flt, name, small)
    cols = [("code", t["code"]), ("name", t["name"])]
    if name == "facility":
        cols.append(("tier", t["tier"]))
        for r in rows:
            r["tier"] = i18n.TIERS[lang].get(str(r.get("tier")), r.get("tier"))
    cols += [
        ("visits", t["visits"]),
        ("inpatient", t["inpatient"]),
        ("emergencies", t["emergencies"]),
        ("deaths", t["deaths"]),
        ("bed_days", t["bed_days"]),
        ("cost_total", t["cost_total"]),
        ("cost_bhyt", t["cost_bhyt"]),
    ]
    return Table(name, t[f"breakdown_{name}"], cols, rows)


def completeness_table(data: dict[str, Any], lang: str, small: int = 0) -> Table:
    """The completeness table; ``small``: as ``disclosure.completeness`` (0: as computed)."""
    t = i18n.texts(lang)
    cols = [
        ("facility", t["code"]),
        ("name", t["facility"]),
        ("commune_name", t["commune"]),
        ("days_with_data", t["days_with_data"]),
        ("days", t["days"]),
        ("records", t["records"]),
        ("rejected", t["rejected"]),
        ("first_received", t["first_received"]),
        ("last_received", t["last_received"]),
        ("last_day_with_data", t["last_day_with_data"]),
        ("silent_days", t["silent_days"]),
    ]
    shown = disclosure.completeness(data, small)["facilities"]
    return Table("completeness", t["completeness_title"], cols, shown, small if small > 1 else 0)


def _filter_lines(flt: Filters, lang: str) -> list[tuple[str, str]]:
    t = i18n.texts(lang)
    lines = [(t["from"], flt.date_from.isoformat()), (t["to"], flt.date_to.isoformat())]
    names = {"tier": i18n.TIERS[lang], "loai_kcb": i18n.visit_types(lang)}
    for key, value in flt.as_dict().items():
        label = names.get(key, {}).get(value or "")
        lines.append((t[key], f"{value} ({label})" if label else value or t["all"]))
    return lines


COUNT_KEYS = frozenset(
    {"value", "count", "visits", "visits_last_year", "inpatient", "emergencies", "deaths",
     "bed_days", "records", "rejected", "followed_up"}
)  # fmt: skip


def _cell(table: Table, key: str, v: Any) -> Any:
    """A cell as written: a suppressed count says so (``< 5``), formulas are neutralised."""
    if v is None and table.small and key in COUNT_KEYS:
        return f"< {table.small}"
    return _safe_cell(v)


def _safe_cell(v: Any) -> Any:
    # A text cell starting with = + - @ would be run as a formula by spreadsheet programs.
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
        return "'" + v
    return v


def to_csv(table: Table) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([h for _, h in table.columns])
    for r in table.rows:
        w.writerow([_cell(table, k, r.get(k)) for k, _ in table.columns])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(table: Table, flt: Filters, lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = table.name[:31]
    ws.append([table.title])
    ws["A1"].font = Font(bold=True, size=14)
    for label, value in _filter_lines(flt, lang):
        ws.append([label, value])
    ws.append([])
    head_row = ws.max_row + 1
    ws.append([h for _, h in table.columns])
    fill = PatternFill("solid", fgColor="DDEBF7")
    for cell in ws[head_row]:
        cell.font = Font(bold=True)
        cell.fill = fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r in table.rows:
        ws.append([_cell(table, k, r.get(k)) for k, _ in table.columns])
    for i, (key, header) in enumerate(table.columns, start=1):
        letter = get_column_letter(i)
        values = [r.get(key) for r in table.rows]
        width = max([len(str(header))] + [len(str(v)) for v in values if v is not None])
        ws.column_dimensions[letter].width = min(max(width + 2, 10), 60)
        fmt = "#,##0.00" if any(isinstance(v, float) for v in values) else "#,##0"
        for row in ws.iter_rows(min_row=head_row + 1, min_col=i, max_col=i):
            for cell in row:
                if isinstance(cell.value, int | float):
                    cell.number_format = fmt
    ws.freeze_panes = ws.cell(row=head_row + 1, column=1)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def respond(table: Table, flt: Filters, fmt: str, lang: str) -> Response:
    stem = f"khoyte-{table.name}-{flt.date_from.isoformat()}-{flt.date_to.isoformat()}"
    if fmt == "csv":
        return Response(
            to_csv(table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'},
        )
    if fmt == "xlsx":
        return Response(
            to_xlsx(table, flt, lang),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'},
        )
    raise ApiError(404, details={"formats": ["xlsx", "csv"]})
