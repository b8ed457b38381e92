"""The aggregate metadata, read from the data files in ``aggregate/data`` (issue 13, item 1).

``metadata.toml``: categories, category combinations, data sets, indicators; ``elements.csv``:
data elements (each in one data set, with its combination); ``targets.csv``: plan targets per
indicator × org unit × year; ``forms.toml``: the statutory forms; ``dhis2_map.csv``: our codes
and a DHIS2 instance's UIDs; ``ioc.toml``: the IOC dashboards of groups 4–8 (panels over
indicators and claims measures). :func:`load` reads them once; :attr:`Metadata.version` names the
files' content (their version key and a hash), so a change is never silent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

FILES = (
    "metadata.toml", "elements.csv", "targets.csv", "forms.toml", "dhis2_map.csv", "rules.toml",
    "ioc.toml",
)  # fmt: skip


@dataclass(frozen=True)
class Option:
    code: str
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class Combo:
    """A category combination: its option combinations are the disaggregations of a value.
    The combination code joins option codes with ``|`` (``0-4|1``); the default combo has one
    combination, ``""``."""

    code: str
    categories: tuple[str, ...]
    combinations: tuple[str, ...]
    labels_vi: dict[str, str]
    labels_en: dict[str, str]


@dataclass(frozen=True)
class DataElement:
    code: str
    dataset: str
    name_vi: str
    name_en: str
    value_type: str  # integer | number
    combo: str
    aggregation: str  # sum | average | last (over time)
    unit_vi: str
    unit_en: str


@dataclass(frozen=True)
class DataSet:
    code: str
    name_vi: str
    name_en: str
    period_type: str
    orgunit_level: str  # commune | province | facility
    due_days: int
    elements: tuple[str, ...]


@dataclass(frozen=True)
class Indicator:
    code: str
    name_vi: str
    name_en: str
    numerator: str
    denominator: str
    factor: float


@dataclass(frozen=True)
class Rule:
    """A validation rule: ``left operator right`` per org unit × period (``rules.toml``)."""

    code: str
    name_vi: str
    name_en: str
    left: str
    operator: str
    right: str
    missing: str  # skip_if_any | zero


OPERATORS = ("<=", "<", "==", "!=", ">=", ">")


@dataclass(frozen=True)
class Form:
    """A statutory form (biểu): rows and columns when khoyte fills it, empty otherwise."""

    code: str
    name_vi: str
    name_en: str
    period_type: str
    claims: bool
    row_header_vi: str
    row_header_en: str
    rows: tuple[dict[str, Any], ...]
    columns: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class FormMeasure:
    """A claims measure of a statutory form (``forms.toml`` ``[measures]``): a count of the rows
    of a fact table (or a sum of one column) under conditions, for ``aggregate/form_claims.py``."""

    code: str
    table: str
    count: str  # rows | sum:COLUMN
    where: tuple[tuple[str, str, Any], ...]
    source: str


@dataclass(frozen=True)
class ClaimsMeasure:
    """A money measure of the claims warehouse (a column of ``agg_month``), for the IOC."""

    code: str
    name_vi: str
    name_en: str
    column: str
    unit_vi: str
    unit_en: str


@dataclass(frozen=True)
class PaperMeasure:
    """Papers of the warehouse counted by month of a date of their own and by option of a
    category (``ioc.toml`` ``[papers]``; e.g. XML12 medical assessments by kind, dated by the
    meeting): each paper counts in the first option whose conditions hold, the last option has
    none (the rest). ``plan`` names the indicator whose targets apply."""

    code: str
    name_vi: str
    name_en: str
    table: str
    date: str
    commune: str  # the person's commune of residence that places a paper (aggregate.residence)
    unit_vi: str
    unit_en: str
    category: str
    plan: str
    options: tuple[tuple[str, tuple[tuple[str, str, Any], ...]], ...]


@dataclass(frozen=True)
class Panel:
    """One panel of an IOC dashboard: an indicator, a claims measure or service groups."""

    kind: str  # indicator | claims | service_groups | papers
    code: str
    chart: str = "bar"
    by_option: bool = False
    breakdown: bool = True


@dataclass(frozen=True)
class Group:
    """An IOC dashboard (``ioc.toml``): a group of the seed's operations centre."""

    code: str
    number: int
    name_vi: str
    name_en: str
    source_vi: str
    source_en: str
    panels: tuple[Panel, ...]


