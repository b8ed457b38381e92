"""Where each table's records sit inside its XML document (BHXH templates, notes §4 and §10)."""

from __future__ import annotations

from dataclasses import dataclass

from khoyte.standards.model import Standard


@dataclass(frozen=True, slots=True)
class Layout:
    table: str
    root: str
    record: str  # the record element; equals ``root`` for single-record tables
    list_: str | None = None  # the list element between root and records, if any

    @property
    def single(self) -> bool:
        return self.record == self.root


QD130_LAYOUTS: dict[str, Layout] = {
    layout.table: layout
    for layout in (
        Layout("XML0", "CHI_TIEU_TRANG_THAI_KCB", "TRANG_THAI_KCB", "DSACH_TRANG_THAI_KCB"),
        Layout("XML1", "TONG_HOP", "TONG_HOP"),
        Layout("XML2", "CHITIEU_CHITIET_THUOC", "CHI_TIET_THUOC", "DSACH_CHI_TIET_THUOC"),
        Layout("XML3", "CHITIEU_CHITIET_DVKT_VTYT", "CHI_TIET_DVKT", "DSACH_CHI_TIET_DVKT"),
        Layout("XML4", "CHITIEU_CHITIET_DICHVUCANLAMSANG", "CHI_TIET_CLS", "DSACH_CHI_TIET_CLS"),
        Layout(
            "XML5",
            "CHITIEU_CHITIET_DIENBIENLAMSANG",
            "CHI_TIET_DIEN_BIEN_BENH",
            "DSACH_CHI_TIET_DIEN_BIEN_BENH",
        ),
        Layout(
            "XML6",
            "CHI_TIEU_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
            "HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
            "DSACH_HO_SO_BENH_AN_CHAM_SOC_VA_DIEU_TRI_HIV_AIDS",
        ),
        Layout("XML7", "CHI_TIEU_DU_LIEU_GIAY_RA_VIEN", "CHI_TIEU_DU_LIEU_GIAY_RA_VIEN"),
        Layout(
            "XML8",
            "CHI_TIEU_DU_LIEU_TOM_TAT_HO_SO_BENH_AN",
            "CHI_TIEU_DU_LIEU_TOM_TAT_HO_SO_BENH_AN",
        ),
        Layout(
            "XML9",
            "CHI_TIEU_DU_LIEU_GIAY_CHUNG_SINH",
            "DU_LIEU_GIAY_CHUNG_SINH",
            "DSACH_GIAYCHUNGSINH",
        ),
        Layout(
            "XML10",
            "CHI_TIEU_DU_LIEU_GIAY_NGHI_DUONG_THAI",
            "CHI_TIEU_DU_LIEU_GIAY_NGHI_DUONG_THAI",
        ),
        Layout(
            "XML11",
            "CHI_TIEU_DU_LIEU_GIAY_CHUNG_NHAN_NGHI_VIEC_HUONG_BAO_HIEM_XA_HOI",
            "CHI_TIEU_DU_LIEU_GIAY_CHUNG_NHAN_NGHI_VIEC_HUONG_BAO_HIEM_XA_HOI",
        ),
        Layout("XML12", "CHI_TIEU_GIAM_DINH_YKHOA", "GIAM_DINH_YKHOA", "DSACH_GIAM_DINH_YKHOA"),
        Layout("XML13", "CHI_TIEU_GIAYCHUYENTUYEN", "CHI_TIEU_GIAYCHUYENTUYEN"),
        Layout("XML14", "CHI_TIEU_GIAYHEN_KHAMLAI", "CHI_TIEU_GIAYHEN_KHAMLAI"),
        Layout(
            "XML15",
            "CHI_TIEU_DIEUTRI_BENHLAO",
            "CHITIET_DIEUTRI_BENHLAO",
            "DSACH_CHITIET_DIEUTRI_BENHLAO",
        ),
    )
}

# QĐ 4210 had no outer CHITIEU_ wrapper: the list element is the root.
QD4210_LAYOUTS: dict[str, Layout] = {
    layout.table: layout
    for layout in (
        Layout("XML1", "TONG_HOP", "TONG_HOP"),
        Layout("XML2", "DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC"),
        Layout("XML3", "DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT"),
        Layout("XML4", "DSACH_CHI_TIET_CLS", "CHI_TIET_CLS"),
        Layout("XML5", "DSACH_CHI_TIET_DIEN_BIEN_BENH", "CHI_TIET_DIEN_BIEN_BENH"),
    )
}

# Tables a claim envelope (GIAMDINHHS) may carry; XML0 and XML12 travel as their own documents.
ENVELOPE_TABLES = (
    "XML1",
    "XML2",
    "XML3",
    "XML4",
    "XML5",
    "XML6",
    "XML7",
    "XML8",
    "XML9",
    "XML10",
    "XML11",
    "XML13",
    "XML14",
    "XML15",
)

ENVELOPE_ROOT = "GIAMDINHHS"
CHECKIN_ROOT = QD130_LAYOUTS["XML0"].root
XML12_ROOT = QD130_LAYOUTS["XML12"].root


def layouts(standard: Standard) -> dict[str, Layout]:
    return QD130_LAYOUTS if standard is Standard.QD130 else QD4210_LAYOUTS
