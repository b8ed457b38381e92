"""Field specifications of every table, as data.

QĐ 130 + 4750 specs are generated from the Ministry's appendix (``data/qd130_fields.json``, made by
``tools/gen_fieldspecs.py``). Each field also gets a *kind* — how khoyte reads its text — decided
here once, from its type, its length and the wording of the standard (§5 of the notes): codes stay
strings with their leading zeros, money and quantities become ``Decimal``, timestamps datetimes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources


class Kind(StrEnum):
    TEXT = "text"  # free text or identifier, kept as written
    CODE = "code"  # a code from a list; a string, leading zeros kept
    INT = "int"  # a count or ordinal (STT, SO_NGAY_DTRI, NAM_QT …)
    DECIMAL = "decimal"  # money, quantities, prices, ratios
    DATE = "date"  # yyyymmdd
    DATETIME = "datetime"  # yyyymmddHHMM (8 digits tolerated: time unknown)
    BIRTH = "birth"  # NGAY_SINH: yyyymmddHHMM where day/month may be 00 (partial date)
    DATE_LIST = "date_list"  # ';'-separated yyyymmdd (GT_THE_TU, NGAY_TAI_KHAM …)
    LIST = "list"  # ';'-separated codes (MA_THE_BHYT, MA_BENH_KT, MA_KHOA …)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    table: str
    name: str
    no: int | None
    type: str  # "string" | "number" as the standard says (after QĐ 4750)
    max_length: int | None
    kind: Kind
    required_hint: bool
    description_vi: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    table: str  # "XML0" … "XML15"
    title_vi: str
    fields: tuple[FieldSpec, ...]
    by_name: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({f.name: f for f in self.fields})

    def field(self, name: str) -> FieldSpec | None:
        return self.by_name.get(name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


# Numeric fields that are counts or ordinals rather than amounts.
_INT_FIELDS = frozenset(
    {
        "STT",
        "SO_NGAY_DTRI",
        "NAM_QT",
        "THANG_QT",
        "TUOI_THAI",
        "SO_NGAY_NGHI",
        "SO_CON",
        "LAN_SINH",
        "SO_CON_SONG",
        "SO_CONCHET",
        "SO_NGAY",
        "SO_NGAY_CAP_THUOC_ARV",
        "LAN_XN_PCR",
        "VI_TRI_TH_DVKT",
        "TYLE_TT_BH",
        "TYLE_TT_DV",
        "MUC_HUONG",
        "TYLE_TT",
        "TYLE_TTCT",
    }
)

# Numeric fields whose value is a code from a list (kept as strings).
_CODE_NUMBER_FIELDS = frozenset(
    {
        "GIOI_TINH",
        "KET_QUA_DTRI",
        "MA_LOAI_RV",
        "MA_TAI_NAN",
        "PHAM_VI",
        "MA_PTTT",
        "NGUON_CTRA",
        "VET_THUONG_TP",
        "PP_VO_CAM",
        "TAI_SU_DUNG",
        "MA_NHOM",
        "MA_LOAI_KCB",
        "MA_DINH_CHI_THAI",
        "CHUC_VU",
        "GIOI_TINH_CON",
        "TINH_TRANG_CON",
        "SINHCON_PHAUTHUAT",
        "SINHCON_DUOI32TUAN",
        "MA_LOAI_BN",
        "GIAI_DOAN_LAM_SANG",
        "NHOM_DOI_TUONG",
        "MA_TINH_TRANG_DK",
        "MA_KQ_XN_PCR",
        "MA_LYDO_DTRI",
        "LOAI_DTRI_LAO",
        "SANG_LOC_LAO",
        "KQ_DTRI_LAO",
        "MA_LYDO_XNTL_VR",
        "KQ_XNTL_VR",
        "BDDT_ARV",
        "MA_BAC_PHAC_DO_BD",
        "MA_BAC_PHAC_DO",
        "PHANLOAI_LAO_VITRI",
        "PHANLOAI_LAO_TS",
        "PHANLOAI_LAO_HIV",
        "PHANLOAI_LAO_VK",
        "PHANLOAI_LAO_KT",
        "KET_QUA_DTRI_LAO",
        "PHACDO_DTRI_LAO",
        "MA_XU_TRI",
        "DANG_KY_DTRI_ARV",
        "KET_LUAN_GD",
        "TY_LE_TTCT",
        "CO_SO_CHUYEN_DEN",
        "LY_DO_CHUYEN_TUYEN",
        "MA_LYDO_CT",
        "HINH_THUC_CHUYEN",
        "MA_PHUONG_TIEN",
        "LOAI_GDYK",
        "SO_LAN_GD",
    }
)

# Text fields holding ';'-separated lists (standard §5).
_LIST_FIELDS = frozenset(
    {
        "MA_THE_BHYT",
        "MA_DKBD",
        "MA_BENH_KT",
        "MA_BENH_YHCT",
        "MA_PTTT_QT",
        "MA_KHOA",
        "MA_GIUONG",
        "MA_BAC_SI",
        "NGUOI_THUC_HIEN",
        "CAN_NANG_CON",
        "MA_BENH",
    }
)

# Date fields that may hold several dates.
_DATE_LIST_FIELDS = frozenset({"GT_THE_TU", "GT_THE_DEN", "NGAY_TAI_KHAM"})

# Text fields that are codes (no free text): kept exactly, checked by shape or list.
_CODE_TEXT_FIELDS = frozenset(
    {
        "MA_LOAI_KCB",
        "MA_DOITUONG_KCB",
        "MA_KHUVUC",
        "MA_QUOCTICH",
        "MA_DANTOC",
        "MA_NGHE_NGHIEP",
        "MATINH_CU_TRU",
        "MAHUYEN_CU_TRU",
        "MAXA_CU_TRU",
        "MA_CSKCB",
        "MA_NOI_DI",
        "MA_NOI_DEN",
        "MA_BENH_CHINH",
        "NHOM_MAU",
        "MA_LY_DO_VNT",
        "DUONG_DUNG",
    }
)

_DATE_PREFIXES = ("NGAY", "GT_THE", "THOI_DIEM", "THOIGIAN", "TU_NGAY", "DEN_NGAY")
_DATE_NAMES = frozenset({"NGOAITRU_TUNGAY", "NGOAITRU_DENNGAY", "BDDT_ARV_NGAY"})
# Fields named like dates but holding something else.
_NOT_DATES = frozenset({"NGAY_SINHCON_SONG", "NGAY_CONCHET_TEXT", "NGAYCAP_CCCD_NND_TEXT"})


# Identifiers the standard once typed as numbers: kept as text (leading zeros, letters).
_IDENTIFIERS = frozenset({"SO_CCCD", "DIEN_THOAI", "MA_TTDV", "SO_CCCD_NND"})


def _kind(name: str, type_: str, max_length: int | None) -> Kind:
    if name in _IDENTIFIERS:
        return Kind.TEXT
    if name in _DATE_LIST_FIELDS:
        return Kind.DATE_LIST
    if name == "NGAY_SINH" and max_length == 12:
        return Kind.BIRTH
    looks_date = (name.startswith(_DATE_PREFIXES) or name in _DATE_NAMES) and name not in _NOT_DATES
    if looks_date and max_length in (8, 12):
        return Kind.DATETIME if max_length == 12 else Kind.DATE
    if name in _LIST_FIELDS and type_ == "string":
        return Kind.LIST
    if type_ == "number":
        if name in _CODE_NUMBER_FIELDS:
            return Kind.CODE
        if name in _INT_FIELDS or name.startswith(("TYLE_", "TONG_TYLE")):
            return Kind.INT
        if max_length is not None and max_length <= 2:
            return Kind.CODE  # one- or two-digit numbers in the standard are codes
        return Kind.DECIMAL
    if name in _CODE_TEXT_FIELDS:
        return Kind.CODE
    return Kind.TEXT


@cache
def qd130_tables() -> dict[str, TableSpec]:
    """All 16 tables of QĐ 130 as amended by QĐ 4750, keyed ``XML0`` … ``XML15``."""
    raw = json.loads(
        resources.files("khoyte.standards").joinpath("data/qd130_fields.json").read_text("utf-8")
    )
    tables: dict[str, TableSpec] = {}
    for key, table in raw.items():
        fields = tuple(
            FieldSpec(
                table=key,
                name=f["name"],
                no=f["no"],
                type=f["type"],
                max_length=f["max"],
                kind=_kind(f["name"], f["type"], f["max"]),
                required_hint=f["required_hint"].startswith("x"),
                description_vi=f["description_vi"],
            )
            for f in table["fields"]
        )
        tables[key] = TableSpec(table=key, title_vi=table["title_vi"], fields=fields)
    return tables