CLAIMS_COLUMNS = ("cost_total", "cost_bhyt", "cost_patient")


@dataclass(frozen=True)
class Metadata:
    version: str
    regime: str
    combos: dict[str, Combo]
    elements: dict[str, DataElement]
    datasets: dict[str, DataSet]
    indicators: dict[str, Indicator]
    targets: dict[tuple[str, str, int], float]  # (indicator, org unit, year) -> target
    forms: dict[str, Form]
    dhis2: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, code) -> UID
    rules: dict[str, Rule] = field(default_factory=dict)
    claims: dict[str, ClaimsMeasure] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    measures: dict[str, FormMeasure] = field(default_factory=dict)
    papers: dict[str, PaperMeasure] = field(default_factory=dict)

    def combinations(self, element: str) -> tuple[str, ...]:
        return self.combos[self.elements[element].combo].combinations


def _text(name: str) -> str:
    return resources.files("khoyte.aggregate").joinpath(f"data/{name}").read_text("utf-8")


def _combos(meta: dict[str, Any]) -> dict[str, Combo]:
    cats = {code: [Option(*o) for o in c["options"]] for code, c in meta["categories"].items()}
    out = {}
    for code, names in meta["combos"].items():
        options = [cats[n] for n in names]
        combos = list(itertools.product(*options)) if options else [()]
        keys = ["|".join(o.code for o in combo) for combo in combos]
        vi = {k: ", ".join(o.name_vi for o in c) for k, c in zip(keys, combos, strict=True)}
        en = {k: ", ".join(o.name_en for o in c) for k, c in zip(keys, combos, strict=True)}
        out[code] = Combo(code, tuple(names), tuple(keys), vi, en)
    return out


def _panel(p: dict[str, Any]) -> Panel:
    if p.get("service_groups"):
        kind, code = "service_groups", "service_groups"
    elif "claims" in p:
        kind, code = "claims", str(p["claims"])
    elif "papers" in p:
        kind, code = "papers", str(p["papers"])
    else:
        kind, code = "indicator", str(p["indicator"])
    return Panel(kind, code, str(p.get("chart", "bar")), bool(p.get("by_option", False)),
                 bool(p.get("breakdown", True)))  # fmt: skip


def _papers(doc: dict[str, Any]) -> dict[str, PaperMeasure]:
    return {
        code: PaperMeasure(
            code, m["name_vi"], m["name_en"], m["table"], m["date"], m["commune"], m["unit_vi"], m["unit_en"],
            m["category"], m["plan"],
            tuple((str(o["code"]), tuple((str(c), str(op), v) for c, op, v in o.get("where", ())))
                  for o in m["options"]),
        )
        for code, m in doc.get("papers", {}).items()
    }  # fmt: skip


def _ioc(doc: dict[str, Any]) -> tuple[dict[str, ClaimsMeasure], dict[str, Group]]:
    claims = {
        code: ClaimsMeasure(code, c["name_vi"], c["name_en"], c["column"], c["unit_vi"],
                            c["unit_en"])
        for code, c in doc.get("claims", {}).items()
    }  # fmt: skip
    groups = {
        code: Group(code, int(g["number"]), g["name_vi"], g["name_en"], g["source_vi"],
                    g["source_en"], tuple(_panel(p) for p in g["panels"]))
        for code, g in doc.get("groups", {}).items()
    }  # fmt: skip
    return claims, dict(sorted(groups.items(), key=lambda kv: kv[1].number))


