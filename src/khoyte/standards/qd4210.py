"""QĐ 4210/QĐ-BYT (2017): the five tables of the previous generation, and their mapping onto the
QĐ 130 names of the canonical model.

The official 4210 text was not found (notes §10, §14); the field lists come from exporters that
agree with each other, and each field's type and length is taken from its QĐ 130 successor.
Fields with no successor keep their 4210 name in the canonical model.
"""

from __future__ import annotations

from functools import cache

from khoyte.standards.fields import FieldSpec, Kind, TableSpec, qd130_tables

QD4210_FIELDS: dict[str, tuple[str, ...]] = {
    "XML1": (
        "MA_LK",
        "STT",
        "MA_BN",
        "HO_TEN",
        "NGAY_SINH",
        "GIOI_TINH",
        "DIA_CHI",
        "MA_THE",
        "MA_DKBD",
        "GT_THE_TU",
        "GT_THE_DEN",
        "MIEN_CUNG_CT",
        "TEN_BENH",
        "MA_BENH",
        "MA_BENHKHAC",
        "MA_LYDO_VVIEN",
        "MA_NOI_CHUYEN",
        "MA_TAI_NAN",
        "NGAY_VAO",
        "NGAY_RA",
        "SO_NGAY_DTRI",
        "KET_QUA_DTRI",
        "TINH_TRANG_RV",
        "NGAY_TTOAN",
        "T_THUOC",
        "T_VTYT",
        "T_TONGCHI",
        "T_BNTT",
        "T_BNCCT",
        "T_BHTT",
        "T_NGUONKHAC",
        "T_NGOAIDS",
        "NAM_QT",
        "THANG_QT",
        "MA_LOAI_KCB",
        "MA_KHOA",
        "MA_CSKCB",
        "MA_KHUVUC",
        "MA_PTTT_QT",
        "CAN_NANG",
    ),
    "XML2": (
        "MA_LK",
        "STT",
        "MA_THUOC",
        "MA_NHOM",
        "TEN_THUOC",
        "DON_VI_TINH",
        "HAM_LUONG",
        "DUONG_DUNG",
        "LIEU_DUNG",
        "SO_DANG_KY",
        "TT_THAU",
        "PHAM_VI",
        "TYLE_TT",
        "SO_LUONG",
        "DON_GIA",
        "THANH_TIEN",
        "MUC_HUONG",
        "T_NGUONKHAC",
        "T_BNTT",
        "T_BHTT",
        "T_BNCCT",
        "T_NGOAIDS",
        "MA_KHOA",
        "MA_BAC_SI",
        "MA_BENH",
        "NGAY_YL",
        "MA_PTTT",
    ),
    "XML3": (
        "MA_LK",
        "STT",
        "MA_DICH_VU",
        "MA_VAT_TU",
        "MA_NHOM",
        "GOI_VTYT",
        "TEN_VAT_TU",
        "TEN_DICH_VU",
        "DON_VI_TINH",
        "PHAM_VI",
        "SO_LUONG",
        "DON_GIA",
        "TT_THAU",
        "TYLE_TT",
        "THANH_TIEN",
        "T_TRANTT",
        "MUC_HUONG",
        "T_NGUONKHAC",
        "T_BNTT",
        "T_BHTT",
        "T_BNCCT",
        "T_NGOAIDS",
        "MA_KHOA",
        "MA_GIUONG",
        "MA_BAC_SI",
        "MA_BENH",
        "NGAY_YL",
        "NGAY_KQ",
        "MA_PTTT",
    ),
    "XML4": (
        "MA_LK",
        "STT",
        "MA_DICH_VU",
        "MA_CHI_SO",
        "TEN_CHI_SO",
        "GIA_TRI",
        "MA_MAY",
        "MO_TA",
        "KET_LUAN",
        "NGAY_KQ",
    ),
    "XML5": ("MA_LK", "STT", "DIEN_BIEN", "HOI_CHAN", "PHAU_THUAT", "NGAY_YL"),
}

# 4210 name → canonical (QĐ 130) names it fills. One 4210 field may fill two canonical fields
# (4210 had one price and one amount where 130 distinguishes the hospital's and the fund's).
RENAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "XML1": {
        "MA_THE": ("MA_THE_BHYT",),
        "MIEN_CUNG_CT": ("NGAY_MIEN_CCT",),
        "TEN_BENH": ("CHAN_DOAN_RV",),
        "MA_BENH": ("MA_BENH_CHINH",),
        "MA_BENHKHAC": ("MA_BENH_KT",),
        "MA_NOI_CHUYEN": ("MA_NOI_DI",),
        "TINH_TRANG_RV": ("MA_LOAI_RV",),
        "T_TONGCHI": ("T_TONGCHI_BV", "T_TONGCHI_BH"),
    },
    "XML2": {"TYLE_TT": ("TYLE_TT_BH",), "THANH_TIEN": ("THANH_TIEN_BV", "THANH_TIEN_BH")},
    "XML3": {
        "TYLE_TT": ("TYLE_TT_BH",),
        "DON_GIA": ("DON_GIA_BV", "DON_GIA_BH"),
        "THANH_TIEN": ("THANH_TIEN_BV", "THANH_TIEN_BH"),
    },
    "XML4": {},
    "XML5": {"DIEN_BIEN": ("DIEN_BIEN_LS",), "NGAY_YL": ("THOI_DIEM_DBLS",)},
}

# 4210 fields with no QĐ 130 successor: kept under their own name, with this spec.
_OWN: dict[str, tuple[str, int | None, Kind]] = {
    "MA_LYDO_VVIEN": ("number", 1, Kind.CODE),
    "T_NGOAIDS": ("number", 15, Kind.DECIMAL),
    "MA_MAY": ("string", 1024, Kind.TEXT),
    "MA_BENH": ("string", 100, Kind.LIST),  # XML2/XML3 MA_BENH (XML1 MA_BENH is renamed)
}


def canonical_names(table: str, name: str) -> tuple[str, ...]:
    return RENAMES.get(table, {}).get(name, (name,))


@cache
def qd4210_tables() -> dict[str, TableSpec]:
    titles = {
        "XML1": "Chỉ tiêu tổng hợp KBCB (QĐ 4210)",
        "XML2": "Chi tiết thuốc (QĐ 4210)",
        "XML3": "Chi tiết DVKT và VTYT (QĐ 4210)",
        "XML4": "Chi tiết cận lâm sàng (QĐ 4210)",
        "XML5": "Diễn biến lâm sàng (QĐ 4210)",
    }
    out: dict[str, TableSpec] = {}
    for table, names in QD4210_FIELDS.items():
        successor = qd130_tables()[table]
        fields = []
        for no, name in enumerate(names, start=1):
            target = canonical_names(table, name)[0]
            spec = successor.field(target)
            if spec is not None and not (name in _OWN and target == name):
                kind = spec.kind
                if table == "XML1" and name == "MA_LOAI_KCB":
                    kind = Kind.CODE
                fields.append(
                    FieldSpec(
                        table,
                        name,
                        no,
                        spec.type,
                        spec.max_length,
                        kind,
                        spec.required_hint,
                        spec.description_vi,
                    )
                )
            else:
                type_, max_, kind = _OWN[name]
                fields.append(FieldSpec(table, name, no, type_, max_, kind, False, ""))
        out[table] = TableSpec(table, titles[table], tuple(fields))
    return out
