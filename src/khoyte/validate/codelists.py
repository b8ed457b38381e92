"""Closed code lists the standard states (notes §6, §8). Lists the Ministry keeps elsewhere and
that were not available (MA_DOITUONG_KCB, MA_KHOA, MA_TAI_NAN) are checked by shape only.
``MA_NHOM`` follows QĐ 5937 PL3 (groups 1–18) plus group 19 added by QĐ 4750."""

from __future__ import annotations


def _r(a: int, b: int, width: int = 1) -> frozenset[str]:
    return frozenset(str(i).zfill(width) for i in range(a, b + 1))


CODE_LISTS: dict[str, dict[str, frozenset[str]]] = {
    "XML0": {"GIOI_TINH": _r(1, 3), "MA_LOAI_KCB": _r(1, 10, 2)},
    "XML1": {
        "GIOI_TINH": _r(1, 3),
        "KET_QUA_DTRI": _r(1, 8),
        "MA_LOAI_RV": _r(1, 5),
        "MA_LOAI_KCB": _r(1, 10, 2),
        "MA_KHUVUC": frozenset({"K1", "K2", "K3"}),
        "NHOM_MAU": frozenset(
            {"O", "A", "B", "AB", "O+", "O-", "A+", "A-", "B+", "B-", "AB+", "AB-"}
        ),
        "MA_LYDO_VVIEN": _r(1, 4),
    },
    "XML2": {
        "PHAM_VI": _r(1, 3),
        "MA_PTTT": _r(1, 3),
        "NGUON_CTRA": _r(1, 4),
        "VET_THUONG_TP": frozenset({"0", "1"}),
        "MA_NHOM": _r(1, 19),
    },
    "XML3": {
        "PHAM_VI": _r(1, 3),
        "MA_PTTT": _r(1, 3),
        "VET_THUONG_TP": frozenset({"0", "1"}),
        "PP_VO_CAM": _r(1, 4),
        "TAI_SU_DUNG": frozenset({"1"}),
        "MA_NHOM": _r(1, 19),
    },
    "XML7": {"MA_DINH_CHI_THAI": _r(0, 1)},
    "XML8": {"KET_QUA_DTRI": _r(1, 8), "MA_LOAI_KCB": _r(1, 10, 2)},
    "XML9": {"GIOI_TINH_CON": _r(1, 3)},
    "XML11": {"MA_DINH_CHI_THAI": _r(0, 1)},
    "XML12": {"CHUC_VU": _r(1, 2)},
    "XML13": {"GIOI_TINH": _r(1, 3), "MA_LOAI_RV": _r(1, 5)},
    "XML14": {"GIOI_TINH": _r(1, 3)},
    "XML15": {
        "PHANLOAI_LAO_VITRI": _r(1, 2),
        "PHANLOAI_LAO_TS": _r(1, 6),
        "PHANLOAI_LAO_HIV": _r(1, 3),
        "PHANLOAI_LAO_VK": _r(1, 2),
        "PHANLOAI_LAO_KT": _r(1, 6),
        "LOAI_DTRI_LAO": _r(0, 3),
    },
}

# Visit types (MA_LOAI_KCB) and what the dashboards call them (notes §6.2).
VISIT_TYPES_VI = {
    "01": "Khám bệnh",
    "02": "Điều trị ngoại trú",
    "03": "Điều trị nội trú",
    "04": "Điều trị nội trú ban ngày",
    "05": "Ngoại trú bệnh mạn tính có khám và lĩnh thuốc",
    "06": "Điều trị lưu tại Trạm Y tế xã/PKĐKKV",
    "07": "Nhận thuốc theo hẹn (không khám)",
    "08": "Ngoại trú bệnh mạn tính có DVKT và/hoặc thuốc",
    "09": "Nội trú dưới 04 giờ",
    "10": "Các trường hợp khác",
}
INPATIENT_TYPES = frozenset({"03", "04", "06", "09"})