def _signal_rows(
    form: str, source: str
) -> tuple[tuple[dict[str, Any], ...], dict[str, FormMeasure]]:
    """A form's rows from the surveillance module's signals (``rows_from = "signals"``): one
    row per disease, counted by a measure ``<form>_<signal>`` whose condition is the signal's own
    ICD-10 mapping (op ``signal``), so the two never disagree."""
    from khoyte.surveillance.signals import load_signals  # its module reads the warehouse

    rows, measures = [], {}
    for sig in load_signals():
        code, icd = f"{form}_{sig.code}", ", ".join(sig.icd10)
        rows.append({"code": sig.code, "label_vi": f"{sig.name_vi} ({icd})",
                     "label_en": f"{sig.name_en} ({icd})", "unit_vi": "lượt", "measure": code})  # fmt: skip
        measures[code] = FormMeasure(code, "fact_episode", "rows",
                                     (("e.ma_benh_chinh", "signal", sig.code),), f"{source} {icd}")  # fmt: skip
    return tuple(rows), measures


@cache
def load() -> Metadata:
    texts = {name: _text(name) for name in FILES}
    digest = hashlib.sha256("".join(texts[n] for n in FILES).encode()).hexdigest()[:12]
    meta = tomllib.loads(texts["metadata.toml"])
    forms_doc = tomllib.loads(texts["forms.toml"])
    combos = _combos(meta)
    elements = {
        r["code"]: DataElement(**r) for r in csv.DictReader(io.StringIO(texts["elements.csv"]))
    }
    datasets = {
        code: DataSet(
            code=code,
            name_vi=d["name_vi"],
            name_en=d["name_en"],
            period_type=d["period_type"],
            orgunit_level=d["orgunit_level"],
            due_days=int(d.get("due_days", 5)),
            elements=tuple(e.code for e in elements.values() if e.dataset == code),
        )
        for code, d in meta["datasets"].items()
    }
    indicators = {
        code: Indicator(code, i["name_vi"], i["name_en"], i["numerator"], i["denominator"],
                        float(i["factor"]))
        for code, i in meta["indicators"].items()
    }  # fmt: skip
    targets = {
        (r["indicator"], r["orgunit"], int(r["year"])): float(r["target"])
        for r in csv.DictReader(io.StringIO(texts["targets.csv"]))
    }
    measures = {
        code: FormMeasure(code, m["table"], m.get("count", "rows"),
                          tuple((str(c), str(op), v) for c, op, v in m.get("where", ())),
                          m["source"])
        for code, m in forms_doc.get("measures", {}).items()
    }  # fmt: skip
    forms = {}
    for code, f in forms_doc["forms"].items():
        rows = tuple(f.get("rows", ()))
        if f.get("rows_from") == "signals":
            rows, own = _signal_rows(code, f["source"])
            measures.update(own)
            from khoyte.surveillance.signals import packaged_text

            digest = hashlib.sha256((digest + packaged_text()).encode()).hexdigest()[:12]
        forms[code] = Form(
            code=code,
            name_vi=f["name_vi"],
            name_en=f["name_en"],
            period_type=f["period_type"],
            claims=bool(f.get("claims", False)),
            row_header_vi=f.get("row_header_vi", ""),
            row_header_en=f.get("row_header_en", ""),
            rows=rows,
            columns=tuple(f.get("columns", ())),
        )
    dhis2 = {
        (r["kind"], r["code"]): r["uid"]
        for r in csv.DictReader(io.StringIO(texts["dhis2_map.csv"]))
    }
    rules = {
        code: Rule(code, r["name_vi"], r["name_en"], r["left"], r["operator"], r["right"],
                   r.get("missing", "skip_if_any"))
        for code, r in tomllib.loads(texts["rules.toml"])["rules"].items()
    }  # fmt: skip
    ioc_doc = tomllib.loads(texts["ioc.toml"])
    claims, groups = _ioc(ioc_doc)
    md = Metadata(
        version=f"{meta['version']}+{digest}",
        regime=forms_doc["regime"],
        combos=combos,
        elements=elements,
        datasets=datasets,
        indicators=indicators,
        targets=targets,
        forms=forms,
        dhis2=dhis2,
        rules=rules,
        claims=claims,
        groups=groups,
        measures=measures,
        papers=_papers(ioc_doc),
    )
    check(md)
    return md


