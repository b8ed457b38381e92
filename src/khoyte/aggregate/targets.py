"""Plan targets stored in the database (``ag_target``), over the package's ``targets.csv``.

The package's file holds a province's plan at its real scale; a province imports its own plan,
and the demo imports the plan its synthetic province was written with (``khoyte synth`` writes
``aggregates/ke_hoach.csv`` scaled to its population). The file has the package file's columns
``indicator, orgunit, year, target``; an upload is all-or-nothing, with a receipt naming the row,
column and value of every problem; a stored target replaces the package's for the same
indicator × org unit × year (``effective``).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.aggregate.metadata import Metadata
from khoyte.aggregate.models import AggTarget
from khoyte.aggregate.store import canonical

COLUMNS = ("indicator", "orgunit", "year", "target")


def read(data: bytes, md: Metadata) -> tuple[list[tuple[str, str, int, str]], list[dict[str, Any]]]:
    """Rows (indicator, org unit, year, canonical target) and problems (row is the file's line)."""
    problems: list[dict[str, Any]] = []
    rows: list[tuple[str, str, int, str]] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [{"code": "encoding", "row": 0, "column": "", "value": ""}]
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        return [], [{"code": "missing_column", "row": 1, "column": c, "value": ""} for c in missing]
    for line, r in enumerate(reader, start=2):
        ind, unit, year, target = (str(r.get(c) or "").strip() for c in COLUMNS)
        bad = []
        if ind not in md.indicators and ind not in md.claims:
            bad.append(("unknown_indicator", "indicator", ind))
        if not unit or len(unit) > 16:
            bad.append(("bad_orgunit", "orgunit", unit))
        if not (year.isdigit() and 2000 <= int(year) <= 2100):
            bad.append(("bad_year", "year", year))
        value, err = canonical(target, "number")
        if value is None:
            bad.append((err or "not_a_number", "target", target))
        problems += [{"code": c, "row": line, "column": col, "value": v} for c, col, v in bad]
        if not bad and value is not None:
            rows.append((ind, unit, int(year), value))
    return rows, problems


def store(
    session: Session, data: bytes, md: Metadata, *, source: str, who: str, now: datetime
) -> dict[str, Any]:
    """All or nothing: the receipt (``status`` loaded | rejected, ``imported``, ``updated``,
    ``problems``)."""
    rows, problems = read(data, md)
    if problems:
        return {"status": "rejected", "imported": 0, "updated": 0, "problems": problems}
    imported = updated = 0
    for ind, unit, year, value in rows:
        got = session.get(AggTarget, (ind, unit, year))
        if got is None:
            session.add(AggTarget(indicator=ind, orgunit=unit, year=year, target=value,
                                  source=source[:255], stored_by=who, updated_at=now))  # fmt: skip
            imported += 1
        elif got.target != value:
            got.target, got.source, got.stored_by, got.updated_at = value, source[:255], who, now
            updated += 1
    return {"status": "loaded", "imported": imported, "updated": updated, "problems": []}


def effective(session: Session, md: Metadata) -> dict[tuple[str, str, int], float]:
    """The package's targets with the stored ones over them."""
    out = dict(md.targets)
    for t in session.scalars(select(AggTarget)):
        out[(t.indicator, t.orgunit, t.year)] = float(t.target)
    return out
