"""DHIS2 exchange formats (issue 13, item 3): ``dataValueSets`` JSON and CSV, and ADX.

Identifiers: exports name data elements, option combinations and data sets by the UIDs of
``data/dhis2_map.csv`` (a province replaces them with its DHIS2 instance's), org units by code
(DHIS2's ``orgUnitIdScheme=CODE``) unless the map has a UID for them. Imports accept a UID or our
code for each (DHIS2's ``idScheme``). ADX writes codes and one attribute per category, as its
profile says (IHE QRPH ADX 2015).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterable
from typing import Any

# ElementTree only builds ADX for output; every document read goes through defusedxml below
from xml.etree.ElementTree import Element, SubElement, tostring  # nosec B405

from defusedxml import ElementTree as SafeET

from khoyte.aggregate import periods
from khoyte.aggregate.metadata import Metadata
from khoyte.aggregate.models import AggValue
from khoyte.aggregate.store import Cell, Problem, problem

ADX_NS = "urn:ihe:qrph:adx:2015"
CSV_HEADER = ("dataelement", "period", "orgunit", "catoptcombo", "attroptcombo", "value",
              "storedby", "lastupdated", "comment", "followup")  # fmt: skip
DEFAULT = "default"


def uid(md: Metadata, kind: str, code: str) -> str:
    return md.dhis2.get(
        (kind, code or DEFAULT) if kind == "categoryOptionCombo" else (kind, code), code
    )


def code_of(md: Metadata, kind: str, ident: str) -> str:
    """Our code for a UID or a code (unknown identifiers pass through: the check names them)."""
    for (k, code), u in md.dhis2.items():
        if k == kind and u == ident:
            ident = code
            break
    return "" if kind == "categoryOptionCombo" and ident in (DEFAULT, "") else ident


def _records(values: Iterable[AggValue], md: Metadata) -> list[dict[str, str]]:
    aoc = uid(md, "categoryOptionCombo", "")
    return [
        {
            "dataElement": uid(md, "dataElement", v.data_element),
            "period": v.period,
            "orgUnit": uid(md, "orgUnit", v.orgunit),
            "categoryOptionCombo": uid(md, "categoryOptionCombo", v.coc),
            "attributeOptionCombo": aoc,
            "value": v.value,
        }
        for v in values
    ]


def to_json(values: Iterable[AggValue], dataset: str, md: Metadata) -> bytes:
    body = {"dataSet": uid(md, "dataSet", dataset), "dataValues": _records(values, md)}
    return json.dumps(body, ensure_ascii=False).encode()


def to_csv(values: Iterable[AggValue], md: Metadata) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for r in _records(values, md):
        w.writerow([r["dataElement"], r["period"], r["orgUnit"], r["categoryOptionCombo"],
                    r["attributeOptionCombo"], r["value"], "", "", "", "false"])  # fmt: skip
    return out.getvalue().encode()


def to_adx(values: Iterable[AggValue], dataset: str, md: Metadata) -> bytes:
    root = Element("adx", {"xmlns": ADX_NS})
    groups: dict[tuple[str, str], Element] = {}
    for v in values:
        key = (v.orgunit, v.period)
        group = groups.get(key)
        if group is None:
            attrs = {
                "orgUnit": v.orgunit,
                "period": periods.parse(v.period).adx,
                "dataSet": dataset,
            }
            group = groups[key] = SubElement(root, "group", attrs)
        attrs = {"dataElement": v.data_element}
        combo = (
            md.combos[md.elements[v.data_element].combo] if v.data_element in md.elements else None
        )
        if combo is not None and v.coc:
            attrs.update(zip(combo.categories, v.coc.split("|"), strict=True))
        attrs["value"] = v.value
        SubElement(group, "dataValue", attrs)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root, encoding="unicode").encode()


def read(data: bytes, content_type: str, md: Metadata) -> tuple[str, list[Cell], list[Problem]]:
    """(format, cells, problems) of a ``dataValueSets`` body by its content type."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if "adx" in kind or kind.endswith("xml"):
            return "adx", *read_adx(data, md)
        if "csv" in kind:
            return "dvs-csv", *read_csv(data, md)
        return "dvs-json", *read_json(data, md)
    except (ValueError, SafeET.ParseError, UnicodeDecodeError, KeyError, TypeError) as exc:
        return "dvs", [], [problem("unreadable", "dataValueSets", 0, "", type(exc).__name__)]


