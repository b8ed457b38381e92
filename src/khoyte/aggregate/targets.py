"""Plan targets stored in the database (``ag_target``), over the package's ``targets.csv``.

The package's file holds a province's plan at its real scale; a province imports its own plan,
and the demo imports the plan its synthetic province was written with (``khoyte synth`` writes
``aggregates/ke_hoach.csv`` scaled to its population). A file (CSV, or an XLSX whose first sheet
has the same header in row 1) has the columns ``indicator, orgunit, year, target``; columns after
them (the names :func:`to_csv` writes for people) are ignored. An upload is all-or-nothing, with
a receipt naming the row, column and value of every problem in Vietnamese and English; a stored
target replaces the package's for the same indicator × org unit × year (``effective``). The
same file twice changes nothing (``unchanged``). The web page and its API
(:mod:`khoyte.aggregate.web_targets`) edit one value, delete one, upload and download through
the functions here.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Collection
from datetime import datetime
from typing import Any

from openpyxl import Workbook, load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.aggregate.importer import _text
from khoyte.aggregate.ioc import unit_label
from khoyte.aggregate.metadata import Metadata
from khoyte.aggregate.models import AggTarget
from khoyte.aggregate.store import MESSAGES as STORE_MESSAGES
from khoyte.aggregate.store import canonical, known_orgunits

COLUMNS = ("indicator", "orgunit", "year", "target")
# written after the columns read, for people (ignored when the file comes back)
INFO_COLUMNS = ("ten_chi_so", "don_vi_tinh", "ten_don_vi")
PACKAGE = "targets.csv"  # the ``source`` of a package row (not stored)
Key = tuple[str, str, int]
MESSAGES: dict[str, tuple[str, str]] = {
    **{k: STORE_MESSAGES[k]
       for k in ("not_a_number", "negative", "unreadable", "empty_file", "unknown_orgunit")},
    "duplicate": ("Dòng trùng chỉ số × đơn vị × năm với một dòng trước",
                  "the same indicator × org unit × year as an earlier row"),
    "encoding": ("Tệp không phải văn bản UTF-8", "the file is not UTF-8 text"),
    "missing_column": ("Thiếu cột bắt buộc", "a required column is missing"),
    "unknown_indicator": ("Chỉ số không có trong danh mục (metadata.toml, ioc.toml)",
                          "unknown indicator (metadata.toml, ioc.toml)"),
    "bad_orgunit": ("Mã đơn vị trống hoặc dài hơn 16 ký tự",
                    "the org unit code is empty or longer than 16 characters"),
    "bad_year": ("Năm không hợp lệ (2000–2100)", "invalid year (2000–2100)"),
}  # fmt: skip


def problem(code: str, row: int, column: str, value: str) -> dict[str, Any]:
    vi, en = MESSAGES[code]
    return {"code": code, "row": row, "column": column, "value": value, "message_vi": vi,
            "message_en": en}  # fmt: skip


def check(
    md: Metadata, ind: str, unit: str, year: str, target: str, units: Collection[str] | None = None
) -> tuple[str | None, list[tuple[str, str, str]]]:
    """The canonical target and the problems ``(code, column, value)`` of one plan value; with
    ``units`` (the registry's org units) the org unit must be one of them."""
    bad = []
    if ind not in md.indicators and ind not in md.claims:
        bad.append(("unknown_indicator", "indicator", ind))
    if not unit or len(unit) > 16:
        bad.append(("bad_orgunit", "orgunit", unit))
    elif units is not None and unit not in units:
        bad.append(("unknown_orgunit", "orgunit", unit))
    if not (year.isdigit() and 2000 <= int(year) <= 2100):
        bad.append(("bad_year", "year", year))
    value, err = canonical(target, "number")
    if value is None:
        bad.append((err or "not_a_number", "target", target))
    return (value if not bad else None), bad


Lines = tuple[list[str], list[tuple[int, dict[str, str]]]]  # header, (row number, row)


def _csv_rows(data: bytes) -> Lines | dict[str, Any]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return problem("encoding", 0, "", "")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    reader.fieldnames = header
    return header, [(n, {k: str(r.get(k) or "") for k in header})
                    for n, r in enumerate(reader, start=2)]  # fmt: skip


def _xlsx_rows(data: bytes) -> Lines | dict[str, Any]:
    """The first sheet: row 1 the header, then one plan value a row (empty rows skipped)."""
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return problem("unreadable", 0, "", "")
    try:
        rows = list(wb.worksheets[0].iter_rows(values_only=True)) if wb.worksheets else []
    finally:
        wb.close()
    header = [_text(h) for h in rows[0]] if rows else []
    out = []
    for n, row in enumerate(rows[1:], start=2):
        cells = [_text(v) for v in row]
        if any(cells):
            out.append((n, dict(zip(header, cells, strict=False))))
    return header, out


def read(
    data: bytes, md: Metadata, units: Collection[str] | None = None
) -> tuple[list[tuple[str, str, int, str]], list[dict[str, Any]]]:
    """Rows (indicator, org unit, year, canonical target) and problems (``row``: the file's
    line, or the sheet's row of an XLSX); an XLSX is a zip archive. With ``units``, every org
    unit must be one of them."""
    got = _xlsx_rows(data) if data[:4] == b"PK\x03\x04" else _csv_rows(data)
    if isinstance(got, dict):
        return [], [got]
    header, lines = got
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        return [], [problem("missing_column", 1, c, "") for c in missing]
    problems: list[dict[str, Any]] = []
    rows: list[tuple[str, str, int, str]] = []
    seen: set[Key] = set()
    for line, r in lines:
        ind, unit, year, target = (str(r.get(c) or "").strip() for c in COLUMNS)
        value, bad = check(md, ind, unit, year, target, units)
        problems += [problem(c, line, col, v) for c, col, v in bad]
        if value is not None:
            if (ind, unit, int(year)) in seen:
                problems.append(problem("duplicate", line, "indicator", ind))
            seen.add((ind, unit, int(year)))
            rows.append((ind, unit, int(year), value))
    if not rows and not problems:
        problems.append(problem("empty_file", 0, "", ""))
    return rows, problems


def store(
    session: Session, data: bytes, md: Metadata, *, source: str, who: str, now: datetime
) -> dict[str, Any]:
    """All or nothing: the receipt (``status`` loaded | unchanged | rejected, ``rows``,
    ``imported``, ``updated``, ``problems``). Org units must be the registry's (provinces and
    communes of the 2025 list, facilities of the registry)."""
    rows, problems = read(data, md, known_orgunits(session))
    if problems:
        return {"status": "rejected", "rows": len(rows), "imported": 0, "updated": 0,
                "problems": problems}  # fmt: skip
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
    status = "loaded" if imported + updated else "unchanged"
    return {"status": status, "rows": len(rows), "imported": imported, "updated": updated,
            "problems": []}  # fmt: skip


def effective(session: Session, md: Metadata) -> dict[Key, float]:
    """The package's targets with the stored ones over them."""
    out = dict(md.targets)
    for t in session.scalars(select(AggTarget)):
        out[(t.indicator, t.orgunit, t.year)] = float(t.target)
    return out


def describe(md: Metadata, code: str) -> dict[str, str]:
    """Name and unit of a plan's indicator (or claims measure), both languages."""
    if code in md.indicators:
        ind = md.indicators[code]
        return {"name_vi": ind.name_vi, "name_en": ind.name_en,
                "unit_vi": unit_label(md, ind, "vi"), "unit_en": unit_label(md, ind, "en")}  # fmt: skip
    m = md.claims[code]
    return {"name_vi": m.name_vi, "name_en": m.name_en, "unit_vi": m.unit_vi, "unit_en": m.unit_en}


def rows(session: Session, md: Metadata) -> list[dict[str, Any]]:
    """Every plan in effect, stored or the package's, by year, org unit and indicator: the key,
    the canonical ``target``, where it came from (``source``: a file, ``web`` or
    ``targets.csv``), ``stored`` and, for a stored one, who changed it and when."""
    out: dict[Key, dict[str, Any]] = {}
    for (ind, unit, year), v in md.targets.items():
        out[(ind, unit, year)] = {"indicator": ind, "orgunit": unit, "year": year,
                                  "target": canonical(repr(v), "number")[0] or str(v),
                                  "source": PACKAGE, "stored": False, "stored_by": None,
                                  "updated_at": None}  # fmt: skip
    for t in session.scalars(select(AggTarget)):
        out[(t.indicator, t.orgunit, t.year)] = {
            "indicator": t.indicator, "orgunit": t.orgunit, "year": t.year, "target": t.target,
            "source": t.source, "stored": True, "stored_by": t.stored_by,
            "updated_at": t.updated_at,
        }  # fmt: skip
    known = md.indicators.keys() | md.claims.keys()
    return [
        {**r, **describe(md, r["indicator"])}
        for _, r in sorted(out.items(), key=lambda kv: (-kv[0][2], kv[0][1], kv[0][0]))
        if r["indicator"] in known
    ]


def ioc_codes(md: Metadata) -> dict[str, list[int]]:
    """The codes whose plans the IOC dashboards show, each with its groups' numbers."""
    out: dict[str, list[int]] = {}
    for g in md.groups.values():
        for p in g.panels:
            code = md.papers[p.code].plan if p.kind == "papers" else p.code
            if p.kind != "service_groups" and g.number not in out.setdefault(code, []):
                out[code].append(g.number)
    return out


def put(session: Session, key: Key, value: str, *, who: str, now: datetime) -> str | None:
    """Store one checked value; the value it replaces (``None``: none was stored)."""
    got = session.get(AggTarget, key)
    if got is None:
        session.add(AggTarget(indicator=key[0], orgunit=key[1], year=key[2], target=value,
                              source="web", stored_by=who, updated_at=now))  # fmt: skip
        return None
    old = got.target
    if old != value:
        got.target, got.source, got.stored_by, got.updated_at = value, "web", who, now
    return old


def delete(session: Session, key: Key) -> str | None:
    """Delete one stored value (the package's, if any, applies again); the value deleted."""
    got = session.get(AggTarget, key)
    if got is None:
        return None
    session.delete(got)
    return got.target


def to_csv(plans: list[dict[str, Any]], names: dict[str, str]) -> bytes:
    """The plans in the importer's layout (UTF-8 with BOM for spreadsheets), names after."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS + INFO_COLUMNS)
    for r in plans:
        w.writerow([r["indicator"], r["orgunit"], r["year"], r["target"], r["name_vi"],
                    r["unit_vi"], names.get(r["orgunit"], "")])  # fmt: skip
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _cell(value: str) -> float | int | str:
    """A number cell when the number survives a spreadsheet exactly, else the text."""
    f = float(value)
    if f.is_integer() and abs(f) < 2**53:
        return int(f) if str(int(f)) == value else value
    return f if canonical(repr(f), "number")[0] == value else value


def to_xlsx(plans: list[dict[str, Any]], names: dict[str, str]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "ke_hoach"
    ws.append(list(COLUMNS + INFO_COLUMNS))
    for r in plans:
        ws.append([r["indicator"], r["orgunit"], r["year"], _cell(r["target"]), r["name_vi"],
                   r["unit_vi"], names.get(r["orgunit"], "")])  # fmt: skip
    ws.freeze_panes = "A2"
    for col, width in zip("ABCDEFG", (28, 10, 8, 18, 48, 12, 28), strict=True):
        ws.column_dimensions[col].width = width
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
