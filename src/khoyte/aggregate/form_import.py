"""Reading a statutory form's own workbook back (issue 13, item 3: "the official form layout").

The workbook is the one ``GET /api/v1/forms/{code}.xlsx`` generates (``aggregate/workbook.py``):
a specialist downloads it, writes the rows the province writes itself (the elements of the data
set :data:`FORM_DATASET`) and uploads it like any aggregate file. The form, period and org unit
come from the sheet "Nguồn số liệu" (form code, period, scope); each row is checked against the
form's row label, so a shifted or foreign sheet is refused rather than read into the wrong
element. Rows filled from the claims or summed from other reports are computed, not read. The
upload is all-or-nothing through :func:`khoyte.aggregate.store.store`, and its receipt names the
sheet, row, column and value of every problem.
"""

from __future__ import annotations

from typing import Any

from openpyxl.utils import get_column_letter

from khoyte.aggregate.metadata import load
from khoyte.aggregate.store import Cell, Problem, problem
from khoyte.aggregate.workbook import FIRST_ROW, PROVENANCE_SHEET, fixed_columns, sheet_name

FORM_DATASET = "bieu_tinh"  # the rows a province writes on its forms (metadata.toml)


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def read_form(wb: Any) -> tuple[list[Cell], list[Problem]]:
    """Cells and problems of a form workbook (``wb`` open with ``data_only``)."""
    md = load()
    prov = {str(r[0]): r[1:] for r in wb[PROVENANCE_SHEET].iter_rows(max_row=6, values_only=True)
            if r and r[0]}  # fmt: skip
    code = _text((prov.get("Biểu / form") or ("",))[0])
    period = _text((prov.get("Kỳ / period") or ("",))[0])
    unit = _text((prov.get("Phạm vi / scope") or ("",))[0])
    form = md.forms.get(code)
    if form is None:
        return [], [problem("unknown_form", PROVENANCE_SHEET, 1, "B", code)]
    name = sheet_name(form)
    if name not in wb.sheetnames:
        return [], [problem("missing_sheet", name)]
    rows = list(wb[name].iter_rows(min_row=FIRST_ROW, max_row=FIRST_ROW + len(form.rows) - 1,
                                   values_only=True))  # fmt: skip
    first = len(fixed_columns(form))  # index of the first value column (0-based)
    cells: list[Cell] = []
    problems: list[Problem] = []
    for i, row in enumerate(form.rows):
        r = FIRST_ROW + i
        got = list(rows[i]) if i < len(rows) else []
        label = _text(got[1]) if len(got) > 1 else ""
        if label != row["label_vi"]:
            problems.append(problem("layout", name, r, "B", label))
            continue
        element = row.get("element")
        if not element or md.elements[element].dataset != FORM_DATASET:
            continue  # computed: from the claims or summed from other reports
        for j in range(len(form.columns)):
            raw = _text(got[first + j]) if first + j < len(got) else ""
            if raw == "":
                continue  # not written
            letter = get_column_letter(first + j + 1)
            places = ((r, "B"), (r, letter), (5, "A"), (6, "A"), (r, letter))
            cells.append(Cell(element, row.get("option", ""), period, unit, raw, name, r, letter,
                              places))  # fmt: skip
    return cells, problems