def _cell(
    md: Metadata, de: str, coc: str, period: str, ou: str, value: Any, sheet: str, row: int
) -> Cell:
    return Cell(code_of(md, "dataElement", de), code_of(md, "categoryOptionCombo", coc), period,
                code_of(md, "orgUnit", ou), "" if value is None else str(value), sheet, row, "value")  # fmt: skip


def read_json(data: bytes, md: Metadata) -> tuple[list[Cell], list[Problem]]:
    doc = json.loads(data.decode("utf-8-sig"))
    if not isinstance(doc, dict):
        raise ValueError("not an object")
    cells = []
    for i, dv in enumerate(doc.get("dataValues", []), start=1):
        cells.append(_cell(md, dv.get("dataElement", ""), dv.get("categoryOptionCombo", ""),
                           dv.get("period", doc.get("period", "")), dv.get("orgUnit", doc.get("orgUnit", "")),
                           dv.get("value"), "dataValues", i))  # fmt: skip
    return cells, []


def read_csv(data: bytes, md: Metadata) -> tuple[list[Cell], list[Problem]]:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    cells, problems = [], []
    for n, row in enumerate(rows, start=1):
        if not row or (n == 1 and row[0].strip().lower() in ("dataelement", "data_element")):
            continue
        if len(row) < 6:
            problems.append(problem("bad_header", "csv", n, "", ",".join(row)))
            continue
        cells.append(_cell(md, row[0], row[3], row[1], row[2], row[5], "csv", n))
    return cells, problems


def read_adx(data: bytes, md: Metadata) -> tuple[list[Cell], list[Problem]]:
    root = SafeET.fromstring(data)
    ns = f"{{{ADX_NS}}}"
    cells: list[Cell] = []
    problems: list[Problem] = []
    n = 0
    for group in root.iter(f"{ns}group"):
        ou, period = group.get("orgUnit", ""), group.get("period", "")
        with contextlib.suppress(periods.PeriodError):  # a bad one is named by the check
            period = periods.parse(period).iso  # ADX writes 2025-01-01/P1M; values carry ISO
        for dv in group.iter(f"{ns}dataValue"):
            n += 1
            de = code_of(md, "dataElement", dv.get("dataElement", ""))
            cats = {
                k: v for k, v in dv.attrib.items() if k not in ("dataElement", "value", "comment")
            }
            el = md.elements.get(de)
            if el is not None:
                names = md.combos[el.combo].categories
                coc = "|".join(cats.get(c, "") for c in names)
                if set(cats) - set(names):
                    problems.append(
                        problem("unknown_coc", "adx", n, "dataValue", ",".join(sorted(cats)))
                    )
            else:
                coc = "|".join(f"{k}={v}" for k, v in sorted(cats.items()))
            cells.append(
                Cell(
                    de,
                    coc,
                    period,
                    code_of(md, "orgUnit", ou),
                    dv.get("value", ""),
                    "adx",
                    n,
                    "value",
                )
            )
    return cells, problems


def import_summary(receipt: dict[str, Any]) -> dict[str, Any]:
    """DHIS2's import summary for a receipt."""
    ok = receipt["status"] != "rejected"
    return {
        "responseType": "ImportSummary",
        "status": "SUCCESS" if ok else "ERROR",
        "description": "Import process completed successfully" if ok else "Import rejected: nothing stored",
        "importCount": receipt["importCount"],
        "conflicts": [
            {"object": p["value"], "value": f"{p['message_en']} ({p['sheet']} row {p['row']} {p['column']})",
             "errorCode": p["code"]}
            for p in receipt["problems"]
        ],
        "receipt": receipt,
    }  # fmt: skip
