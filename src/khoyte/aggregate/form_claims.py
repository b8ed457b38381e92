"""The claims rows of the forms b4–b8, b10–b13, and their collected rows (issue 13, item 2).

A row of such a form is one of three kinds (``forms.toml``):

- ``measure``: filled from the warehouse — a count of the rows of ``fact_episode`` (XML1) or of a
  paper table (XML6, XML7, XML9, XML12, XML13, XML15), or a sum of one of its columns, under
  conditions; always of current episodes admitted (``NGAY_VAO``) in the period — XML12, sent as
  its own document, by its meeting day (``NGAY_HOP``, ``OWN_DATE``) and the assessed person's
  commune of residence (``MAXA_CU_TRU``, ``OWN_PLACE``: a commune's form counts its residents,
  ``aggregate.residence``) — in the caller's scope (``analytics.filters.where`` on the episode, as
  every dashboard); a column's ``where``
  adds its conditions to the row's measure (b11: deaths);
- ``element``: collected — the stored aggregate values of a data element (web entry, uploads,
  DHIS2), summed over the period's months and the org units of the target in the caller's scope,
  a column keeping the option combinations that hold its options (``match``, b13: age and sex);
  ``None`` when nothing was reported;
  the rows the province writes on the form itself are the elements of the data set
  ``bieu_tinh`` (web entry, DHIS2, or the form's own workbook uploaded back:
  ``aggregate/form_import.py``).

The measures are data: table, count and conditions are checked against the warehouse's columns
when the metadata loads (:func:`measure_problems`), and every value is a bound parameter.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy.orm import Session

from khoyte.access import Scope
from khoyte.aggregate.metadata import Form, FormMeasure, Metadata, cell_measure
from khoyte.aggregate.periods import Period
from khoyte.aggregate.residence import Residence, where_resident
from khoyte.analytics.filters import Filters, source, where
from khoyte.surveillance.signals import Signal, load_signals
from khoyte.warehouse import papers

# the episode's columns a condition may read (``e.NAME``)
EPISODE_COLUMNS = frozenset({"gioi_tinh", "age", "age_band", "inpatient", "death", "emergency",
                             "ma_loai_kcb", "ma_benh_chinh", "icd10_chapter", "ma_loai_rv"})  # fmt: skip
# papers sent as documents of their own, not inside an episode (XML12: the assessment council's
# records, docs/gateway.md): counted by their own date column, without an episode, and placed by
# the person's commune of residence (OWN_PLACE, read as aggregate/residence.py says) — a commune's
# form counts its residents' papers, a facility's the papers it sent
OWN_DATE = {"fact_assessment": "ngay_hop"}
OWN_PLACE = {"fact_assessment": "maxa_cu_tru"}
COMPARE = ("=", "!=", "<", "<=", ">", ">=")
OPS = (*COMPARE, "in", "icd", "period", "has", "signal")
COLLECTED_SOURCE = "báo cáo tổng hợp / aggregate report: {ref} (nhập liệu, tệp, DHIS2)"
WRITTEN_SOURCE = "đơn vị báo cáo ghi trên biểu / written on the form by the reporting unit: {ref}"


def _columns(table: str) -> frozenset[str]:
    if table == "fact_episode":
        return EPISODE_COLUMNS
    return frozenset(papers.column_names(table)) - set(papers.KEY_COLUMNS)


def _ranges(text: str) -> list[tuple[str, str]]:
    """``"I10-I15,E10-E14"`` → [("I10", "I15"), ("E10", "E14")] (3-character codes)."""
    out = []
    for part in str(text).split(","):
        lo, _, hi = part.strip().partition("-")
        out.append((lo.strip(), (hi or lo).strip()))
    return out


def measure_problems(m: FormMeasure) -> list[str]:
    where_ = f"measure {m.code}"
    if m.table != "fact_episode" and m.table not in papers.PAPER_TABLES:
        return [f"{where_}: unknown table {m.table!r}"]
    own = _columns(m.table)
    problems = []
    kind, _, col = m.count.partition(":")
    if not (m.count == "rows" or (kind == "sum" and col in own)):
        problems.append(f"{where_}: count {m.count!r}")
    for column, op, value in m.where:
        table_cols = EPISODE_COLUMNS if column.startswith("e.") else own
        if column.startswith("e.") and m.table in OWN_DATE:  # no episode to read
            problems.append(f"{where_}: {m.table} has no episode ({column!r})")
        elif column.removeprefix("e.") not in table_cols or op not in OPS:
            problems.append(f"{where_}: condition {column!r} {op!r}")
        elif op == "icd" and not all(len(a) == 3 and len(b) == 3 for a, b in _ranges(value)):
            problems.append(f"{where_}: ICD-10 ranges {value!r}")
        elif op == "in" and not isinstance(value, list):
            problems.append(f"{where_}: 'in' needs a list")
        elif op == "signal" and value not in _signals():
            problems.append(f"{where_}: unknown signal {value!r}")
    return problems


def _signals() -> dict[str, Signal]:
    return {s.code: s for s in load_signals()}


def condition(
    alias: str, column: str, op: str, value: Any, period: Period | None
) -> tuple[str, list[Any]]:
    """SQL of one condition (``alias``: the table's alias) and its parameters."""
    # the column was checked against the warehouse's names when the metadata loaded
    ref = column if column.startswith("e.") else f"{alias}.{column}"
    if op == "in":
        return f"{ref} IN ({', '.join('?' * len(value))})", list(value)
    if op == "icd":
        spans = _ranges(value)
        text = " OR ".join(f"SUBSTR({ref}, 1, 3) BETWEEN ? AND ?" for _ in spans)
        return f"({text})", [v for span in spans for v in span]
    if op == "period":
        if period is None:
            raise ValueError("a 'period' condition needs a period")
        return f"{ref} BETWEEN ? AND ?", [period.start, period.end]
    if op == "has":  # one code of a ';'-separated list (XML12 MA_DOI_TUONG)
        return f"(';' || {ref} || ';') LIKE ?", [f"%;{value};%"]
    if op == "signal":  # a notifiable disease of the surveillance module: its ICD-10 mapping
        sql, params = _signals()[value].sql(ref)
        return sql, list(params)
    return f"{ref} {op} ?", [value]


def _aggregate(m: FormMeasure, period: Period) -> tuple[str, list[Any]]:
    alias = "e" if m.table == "fact_episode" else "p"
    parts, params = [], []
    for column, op, value in m.where:
        sql, p = condition(alias, column, op, value, period)
        parts.append(sql)
        params += p
    kind, _, col = m.count.partition(":")
    expr = f"SUM({alias}.{col})" if kind == "sum" else "COUNT(*)"
    if parts:
        expr += f" FILTER (WHERE {' AND '.join(parts)})"
    return expr, params


def claims_values(
    eng: Any,
    scope: Scope,
    measures: list[FormMeasure],
    flt: Filters,
    period: Period,
    residence: Residence | None = None,
) -> dict[str, int]:
    """Measure code → value, one query per table read; ``residence`` reads the residence codes
    of the papers placed by it (None: 2025 codes only)."""
    by_table: dict[str, list[FormMeasure]] = defaultdict(list)
    for m in measures:
        by_table[m.table].append(m)
    out: dict[str, int] = {}
    for table, mine in by_table.items():
        exprs, params = [], []
        for m in mine:
            e, p = _aggregate(m, period)
            exprs.append(e)
            params += p
        own = OWN_DATE.get(table)
        if own is not None:  # a paper of its own (XML12): its date, the person's commune
            w, wp = where_resident(scope, flt, residence or Residence(), date_col=f"p.{own}",
                                   place_col=f"p.{OWN_PLACE[table]}", eng=eng)  # fmt: skip
            frm = f"{table} p"
        else:
            w, wp = where(scope, flt, eng=eng)
            frm = source("fact_episode", scope, flt, eng)
        if own is None and table != "fact_episode":  # a paper: of its current episode
            frm = (f"{table} p JOIN {frm} ON e.facility = p.facility "
                   "AND e.ma_lk = p.ma_lk AND e.version_id = p.version_id")  # fmt: skip
        # tables and columns are the warehouse's names checked at load; values are parameters
        sql = f"SELECT {', '.join(exprs)} FROM {frm} WHERE {w}"  # noqa: S608  # nosec B608
        row = eng.query(sql, params + wp)[0]
        for m, v in zip(mine, row, strict=True):
            out[m.code] = int(v or 0)
    return out


def collected_values(
    session: Session, scope: Scope, form: Form, period: Period, unit: str | None
) -> dict[tuple[str, str], float | None]:
    """(row, column) → the stored values of the row's element (and option) whose option
    combination holds the column's options (``match``; none: all), summed over the period's
    months and the org units of the target (``unit``: a commune or a facility; ``None``: the
    scope)."""
    from khoyte.aggregate import store

    rows = [r for r in form.rows if "element" in r]
    if not rows:
        return {}
    known = store.known_orgunits(session)
    values = store.read(session, elements={r["element"] for r in rows},
                        period_list=[m.iso for m in period.months()] + [period.iso],
                        orgunits={unit} if unit else None)  # fmt: skip
    acc: dict[tuple[str, str], float] = defaultdict(float)
    for v in values:
        if v.orgunit in known and store.allowed(scope, v.orgunit, known[v.orgunit]):
            try:
                acc[(v.data_element, v.coc)] += float(v.value)
            except ValueError:
                continue
    out: dict[tuple[str, str], float | None] = {}
    for r in rows:
        for c in form.columns:
            want = set(c.get("match", ()))
            got = [n for (e, coc), n in acc.items()
                   if e == r["element"] and ("option" not in r or coc == r["option"])
                   and want <= set(coc.split("|"))]  # fmt: skip
            total = float(sum(got))
            out[(r["code"], c["code"])] = (
                (int(total) if total.is_integer() else total) if got else None
            )
    return out


def source_of(md: Metadata, row: dict[str, Any], column: dict[str, Any] | None = None) -> str:
    if "measure" in row:
        return "claims " + cell_measure(md, row, column or {}).source
    ref = row["element"] + (f".{row['option']}" if "option" in row else "")
    if md.elements[row["element"]].dataset == "bieu_tinh":  # the form's own rows
        return WRITTEN_SOURCE.format(ref=ref)
    return COLLECTED_SOURCE.format(ref=ref)


def fill(
    eng: Any,
    scope: Scope,
    md: Metadata,
    form: Form,
    period: Period,
    flt: Filters,
    collected: dict[tuple[str, str], float | None],
    residence: Residence | None = None,
) -> list[dict[str, Any]]:
    cell = {(r["code"], c["code"]): cell_measure(md, r, c)
            for r in form.rows if "measure" in r for c in form.columns}  # fmt: skip
    wanted = list({m.code: m for m in cell.values()}.values())
    claims = claims_values(eng, scope, wanted, flt, period, residence) if wanted else {}
    out = []
    for r in form.rows:
        for c in form.columns:
            key = (r["code"], c["code"])
            value: float | int | None = (
                claims[cell[key].code] if key in cell else collected.get(key)
            )
            out.append({"row": r["code"], "column": c["code"], "value": value,
                        "source": source_of(md, r, c)})  # fmt: skip
    return out
