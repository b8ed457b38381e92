"""The statutory forms b9 and b14 filled from the warehouse (issue 13, item 2).

Every cell carries where its number came from (``source``). Counting rules are the KCB
dashboard's (``docs/warehouse.md``): a visit is a current accepted episode whose ``NGAY_VAO``
falls in the period; inpatient = ``MA_LOAI_KCB`` ∈ {03, 04, 06, 09}; death = ``KET_QUA_DTRI``
∈ {5, 8}; bed-days = the days of treatment khoyte computes. The caller's scope applies exactly as
on the dashboards (``analytics.filters``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from khoyte.access import Scope
from khoyte.aggregate import form_claims
from khoyte.aggregate.metadata import Form, load
from khoyte.aggregate.periods import Period
from khoyte.aggregate.residence import Residence
from khoyte.analytics.filters import Filters, scope_sql, source, where
from khoyte.validate.codelists import INPATIENT_TYPES
from khoyte.warehouse.engine import AnalyticsEngine

# where each measure comes from (the provenance sheet and the API's ``source``)
SOURCES = {
    "facilities": "registry: rg_facility (dim_facility), active, by tuyen",
    "beds": "registry: rg_facility.beds (dim_facility.giuong)",
    "visits": "claims XML1: episodes with NGAY_VAO in the period (agg_month.visits)",
    "outpatient": "claims XML1: MA_LOAI_KCB ∉ {03,04,06,09} (agg_month.visits − inpatient)",
    "inpatient": "claims XML1: MA_LOAI_KCB ∈ {03,04,06,09} (agg_month.inpatient)",
    "inpatient_days": "claims XML1: days of treatment of inpatient episodes (agg_month.bed_days)",
    "emergencies": "claims XML1: MA_DOITUONG_KCB = 2 (agg_month.emergencies)",
    "deaths": "claims XML1: KET_QUA_DTRI ∈ {5,8} (agg_month.deaths)",
}
SUBSETS = {
    "all": "",
    "female": "GIOI_TINH = 2",
    "under15": "age at NGAY_VAO < 15",
    "under5": "age at NGAY_VAO < 5",
}
B14_MEASURE = {
    "outpatient": "claims XML1: MA_LOAI_KCB ∉ {03,04,06,09}, chapter of MA_BENH_CHINH",
    "inpatient": "claims XML1: MA_LOAI_KCB ∈ {03,04,06,09}, chapter of MA_BENH_CHINH",
    "deaths": "claims XML1: KET_QUA_DTRI ∈ {5,8}, chapter of MA_BENH_CHINH",
}


@dataclass(frozen=True)
class Target:
    """Which org unit a form is for: the caller's whole scope, a commune or a facility."""

    commune: str | None = None
    facility: str | None = None


def _filters(period: Period, target: Target) -> Filters:
    return Filters(period.start, period.end, commune=target.commune, facility=target.facility)


def b9(
    eng: AnalyticsEngine, scope: Scope, period: Period, target: Target
) -> dict[tuple[str, str], int]:
    """(row, column) → value; rows are tiers and ``tong``."""
    flt = _filters(period, target)
    tiers: dict[str, str] = {}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    w, p = scope_sql(scope, fac="f.ma_cskcb")
    for column, value in (("ma_xa", target.commune), ("ma_cskcb", target.facility)):
        if value:
            w += f" AND f.{column} = ?"
            p.append(value)
    # only fixed column names and the scope's placeholders are spliced in; values are parameters
    sql = f"SELECT f.ma_cskcb, f.tuyen, f.giuong, f.active FROM dim_facility f WHERE {w}"  # nosec B608
    for code, tier, beds, active in eng.query(sql, p):
        tiers[str(code)] = str(tier or "")
        if active is not False:
            counts[str(tier or "")][0] += 1
            counts[str(tier or "")][1] += int(beds or 0)
    inpatient = ", ".join(f"'{t}'" for t in sorted(INPATIENT_TYPES))
    w, p = where(scope, flt, eng=eng)
    rows = eng.query(
        "SELECT e.facility, SUM(e.visits), SUM(e.inpatient), "  # nosec B608
        f"SUM(CASE WHEN e.ma_loai_kcb IN ({inpatient}) THEN e.bed_days ELSE 0 END), "
        f"SUM(e.emergencies), SUM(e.deaths) FROM {source('agg_month', scope, flt, eng)} "
        f"WHERE {w} GROUP BY e.facility",
        p,
    )
    acts: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
    for fac, *vals in rows:
        acc = acts[tiers.get(str(fac), "")]
        for i, v in enumerate(vals):
            acc[i] += int(v or 0)
    form = load().forms["b9"]
    out: dict[tuple[str, str], int] = {}
    for row in form.rows:
        keys = list(counts.keys() | acts.keys()) if row.get("total") else [row["tier"]]
        fac_beds = [sum(counts[k][i] for k in keys if k in counts) for i in (0, 1)]
        act = [sum(acts[k][i] for k in keys if k in acts) for i in range(5)]
        visits, inp, inp_days, em, de = act
        measures: dict[str, int] = {
            "facilities": fac_beds[0], "beds": fac_beds[1], "visits": visits,
            "outpatient": visits - inp, "inpatient": inp, "inpatient_days": inp_days,
            "emergencies": em, "deaths": de,
        }  # fmt: skip
        for col in form.columns:
            out[(row["code"], col["code"])] = measures[col["measure"]]
    return out


