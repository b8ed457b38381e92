"""A statutory form as an XLSX workbook in the official style: the two header blocks (reporting
unit; national motto), the title, the period, merged column groups with units and column
numbers, the rows, the signature block; a second sheet says where every number came from."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from khoyte.aggregate.metadata import Form, load
from khoyte.aggregate.periods import Period

_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_BOLD = Font(name="Times New Roman", bold=True, size=12)
_PLAIN = Font(name="Times New Roman", size=12)
PROVENANCE_SHEET = "Nguồn số liệu"
HEADER_ROW = 8  # column groups; labels, units and column numbers below; the rows from row 12
FIRST_ROW = HEADER_ROW + 4


def sheet_name(form: Form) -> str:
    return f"Biểu {form.code}"


def fixed_columns(form: Form) -> list[str]:
    """The columns before the values: STT, the row's name, the ICD-10 range (b14) or the unit
    (forms with a unit per row)."""
    fixed = ["STT", form.row_header_vi] + (["Mã ICD-10"] if form.code == "b14" else [])
    return fixed + (["Đơn vị tính"] if any("unit_vi" in r for r in form.rows) else [])


def period_label(p: Period) -> str:
    if p.kind == "year":
        return f"Năm {p.start.year}"
    if p.kind == "quarter":
        return f"Quý {p.iso[-1]} năm {p.start.year}"
    return f"Tháng {p.start.month:02d} năm {p.start.year}"


def render(
    form: Form,
    cells: list[dict[str, Any]],
    period: Period,
    unit_name: str,
    scope_label: str,
    generated: datetime,
) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None  # a new workbook has one sheet
    ws.title = sheet_name(form)
    icd = form.code == "b14"
    units = any("unit_vi" in r for r in form.rows)  # a unit per row (b4–b8, b10, b12)
    fixed = fixed_columns(form)
    # at least four columns: the two header blocks need two each (a form collected whole, b1…,
    # has no rows or columns khoyte knows: its workbook is the blank frame)
    ncols = max(4, len(fixed) + len(form.columns))
    last = get_column_letter(ncols)
    half = max(2, ncols // 2)

    def put(cell: str, value: Any, font: Font = _PLAIN, align: Alignment = _CENTER) -> None:
        ws[cell] = value
        ws[cell].font = font
        ws[cell].alignment = align

    ws.merge_cells(f"A1:{get_column_letter(half)}1")
    put("A1", "SỞ Y TẾ", _BOLD)
    ws.merge_cells(f"A2:{get_column_letter(half)}2")
    put("A2", unit_name, _BOLD)
    right = get_column_letter(half + 1)
    ws.merge_cells(f"{right}1:{last}1")
    put(f"{right}1", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", _BOLD)
    ws.merge_cells(f"{right}2:{last}2")
    put(f"{right}2", "Độc lập - Tự do - Hạnh phúc", _BOLD)
    put(
        f"{last}3",
        f"Biểu {form.code.removeprefix('b')}/BCH-TỈNH",
        Font(name="Times New Roman", italic=True),
    )
    ws.merge_cells(f"A4:{last}4")
    put("A4", form.name_vi.upper(), Font(name="Times New Roman", bold=True, size=14))
    ws.merge_cells(f"A5:{last}5")
    put(
        "A5",
        f"Kỳ báo cáo: {period_label(period)} ({period.start:%d/%m/%Y} – {period.end:%d/%m/%Y})",
    )
    ws.merge_cells(f"A6:{last}6")
    put(
        "A6",
        f"Đơn vị báo cáo: {unit_name} — Đơn vị nhận báo cáo: Bộ Y tế (Vụ Kế hoạch - Tài chính)",
    )
    # header: rows 8 (groups), 9 (labels), 10 (units), 11 (column numbers)
    top = HEADER_ROW
    for i, title in enumerate(fixed, start=1):
        col = get_column_letter(i)
        ws.merge_cells(f"{col}{top}:{col}{top + 2}")
        put(f"{col}{top}", title, _BOLD)
    groups: list[tuple[str, int, int]] = []
    for j, c in enumerate(form.columns, start=len(fixed) + 1):
        g = c.get("group_vi", "")
        if groups and groups[-1][0] == g:
            groups[-1] = (g, groups[-1][1], j)
        else:
            groups.append((g, j, j))
        put(f"{get_column_letter(j)}{top + 1}", c["label_vi"], _BOLD)
        unit = c.get("unit_vi", "")
        put(f"{get_column_letter(j)}{top + 2}", f"({unit})" if unit else "", _PLAIN)
    for g, a, b in groups:
        if b > a:
            ws.merge_cells(f"{get_column_letter(a)}{top}:{get_column_letter(b)}{top}")
        put(f"{get_column_letter(a)}{top}", g, _BOLD)
    letters = ["A", "B", "C"][: len(fixed)]
    for i in range(1, ncols + 1):
        label = letters[i - 1] if i <= len(fixed) else str(i - len(fixed))
        put(f"{get_column_letter(i)}{top + 3}", label, Font(name="Times New Roman", italic=True))
    values = {(c["row"], c["column"]): c["value"] for c in cells}
    r = top + 4
    for n, row in enumerate(form.rows, start=1):
        bold = _BOLD if row.get("total") else _PLAIN
        put(f"A{r}", "" if row.get("total") else n, bold)
        put(f"B{r}", row["label_vi"], bold, Alignment(wrap_text=True, vertical="center"))
        if icd:
            put(f"C{r}", row.get("icd", ""), bold)
        if units:
            put(f"C{r}", row.get("unit_vi", ""), bold)
        for j, c in enumerate(form.columns, start=len(fixed) + 1):
            ws.cell(row=r, column=j, value=values.get((row["code"], c["code"])))
            ws.cell(row=r, column=j).font = bold
            ws.cell(row=r, column=j).number_format = "#,##0"
        r += 1
    for row_cells in ws.iter_rows(min_row=top, max_row=r - 1, max_col=ncols):
        for cell in row_cells:
            cell.border = _BOX
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 44
    for j in range(3, ncols + 1):
        ws.column_dimensions[get_column_letter(j)].width = 14
    r += 1
    ws.merge_cells(f"{right}{r}:{last}{r}")
    put(
        f"{right}{r}",
        "......, ngày ..... tháng ..... năm .......",
        Font(name="Times New Roman", italic=True),
    )
    r += 1
    for text, col_from, col_to in (
        ("NGƯỜI LẬP BIỂU", "A", get_column_letter(half)),
        ("THỦ TRƯỞNG ĐƠN VỊ", right, last),
    ):
        ws.merge_cells(f"{col_from}{r}:{col_to}{r}")
        put(f"{col_from}{r}", text, _BOLD)
    r += 1
    for text, col_from, col_to in (
        ("(Ký, ghi rõ họ tên)", "A", get_column_letter(half)),
        ("(Ký, họ tên, đóng dấu)", right, last),
    ):
        ws.merge_cells(f"{col_from}{r}:{col_to}{r}")
        put(f"{col_from}{r}", text, Font(name="Times New Roman", italic=True))
    ws.print_title_rows = f"{top}:{top + 3}"
    ws.page_setup.orientation = "landscape"
    _provenance(wb, form, cells, period, scope_label, generated)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _provenance(
    wb: Workbook,
    form: Form,
    cells: list[dict[str, Any]],
    period: Period,
    scope_label: str,
    generated: datetime,
) -> None:
    md = load()
    ws = wb.create_sheet(PROVENANCE_SHEET)
    ws.append(["Biểu / form", form.code, form.name_vi, form.name_en])
    ws.append(["Chế độ báo cáo / regime", md.regime])
    ws.append(["Kỳ / period", period.iso, period.start.isoformat(), period.end.isoformat()])
    ws.append(["Phạm vi / scope", scope_label])
    ws.append(["Siêu dữ liệu / metadata version", md.version])
    ws.append(["Lập lúc / generated at (UTC)", generated.isoformat(timespec="seconds")])
    ws.append([])
    ws.append(["Dòng / row", "Cột / column", "Giá trị / value", "Nguồn / source"])
    for c in cells:
        ws.append([c["row"], c["column"], c["value"], c["source"]])
    ws.column_dimensions["D"].width = 90
