"""Reading aggregate uploads into cells (issue 13, item 3): the synth's layouts.

- CSV, long: ``bao_cao, thang, ma_don_vi, ten_don_vi, chi_tieu, nhom, gia_tri`` (one value a
  line; ``thang`` ``2025-01``).
- XLSX, wide: one sheet per report; row 1 the report's title and the month, row 2
  ``ma_don_vi, ten_don_vi`` then one column per ``chi_tieu|nhom``; one line per unit; a blank
  cell is a value not reported.
- XLSX, a statutory form's own workbook (it has the sheet "Nguồn số liệu"):
  :mod:`khoyte.aggregate.form_import`.

Every cell remembers where it was read (sheet, row, column), so a receipt names the place of
every problem. Storing is :func:`khoyte.aggregate.store.store` (all-or-nothing).
"""

from __future__ import annotations

import csv
import io
import zipfile
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from khoyte.aggregate.form_import import read_form
from khoyte.aggregate.store import Cell, Problem, problem
from khoyte.aggregate.workbook import PROVENANCE_SHEET

CSV_COLUMNS = ("bao_cao", "thang", "ma_don_vi", "ten_don_vi", "chi_tieu", "nhom", "gia_tri")


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _places(n: int) -> tuple[tuple[int, str], ...]:
    return tuple((n, c) for c in ("chi_tieu", "nhom", "thang", "ma_don_vi", "gia_tri"))


def read_csv(data: bytes, name: str = "csv") -> tuple[list[Cell], list[Problem]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [problem("unreadable", name)]
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(h.strip() for h in rows[0]) != CSV_COLUMNS:
        return [], [problem("bad_header", name, 1, "", ",".join(rows[0]) if rows else "")]
    cells = []
    problems = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(x.strip() for x in row):
            continue
        if len(row) != len(CSV_COLUMNS):
            problems.append(problem("bad_header", name, n, "", ",".join(row)))
            continue
        rec = dict(zip(CSV_COLUMNS, (x.strip() for x in row), strict=True))
        cells.append(
            Cell(rec["chi_tieu"], rec["nhom"], rec["thang"], rec["ma_don_vi"], rec["gia_tri"],
                 name, n, "gia_tri", _places(n))
        )  # fmt: skip
    return cells, problems


def read_xlsx(data: bytes, name: str = "xlsx") -> tuple[list[Cell], list[Problem]]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        return [], [problem("unreadable", name)]
    cells: list[Cell] = []
    problems: list[Problem] = []
    try:
        if PROVENANCE_SHEET in wb.sheetnames:  # a form's own workbook
            return read_form(wb)
        for ws in wb.worksheets:
            rows = list(ws.iter_rows(values_only=True))
            if len(rows) < 2:
                continue
            month = _text(rows[0][1]) if len(rows[0]) > 1 else ""
            header = [_text(h) for h in rows[1]]
            if header[:2] != ["ma_don_vi", "ten_don_vi"]:
                problems.append(problem("bad_header", ws.title, 2, "A", ",".join(header[:2])))
                continue
            columns = []
            for j, h in enumerate(header[2:], start=3):
                element, _, coc = h.partition("|")
                columns.append((j, element, coc))
            for i, row in enumerate(rows[2:], start=3):
                unit = _text(row[0]) if row else ""
                if not unit:
                    continue
                for j, element, coc in columns:
                    raw = row[j - 1] if j - 1 < len(row) else None
                    if raw is None or _text(raw) == "":
                        continue  # a blank cell: not reported (DHIS2 stores no value either)
                    letter = get_column_letter(j)
                    places = ((2, letter), (2, letter), (1, "B"), (i, "A"), (i, letter))
                    cells.append(Cell(element, coc, month, unit, _text(raw), ws.title, i, letter,
                                      places))  # fmt: skip
    finally:
        wb.close()
    return cells, problems


def read(data: bytes, filename: str) -> tuple[str, list[Cell], list[Problem]]:
    """(format, cells, problems) of an upload, by its content: an XLSX is a zip archive."""
    if data[:4] == b"PK\x03\x04":
        return "xlsx", *read_xlsx(data, filename)
    return "csv", *read_csv(data, filename)
