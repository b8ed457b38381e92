"""A person's health record as a readable PDF (issue 14 §3: "a person's own export … and a
readable PDF"), in Vietnamese with its diacritics: fpdf2 with the Roboto TrueType font from the
``font-roboto`` wheel, embedded (subset) in the file — no font of the machine, no network.

The content is the health record of :func:`khoyte.persons.record.health_record` (what the JSON
and the FHIR Bundle carry): who, then each visit in date order with its diagnoses, drugs,
services, lab results, referrals, appointments and births.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import font_roboto  # type: ignore[import-untyped]
from fpdf import FPDF

FONTS = Path(font_roboto.font_directory)
DEMOGRAPHICS = {
    "HO_TEN": "Họ và tên / Name",
    "NGAY_SINH": "Ngày sinh / Date of birth",
    "GIOI_TINH": "Giới tính / Sex",
    "SO_CCCD": "Số CCCD / Citizen ID",
    "MA_THE_BHYT": "Mã thẻ BHYT / Insurance card",
    "DIA_CHI": "Địa chỉ / Address",
    "DIEN_THOAI": "Điện thoại / Phone",
}
SEX = {"1": "Nam / male", "2": "Nữ / female", "3": "Chưa xác định / unknown"}
SECTIONS = {
    "drugs": ("Thuốc / Drugs", ("TEN_THUOC", "HAM_LUONG", "SO_LUONG", "DON_VI_TINH", "LIEU_DUNG")),
    "services": ("Dịch vụ kỹ thuật / Services", ("TEN_DICH_VU", "TEN_VAT_TU", "SO_LUONG")),
    "lab_results": ("Xét nghiệm / Lab results", ("TEN_CHI_SO", "GIA_TRI", "DON_VI_DO", "KET_LUAN")),
    "referrals": ("Chuyển tuyến / Referrals", ("MA_NOI_DEN", "CHAN_DOAN_RV", "HUONG_DIEU_TRI")),
    "appointments": ("Hẹn khám lại / Appointments", ("NGAY_HEN_KL", "CHAN_DOAN_RV")),
    "births": ("Sinh con / Births", ("HO_TEN_CON", "GIOI_TINH_CON", "CAN_NANG_CON", "NGAY_SINH_CON")),
}  # fmt: skip


def _t(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return unicodedata.normalize("NFC", text)


def _day(value: Any) -> str:
    """``2025-08-01T08:00`` → ``01/08/2025 08:00``; a birth date ``19900504`` → ``04/05/1990``
    (``00``: unknown day or month, left out)."""
    text = str(value or "")
    if len(text) == 8 and text.isdigit():
        parts = [p for p in (text[6:], text[4:6]) if p != "00"]
        return "/".join([*parts, text[:4]])
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return text
    return t.strftime("%d/%m/%Y %H:%M" if "T" in text else "%d/%m/%Y")


class _Doc(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Roboto", size=8)
        self.cell(0, 5, f"Trang / page {self.page_no()}/{{nb}}", align="C")


def render(rec: dict[str, Any], facility_names: dict[str, str], printed: datetime) -> bytes:
    pdf = _Doc(format="A4")
    pdf.add_font("Roboto", "", str(FONTS / "Roboto-Regular.ttf"))
    pdf.add_font("Roboto", "B", str(FONTS / "Roboto-Bold.ttf"))
    pdf.set_title(f"Hồ sơ sức khỏe {rec['health_id']}")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    w = pdf.epw

    def line(text: str, size: float = 10, bold: bool = False, indent: float = 0) -> None:
        pdf.set_font("Roboto", "B" if bold else "", size)
        pdf.set_x(pdf.l_margin + indent)
        pdf.multi_cell(w - indent, size * 0.5, _t(text), new_x="LMARGIN", new_y="NEXT")

    line("Hồ sơ sức khỏe cá nhân / Personal health record", 16, bold=True)
    line(f"Mã định danh y tế / health ID: {rec['health_id']}", 11)
    line(f"In ngày / printed {printed.strftime('%d/%m/%Y %H:%M')} (UTC)", 8)
    pdf.ln(2)
    demo = rec.get("demographics", {})
    for key, label in DEMOGRAPHICS.items():
        if key in demo:
            value = demo[key]
            value = _day(value) if key == "NGAY_SINH" else SEX.get(str(value), value)
            line(f"{label}: {_t(value)}", 10)
    pdf.ln(2)
    visits = rec.get("visits", [])
    line(f"Các lần khám chữa bệnh / visits ({len(visits)})", 13, bold=True)
    for v in visits:
        pdf.ln(1.5)
        fac = v.get("MA_CSKCB", "")
        when = _day(v.get("NGAY_VAO"))
        if v.get("NGAY_RA"):
            when += f" – {_day(v['NGAY_RA'])}"
        line(f"{when} · {facility_names.get(fac, fac)} ({fac})", 10.5, bold=True)
        codes = " ".join(_t(v[k]) for k in ("MA_BENH_CHINH", "MA_BENH_KT") if v.get(k))
        if codes or v.get("CHAN_DOAN_RV"):
            line(f"Chẩn đoán / diagnosis: {codes} {_t(v.get('CHAN_DOAN_RV', ''))}", 9.5, indent=4)
        for key, (title, fields) in SECTIONS.items():
            for row in v.get(key, []):
                shown = [_day(row[f]) if f.startswith("NGAY") else _t(row[f])
                         for f in fields if f in row]  # fmt: skip
                line(f"{title}: {' · '.join(shown)}", 9, indent=4)
    pdf.ln(3)
    line("Bản in theo quyền được cung cấp dữ liệu cá nhân của chủ thể dữ liệu (Nghị định "
         "13/2023/NĐ-CP, Điều 9, 14). / Printed under the data subject's right to a copy of "
         "their personal data.", 8)  # fmt: skip
    return bytes(pdf.output())