def b14(
    eng: AnalyticsEngine, scope: Scope, period: Period, target: Target
) -> dict[tuple[str, str], int]:
    """(row, column) → value; rows are ICD-10 chapters, ``khac`` and ``tong``."""
    flt = _filters(period, target)
    w, p = where(scope, flt, eng=eng)
    rows = eng.query(
        "SELECT e.icd10_chapter, e.inpatient, e.gioi_tinh, e.age_band, COUNT(*), "  # nosec B608
        f"COUNT(*) FILTER (WHERE e.death) FROM {source('fact_episode', scope, flt, eng)} "
        f"WHERE {w} GROUP BY 1, 2, 3, 4",
        p,
    )
    form = load().forms["b14"]
    chapters = {r["code"] for r in form.rows if not (r.get("total") or r.get("other"))}
    out: dict[tuple[str, str], int] = {
        (r["code"], c["code"]): 0 for r in form.rows for c in form.columns
    }
    for chapter, inpatient, sex, band, n, deaths in rows:
        row = str(chapter) if chapter in chapters else "khac"
        for col in form.columns:
            if not _in_subset(col["subset"], sex, band):
                continue
            m = col["measure"]
            v = (
                int(deaths)
                if m == "deaths"
                else int(n)
                if bool(inpatient) == (m == "inpatient")
                else 0
            )
            out[(row, col["code"])] += v
            out[("tong", col["code"])] += v
    return out


def _in_subset(subset: str, sex: object, band: object) -> bool:
    if subset == "female":
        return str(sex) == "2"
    if subset == "under15":
        return str(band) in ("0-4", "5-14")
    if subset == "under5":
        return str(band) == "0-4"
    return True


FILLERS = {"b9": b9, "b14": b14}


def source_of(form: Form, column: dict[str, Any]) -> str:
    if form.code == "b9":
        return SOURCES[column["measure"]]
    subset = SUBSETS[column["subset"]]
    return B14_MEASURE[column["measure"]] + (f"; {subset}" if subset else "")


def cells(
    eng: AnalyticsEngine,
    scope: Scope,
    form_code: str,
    period: Period,
    target: Target,
    collected: dict[tuple[str, str], float | None] | None = None,
    residence: Residence | None = None,
) -> list[dict[str, Any]]:
    """The API's cells: every cell of the form, each with its value and source. The forms with
    claims rows and collected rows (b4–b8, b10, b12) take the collected rows' stored values
    (``form_claims.collected_values``); ``residence`` places the papers counted by the person's
    commune (XML12, ``form_claims.OWN_PLACE``)."""
    md = load()
    form = md.forms[form_code]
    filler = FILLERS.get(form_code)
    if filler is None:
        if not form.rows:
            return []
        flt = _filters(period, target)
        return form_claims.fill(eng, scope, md, form, period, flt, collected or {}, residence)
    values = filler(eng, scope, period, target)
    return [
        {"row": r["code"], "column": c["code"], "value": values[(r["code"], c["code"])],
         "source": source_of(form, c)}
        for r in form.rows
        for c in form.columns
    ]  # fmt: skip