def check(md: Metadata) -> None:
    """Refuse inconsistent files at start (a typo in a combo name, an unknown data set)."""
    problems = [
        f"element {e.code}: unknown {what} {v!r}"
        for e in md.elements.values()
        for what, v, known in (
            ("combo", e.combo, md.combos),
            ("dataset", e.dataset, md.datasets),
            ("aggregation", e.aggregation, ("sum", "average", "last")),
            ("value_type", e.value_type, ("integer", "number")),
        )
        if v not in known
    ]
    problems += [
        f"target: unknown indicator {k[0]!r}"
        for k in md.targets
        if k[0] not in md.indicators and k[0] not in md.claims
    ]
    problems += [f"claims {c.code}: unknown column {c.column!r}" for c in md.claims.values()
                 if c.column not in CLAIMS_COLUMNS]  # fmt: skip
    for g in md.groups.values():
        for p in g.panels:
            known: dict[str, set[str]] = {"indicator": set(md.indicators),
                                          "claims": set(md.claims), "papers": set(md.papers)}  # fmt: skip
            if (p.kind in known and p.code not in known[p.kind]) or p.chart not in ("line", "bar"):
                problems.append(f"ioc {g.code}: unknown {p.kind} {p.code!r} / chart {p.chart!r}")
    for r in md.rules.values():
        if r.operator not in OPERATORS or r.missing not in ("skip_if_any", "zero"):
            problems.append(f"rule {r.code}: operator {r.operator!r} / missing {r.missing!r}")
        for side in (r.left, r.right):
            for ref in re.findall(r"#\{([^}]*)\}", side):
                element, _, coc = ref.partition(".")
                if element not in md.elements or (coc and coc not in md.combinations(element)):
                    problems.append(f"rule {r.code}: unknown reference #{{{ref}}}")
    problems += _form_problems(md)
    if problems:
        raise ValueError("aggregate metadata: " + "; ".join(problems))


def _form_problems(md: Metadata) -> list[str]:
    """A form's row names a measure of ``[measures]`` or an element (with an option of its
    combination); a measure's table and columns are the warehouse's."""
    from khoyte.aggregate.form_claims import measure_problems

    problems = [p for m in md.measures.values() for p in measure_problems(m)]
    for pm in md.papers.values():
        as_measure = FormMeasure(pm.code, pm.table, "rows",
                                 (*(w for _, ws in pm.options for w in ws), (pm.date, "=", ""),
                                  (pm.commune, "=", "")), "")  # fmt: skip
        problems += measure_problems(as_measure)
        cat = md.combos.get(pm.category)
        if cat is None or [o for o, _ in pm.options] != list(cat.combinations):
            problems.append(f"papers {pm.code}: options are not those of combo {pm.category!r}")
        if pm.plan not in md.indicators:
            problems.append(f"papers {pm.code}: unknown plan indicator {pm.plan!r}")
    for f in md.forms.values():
        for r in f.rows:
            where = f"form {f.code} row {r.get('code')}"
            if "measure" in r and r["measure"] not in md.measures and f.code not in ("b9", "b14"):
                problems.append(f"{where}: unknown measure {r['measure']!r}")
            if "element" in r:
                e = r["element"]
                if e not in md.elements:
                    problems.append(f"{where}: unknown element {e!r}")
                    continue
                if "option" in r and r["option"] not in md.combinations(e):
                    problems.append(f"{where}: unknown option {r['option']!r}")
                parts = {p for coc in md.combinations(e) for p in coc.split("|")}
                for c in f.columns:  # an element without disaggregation fills "all" only
                    if md.elements[e].combo != "default" and not set(c.get("match", ())) <= parts:
                        problems.append(f"{where}: column {c['code']} matches {c['match']!r}")
            if "measure" in r and r["measure"] in md.measures:
                for c in f.columns:
                    if c.get("where"):
                        problems += measure_problems(cell_measure(md, r, c))
    return problems


def cell_measure(md: Metadata, row: dict[str, Any], column: dict[str, Any]) -> FormMeasure:
    """The measure of one cell: the row's, with the column's conditions (``where``) added."""
    m = md.measures[row["measure"]]
    extra = tuple((str(c), str(op), v) for c, op, v in column.get("where", ()))
    if not extra:
        return m
    source = f"{m.source}; {column['source']}" if column.get("source") else m.source
    return FormMeasure(f"{m.code}.{column['code']}", m.table, m.count, m.where + extra, source)
