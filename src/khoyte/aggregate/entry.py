"""The web data-entry form of an aggregate data set (issue 13, item 3): one report (data set ×
period × org unit) as cells, each with its stored value, the value of the period before and the
range (min–max) of every earlier period of the org unit; saving goes through
:func:`khoyte.aggregate.store.store` (all-or-nothing, locked reports refused, scope checked)
and is audited (``aggregate.entry``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from khoyte.access import Principal
from khoyte.aggregate import periods, store
from khoyte.aggregate.metadata import DataSet, Metadata
from khoyte.aggregate.models import AggReport, AggValue
from khoyte.aggregate.quality_report import previous
from khoyte.security import audit


def _num(text: str) -> float:
    return float(text)


def report(
    session: Session, md: Metadata, ds: DataSet, period: periods.Period, orgunit: str
) -> dict[str, Any]:
    """The cells of one report with their value, last period's and the earlier range."""
    q = select(AggValue).where(
        AggValue.data_element.in_(ds.elements),
        AggValue.orgunit == orgunit,
        AggValue.period <= period.iso,
        func.length(AggValue.period) == len(period.iso),
    )
    now: dict[tuple[str, str], str] = {}
    before: dict[tuple[str, str], dict[str, str]] = {}
    for v in session.scalars(q):
        key = (v.data_element, v.coc)
        if v.period == period.iso:
            now[key] = v.value
        else:
            before.setdefault(key, {})[v.period] = v.value
    last = previous(period, 1)[0]
    r = session.get(AggReport, (ds.code, period.iso, orgunit))
    cells = []
    for de in ds.elements:
        el = md.elements[de]
        combo = md.combos[el.combo]
        for coc in combo.combinations:
            hist = [_num(x) for x in before.get((de, coc), {}).values()]
            cells.append({
                "dataElement": de, "categoryOptionCombo": coc, "name_vi": el.name_vi,
                "name_en": el.name_en, "combo_vi": combo.labels_vi.get(coc, ""),
                "combo_en": combo.labels_en.get(coc, ""), "unit_vi": el.unit_vi,
                "unit_en": el.unit_en, "valueType": el.value_type,
                "value": now.get((de, coc)), "last": before.get((de, coc), {}).get(last),
                "min": min(hist) if hist else None, "max": max(hist) if hist else None,
                "earlier": len(hist),
            })  # fmt: skip
    return {
        "dataSet": ds.code, "period": period.iso, "orgUnit": orgunit, "lastPeriod": last,
        "approvalLevel": r.level if r else None, "locked": bool(r and r.level),
        "cells": cells,
    }  # fmt: skip


def save(
    session: Session,
    ds: DataSet,
    period: periods.Period,
    orgunit: str,
    values: list[tuple[str, str, str]],
    principal: Principal,
    ip: str,
    now: datetime,
) -> dict[str, Any]:
    """Store ``(element, combination, value)`` of one report, all-or-nothing, with a receipt;
    an empty value deletes the stored one (a cell emptied on the form). Audited whether stored
    or refused (``aggregate.entry``, with the values written and deleted)."""

    def cell(i: int, de: str, coc: str, value: str) -> store.Cell:
        return store.Cell(de, coc, period.iso, orgunit, value, "web", i + 1,
                          de + (f"|{coc}" if coc else ""))  # fmt: skip

    cells = [cell(i, de, coc, v) for i, (de, coc, v) in enumerate(values) if v.strip()]
    gone = [cell(i, de, coc, "") for i, (de, coc, v) in enumerate(values) if not v.strip()]
    problems = [
        store.problem("unknown_element", "web", c.row, c.column, c.data_element)
        for c in cells + gone
        if c.data_element not in ds.elements
    ]
    gone = [c for c in gone if c.data_element in ds.elements]
    problems += store.locked_problems(session, gone)
    data = json.dumps([ds.code, period.iso, orgunit, values], ensure_ascii=False).encode()
    if cells or problems:
        receipt = store.store(session, [c for c in cells if c.data_element in ds.elements],
                              problems, data=data, filename=f"web:{ds.code}/{period.iso}/{orgunit}",
                              fmt="web", who=principal.name, now=now, scope=principal.scope)  # fmt: skip
    else:
        receipt = {"status": "unchanged", "problems": [],
                   "importCount": {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}}  # fmt: skip
    if receipt["status"] != "rejected" and gone:
        deleted = 0
        for c in gone:
            v = session.get(AggValue, (c.data_element, c.coc, c.period, c.orgunit))
            if v is not None:
                session.delete(v)
                deleted += 1
        receipt["importCount"]["deleted"] = deleted
        if deleted and receipt["status"] == "unchanged":
            receipt["status"] = "loaded"
    codes = {p["code"] for p in receipt["problems"]}
    outcome = "success" if not codes else ("denied" if "locked" in codes else "failure")
    audit.record(session, principal, "aggregate.entry", f"report:{ds.code}/{period.iso}/{orgunit}",
                 outcome, ip,
                 details={"values": len(values), **receipt["importCount"],
                          "problems": sorted(codes)})  # fmt: skip
    return receipt
