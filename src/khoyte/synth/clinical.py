"""What happens at a visit: diagnoses (WHO ICD-10) by age, sex, season and facility profile, and
the drugs, services and lab results that go with them. Catalogs are small and illustrative; their
prices are of the order of the BHYT price lists (TT 22/2023/TT-BYT), in VND."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

# Month multipliers (January first) for the Mekong delta: cool dry months bring respiratory
# infections and influenza, the rainy season (May–November) dengue, spring and autumn
# hand-foot-mouth disease, hot months diarrhoea.
SEASONS: dict[str, tuple[float, ...]] = {
    "": (1.0,) * 12,
    "resp": (1.35, 1.3, 1.15, 0.95, 0.9, 0.95, 1.0, 1.0, 1.05, 1.1, 1.15, 1.3),
    "flu": (1.7, 1.5, 1.1, 0.8, 0.7, 0.8, 1.0, 1.0, 0.9, 0.9, 1.1, 1.5),
    "dengue": (0.45, 0.3, 0.25, 0.3, 0.5, 0.9, 1.5, 1.9, 2.1, 1.8, 1.2, 0.8),
    "hfmd": (0.6, 0.6, 0.9, 1.2, 1.3, 1.0, 0.8, 0.8, 1.2, 1.4, 1.3, 0.9),
    "diarr": (0.85, 0.85, 1.0, 1.15, 1.25, 1.2, 1.1, 1.1, 1.0, 0.9, 0.85, 0.85),
}
# Age groups used by the case-mix table: 0-4, 5-14, 15-44, 45-64, 65+.
AGE_GROUPS = (5, 15, 45, 65)


def age_group(age: int) -> int:
    for i, limit in enumerate(AGE_GROUPS):
        if age < limit:
            return i
    return len(AGE_GROUPS)


@dataclass(frozen=True, slots=True)
class Dx:
    code: str
    name: str  # Vietnamese label, as CHAN_DOAN_RV shows it
    weight: float  # share of all visits (percent, before age/season/profile factors)
    ages: tuple[float, float, float, float, float]
    sex: str  # "A" any, "F", "M"
    season: str
    severity: int  # 0 outpatient care, 1 sometimes admitted, 2 usually admitted
    chronic: bool  # managed with monthly refills and appointments
    drugs: tuple[str, ...]  # drug classes
    tests: tuple[str, ...]  # lab/imaging keys
    procedure: str | None = None


# fmt: off
# Age profiles: flat, older adults, women of childbearing age, young children.
_K, _O, _M, _Y = (1.0, 1.0, 1.0, 1.0, 1.0), (0.0, 0.0, 0.4, 1.5, 3.0), (0.0, 0.0, 1.0, 0.3, 0.0), (3.0, 2.0, 0.5, 0.4, 0.4)
DIAGNOSES: tuple[Dx, ...] = (
    Dx("J00", "Viêm mũi họng cấp", 5.0, (3.0, 2.0, 0.7, 0.5, 0.5), "A", "resp", 0, False, ("resp",), ()),
    Dx("J02.9", "Viêm họng cấp", 5.0, (1.5, 2.0, 1.0, 0.7, 0.6), "A", "resp", 0, False, ("resp", "antibiotic"), ()),
    Dx("J03.9", "Viêm amidan cấp", 2.0, (1.5, 2.5, 0.8, 0.4, 0.3), "A", "resp", 0, False, ("resp", "antibiotic"), ()),
    Dx("J06.9", "Nhiễm trùng đường hô hấp trên cấp", 6.0, _Y, "A", "resp", 0, False, ("resp",), ("cbc",)),
    Dx("J20.9", "Viêm phế quản cấp", 4.0, (2.0, 1.2, 0.7, 1.0, 1.5), "A", "resp", 1, False, ("resp", "antibiotic"), ("xray",)),
    Dx("J18.9", "Viêm phổi", 1.5, (3.0, 0.8, 0.3, 0.8, 2.5), "A", "resp", 2, False, ("iv", "resp"), ("cbc", "crp", "xray")),
    Dx("J21.9", "Viêm tiểu phế quản cấp", 0.8, (6.0, 0.2, 0.0, 0.0, 0.0), "A", "resp", 2, False, ("resp", "iv"), ("cbc", "xray")),
    Dx("J11.1", "Cúm", 1.0, _K, "A", "flu", 0, False, ("resp",), ()),
    Dx("J45.9", "Hen phế quản", 1.0, (0.5, 1.5, 0.8, 1.2, 1.4), "A", "", 1, True, ("asthma",), ()),
    Dx("J44.9", "Bệnh phổi tắc nghẽn mạn tính", 1.2, (0.0, 0.0, 0.2, 1.5, 3.0), "M", "resp", 1, True, ("asthma",), ("xray",)),
    Dx("A09", "Tiêu chảy, viêm dạ dày ruột do nhiễm trùng", 3.0, (3.0, 1.5, 0.8, 0.6, 0.8), "A", "diarr", 1, False, ("gi",), ()),
    Dx("A97.0", "Sốt xuất huyết Dengue không có dấu hiệu cảnh báo", 0.6, (0.5, 2.0, 1.3, 0.6, 0.3), "A", "dengue", 1, False, ("fever",), ("cbc", "ns1")),
    Dx("A97.1", "Sốt xuất huyết Dengue có dấu hiệu cảnh báo", 0.15, (0.5, 2.0, 1.2, 0.6, 0.4), "A", "dengue", 2, False, ("fever", "iv"), ("cbc", "ns1")),
    Dx("B08.4", "Bệnh tay chân miệng", 0.5, (9.0, 1.0, 0.0, 0.0, 0.0), "A", "hfmd", 1, False, ("fever",), ("cbc",)),
    Dx("B01.9", "Thủy đậu", 0.2, (1.5, 2.5, 0.6, 0.1, 0.0), "A", "hfmd", 0, False, ("fever", "skin"), ()),
    Dx("A15.0", "Lao phổi", 0.15, (0.0, 0.1, 0.8, 1.5, 1.8), "M", "", 1, True, ("resp",), ("xray", "cbc")),
    Dx("A41.9", "Nhiễm khuẩn huyết", 0.05, (0.5, 0.2, 0.3, 1.0, 3.0), "A", "", 2, False, ("iv",), ("cbc", "crp")),
    Dx("I10", "Tăng huyết áp vô căn (nguyên phát)", 9.0, _O, "A", "", 0, True, ("htn",), ("ecg",)),
    Dx("I25.9", "Bệnh tim thiếu máu cục bộ mạn", 0.8, _O, "A", "", 1, True, ("htn", "lipid"), ("ecg",)),
    Dx("I63.9", "Nhồi máu não", 0.4, (0.0, 0.0, 0.1, 1.2, 3.0), "A", "", 2, False, ("neuro", "htn"), ("ct", "cbc", "glucose")),
    Dx("I50.9", "Suy tim", 0.3, (0.0, 0.0, 0.1, 1.0, 3.5), "A", "", 2, True, ("htn",), ("ecg", "xray")),
    Dx("I21.9", "Nhồi máu cơ tim cấp", 0.1, (0.0, 0.0, 0.1, 1.5, 2.5), "M", "", 2, False, ("htn", "lipid"), ("ecg", "cbc")),
    Dx("E11.9", "Đái tháo đường típ 2", 4.0, _O, "A", "", 0, True, ("dm",), ("glucose", "hba1c")),
    Dx("E78.5", "Tăng lipid máu", 2.0, (0.0, 0.0, 0.5, 1.5, 1.8), "A", "", 0, True, ("lipid",), ("lipid",)),
    Dx("K29.7", "Viêm dạ dày", 4.0, (0.1, 0.6, 1.3, 1.2, 1.0), "A", "", 0, False, ("gi",), ()),
    Dx("K21.9", "Bệnh trào ngược dạ dày – thực quản", 1.5, (0.1, 0.3, 1.2, 1.3, 1.0), "A", "", 0, False, ("gi",), ()),
    Dx("K02.9", "Sâu răng", 1.0, (0.8, 2.5, 1.0, 0.6, 0.3), "A", "", 0, False, ("pain",), ()),
    Dx("K35.8", "Viêm ruột thừa cấp", 0.15, (0.2, 1.5, 1.5, 0.6, 0.4), "A", "", 2, False, ("iv",), ("cbc", "echo"), "appendix"),
    Dx("K80.2", "Sỏi túi mật không viêm túi mật", 0.2, (0.0, 0.0, 0.8, 1.5, 1.2), "F", "", 1, False, ("gi", "pain"), ("echo",)),
    Dx("K74.6", "Xơ gan", 0.15, (0.0, 0.0, 0.5, 1.8, 1.2), "M", "", 1, True, ("gi",), ("cbc", "echo")),
    Dx("M54.5", "Đau vùng thắt lưng", 3.0, (0.0, 0.2, 1.0, 1.5, 1.5), "A", "", 0, False, ("pain",), ()),
    Dx("M17.9", "Thoái hóa khớp gối", 2.0, (0.0, 0.0, 0.2, 1.5, 2.5), "F", "", 0, True, ("pain", "joint"), ("xray",)),
    Dx("M79.1", "Đau cơ", 1.0, (0.0, 0.3, 1.0, 1.3, 1.2), "A", "", 0, False, ("pain",), ()),
    Dx("M10.9", "Bệnh gút", 0.5, (0.0, 0.0, 0.5, 1.6, 1.6), "M", "", 0, True, ("pain",), ()),
    Dx("N39.0", "Nhiễm khuẩn đường tiết niệu", 1.2, (0.5, 0.5, 1.2, 1.0, 1.3), "F", "", 1, False, ("antibiotic",), ("urine",)),
    Dx("N18.9", "Bệnh thận mạn", 0.3, (0.0, 0.0, 0.3, 1.5, 2.5), "A", "", 1, True, ("htn",), ("creat",)),
    Dx("N20.0", "Sỏi thận", 0.4, (0.0, 0.1, 1.0, 1.5, 1.0), "M", "", 1, False, ("pain",), ("echo", "urine")),
    Dx("Z34.9", "Theo dõi thai bình thường", 1.2, _M, "F", "", 0, False, ("obs_oral",), ("echo",)),
    Dx("O80", "Đẻ thường một thai", 0.35, _M, "F", "", 2, False, ("obs",), ("cbc",), "delivery"),
    Dx("O82", "Đẻ một thai bằng mổ lấy thai", 0.25, _M, "F", "", 2, False, ("obs", "iv"), ("cbc",), "caesarean"),
    Dx("O20.0", "Dọa sẩy thai", 0.1, _M, "F", "", 1, False, ("obs_oral",), ("echo",)),
    Dx("S06.0", "Chấn động não", 0.2, (0.5, 1.2, 1.5, 0.8, 0.8), "M", "", 2, False, ("pain", "neuro"), ("ct",)),
    Dx("S52.5", "Gãy đầu dưới xương quay", 0.2, (0.3, 1.5, 0.8, 0.8, 1.5), "A", "", 1, False, ("pain",), ("xray",), "cast"),
    Dx("T14.0", "Tổn thương nông vùng cơ thể không xác định", 1.0, (0.8, 1.5, 1.3, 0.8, 0.6), "M", "", 0, False, ("pain", "antibiotic"), (), "suture"),
    Dx("S01.8", "Vết thương hở phần khác của đầu", 0.4, (1.0, 1.5, 1.2, 0.8, 0.8), "M", "", 0, False, ("antibiotic",), (), "suture"),
    Dx("H10.9", "Viêm kết mạc", 1.2, (1.5, 1.2, 1.0, 0.8, 0.8), "A", "", 0, False, ("eye",), ()),
    Dx("H25.9", "Đục thủy tinh thể tuổi già", 0.4, (0.0, 0.0, 0.0, 1.0, 4.0), "A", "", 1, False, ("eye",), (), "phaco"),
    Dx("H52.1", "Cận thị", 0.5, (0.1, 3.0, 1.2, 0.2, 0.1), "A", "", 0, False, (), ()),
    Dx("H66.9", "Viêm tai giữa", 0.6, (5.0, 1.5, 0.3, 0.2, 0.2), "A", "resp", 0, False, ("antibiotic",), ()),
    Dx("L30.9", "Viêm da", 1.0, _K, "A", "", 0, False, ("skin",), ()),
    Dx("L20.9", "Viêm da cơ địa", 0.4, (4.0, 1.5, 0.5, 0.3, 0.3), "A", "", 0, False, ("skin",), ()),
    Dx("B35.4", "Nấm da thân", 0.4, (0.3, 1.0, 1.3, 1.0, 0.8), "A", "", 0, False, ("skin",), ()),
    Dx("F32.9", "Giai đoạn trầm cảm", 0.3, (0.0, 0.2, 1.2, 1.3, 0.8), "F", "", 0, True, ("mental",), ()),
    Dx("F20.9", "Tâm thần phân liệt", 0.2, (0.0, 0.0, 1.5, 1.0, 0.3), "A", "", 1, True, ("mental",), ()),
    Dx("F41.9", "Rối loạn lo âu", 0.3, (0.0, 0.3, 1.3, 1.2, 0.6), "F", "", 0, False, ("mental",), ()),
    Dx("G43.9", "Đau nửa đầu", 0.5, (0.0, 0.5, 1.5, 1.0, 0.4), "F", "", 0, False, ("pain", "neuro"), ()),
    Dx("C22.0", "Ung thư biểu mô tế bào gan", 0.1, (0.0, 0.0, 0.3, 1.8, 2.0), "M", "", 1, True, ("pain",), ("echo", "cbc")),
    Dx("C34.9", "Ung thư phế quản và phổi", 0.08, (0.0, 0.0, 0.2, 1.6, 2.5), "M", "", 1, True, ("pain",), ("xray", "ct")),
    Dx("C50.9", "Ung thư vú", 0.06, (0.0, 0.0, 0.8, 2.0, 1.2), "F", "", 1, True, ("pain",), ("echo",)),
    Dx("D25.9", "U cơ trơn tử cung", 0.15, (0.0, 0.0, 1.5, 1.5, 0.2), "F", "", 1, False, (), ("echo",)),
    Dx("D64.9", "Thiếu máu", 0.3, (1.5, 0.8, 1.0, 0.8, 1.5), "F", "", 0, False, ("iron",), ("cbc",)),
    Dx("M81.9", "Loãng xương", 0.3, (0.0, 0.0, 0.0, 1.0, 3.0), "F", "", 0, True, ("joint",), ()),
    Dx("R50.9", "Sốt không xác định", 1.5, (3.0, 2.0, 0.7, 0.5, 0.6), "A", "resp", 0, False, ("fever",), ("cbc",)),
    Dx("R51", "Đau đầu", 1.0, (0.0, 0.6, 1.3, 1.1, 0.8), "F", "", 0, False, ("fever",), ()),
    Dx("R10.4", "Đau bụng không xác định", 1.0, (0.8, 1.2, 1.2, 0.9, 0.8), "A", "", 0, False, ("gi",), ("echo",)),
    Dx("Z00.0", "Khám sức khỏe tổng quát", 1.5, (0.2, 0.5, 1.5, 1.2, 0.8), "A", "", 0, False, (), ("cbc", "glucose", "urine")),
)
# Seen only at the visits planned for them (``care_papers``: HIV care), never drawn: weight 0.
CARE_ONLY: tuple[Dx, ...] = (
    Dx("B24", "Bệnh do HIV không xác định", 0.0, _K, "A", "", 0, True, ("arv",), ("cbc",)),
    Dx("B20.9", "Bệnh do HIV gây bệnh nhiễm trùng và ký sinh trùng", 0.0, _K, "A", "", 1, True, ("arv",), ("cbc",)),
)
# fmt: on
BY_CODE = {d.code: d for d in (*DIAGNOSES, *CARE_ONLY)}

# How a facility's specialty tilts the case mix: multiplier by code prefix, "*" for the rest.
PROFILE_BIAS: dict[str, dict[str, float]] = {
    "general": {"*": 1.0},
    "station": {"*": 1.0},
    "clinic": {"*": 1.0},
    "obs_paed": {"O": 12.0, "Z34": 8.0, "D25": 6.0, "*": 0.35},
    "lung": {"J": 4.0, "A15": 40.0, "C34": 10.0, "*": 0.08},
    "mental": {"F": 60.0, "G43": 3.0, "*": 0.02},
    "eye": {"H0": 60.0, "H1": 60.0, "H2": 60.0, "H5": 60.0, "*": 0.01},
    "skin": {"L": 40.0, "B35": 40.0, "B01": 5.0, "*": 0.02},
    "traditional": {"M": 8.0, "G43": 4.0, "I63": 3.0, "I10": 1.5, "*": 0.15},
}
# Admitted (03/04/06) visits lean to severe diagnoses; outpatient ones to the mild.
_SEVERITY_FACTOR = {"out": (1.0, 0.6, 0.08), "in": (0.05, 1.0, 6.0), "chronic": (1.0, 1.0, 1.0)}


def _bias(profile: str, code: str) -> float:
    table = PROFILE_BIAS.get(profile, PROFILE_BIAS["general"])
    for k in sorted(table, key=len, reverse=True):
        if k != "*" and code.startswith(k):
            return table[k]
    return table["*"]


@cache
def dx_table(
    profile: str, kind: str, group: int, male: bool, month: int
) -> tuple[tuple[Dx, ...], list[float]]:
    """Diagnoses and their cumulative probabilities for one kind of visit."""
    items: list[Dx] = []
    weights: list[float] = []
    for d in DIAGNOSES:
        if kind == "chronic" and not d.chronic:
            continue
        if (d.sex == "F" and male and d.ages is _M) or (
            d.code.startswith(("O", "Z34", "D25", "C50")) and male
        ):
            continue
        w = d.weight * d.ages[group] * SEASONS[d.season][month - 1] * _bias(profile, d.code)
        w *= _SEVERITY_FACTOR[kind][d.severity]
        if d.sex == "F" and d.ages is not _M:
            w *= 0.7 if male else 1.3
        elif d.sex == "M":
            w *= 1.3 if male else 0.7
        if profile in ("station", "clinic") and d.severity == 2:
            w *= 0.05
        if w > 0:
            items.append(d)
            weights.append(w)
    if not items:  # e.g. a male child at an obstetric hospital's inpatient ward
        return dx_table("general", kind if kind != "chronic" else "out", group, male, month)
    cum = np.cumsum(np.array(weights))
    return tuple(items), (cum / cum[-1]).tolist()


@dataclass(frozen=True, slots=True)
class Drug:
    code: str  # MA_THUOC (BHYT catalog code form)
    name: str
    strength: str
    unit: str
    route: str  # DUONG_DUNG code: 1.01 oral, 2.15 IV infusion, 2.10 IM/IV injection, 3.05 eye, 4.04 topical
    reg: str  # SO_DANG_KY
    price: int  # VND per unit
    per_day: int  # units per day
    ratio: int = 100  # TYLE_TT_BH


# fmt: off
DRUGS: dict[str, tuple[Drug, ...]] = {
    "resp": (Drug("40.48", "Paracetamol", "500mg", "Viên", "1.01", "VD-21129-14", 500, 3),
             Drug("40.62", "Acetylcystein", "200mg", "Gói", "1.01", "VD-24563-16", 900, 3),
             Drug("40.96", "Loratadin", "10mg", "Viên", "1.01", "VD-25802-16", 400, 1)),
    "antibiotic": (Drug("40.169", "Amoxicilin", "500mg", "Viên", "1.01", "VD-23512-15", 1200, 3),
                   Drug("40.224", "Cefuroxim", "500mg", "Viên", "1.01", "VD-28766-18", 4500, 2)),
    "iv": (Drug("40.201", "Ceftriaxon", "1g", "Lọ", "2.10", "VD-25360-16", 15000, 2),
           Drug("40.1014", "Natri clorid 0,9%", "500ml", "Chai", "2.15", "VD-22081-15", 9000, 2)),
    "fever": (Drug("40.48", "Paracetamol", "500mg", "Viên", "1.01", "VD-21129-14", 500, 3),
              Drug("40.1017", "Oresol", "4,1g", "Gói", "1.01", "VD-20945-14", 2500, 2)),
    "gi": (Drug("40.677", "Omeprazol", "20mg", "Viên", "1.01", "VD-27063-17", 600, 2),
           Drug("40.689", "Domperidon", "10mg", "Viên", "1.01", "VD-26150-17", 350, 3),
           Drug("40.697", "Diosmectit", "3g", "Gói", "1.01", "VN-20384-17", 3000, 3)),
    "htn": (Drug("40.473", "Amlodipin", "5mg", "Viên", "1.01", "VD-23981-15", 300, 1),
            Drug("40.504", "Losartan", "50mg", "Viên", "1.01", "VD-25455-16", 1100, 1),
            Drug("40.449", "Bisoprolol", "2,5mg", "Viên", "1.01", "VN-19787-16", 1500, 1)),
    "dm": (Drug("40.779", "Metformin", "500mg", "Viên", "1.01", "VD-24780-16", 450, 2),
           Drug("40.770", "Gliclazid", "30mg", "Viên", "1.01", "VD-27461-17", 1200, 1)),
    "lipid": (Drug("40.531", "Atorvastatin", "10mg", "Viên", "1.01", "VD-26327-17", 900, 1),),
    "asthma": (Drug("40.1001", "Salbutamol", "100mcg/liều", "Bình", "1.05", "VN-20118-16", 75000, 0),
               Drug("40.1004", "Budesonid", "200mcg/liều", "Bình", "1.05", "VN-21570-18", 150000, 0)),
    "pain": (Drug("40.25", "Meloxicam", "7,5mg", "Viên", "1.01", "VD-22876-15", 400, 1),
             Drug("40.17", "Diclofenac", "50mg", "Viên", "1.01", "VD-20318-13", 350, 2)),
    "joint": (Drug("40.88", "Glucosamin", "500mg", "Viên", "1.01", "VD-24166-16", 2000, 2, 50),),
    "eye": (Drug("40.980", "Tobramycin", "0,3%/5ml", "Lọ", "3.05", "VN-21325-18", 25000, 0),),
    "skin": (Drug("40.934", "Betamethason", "0,05%/15g", "Tuýp", "4.04", "VD-26005-16", 15000, 0),),
    "mental": (Drug("40.370", "Olanzapin", "10mg", "Viên", "1.01", "VN-20560-17", 3000, 1),
               Drug("40.383", "Sertralin", "50mg", "Viên", "1.01", "VN-21094-18", 2500, 1)),
    "neuro": (Drug("40.385", "Piracetam", "800mg", "Viên", "1.01", "VD-25612-16", 1500, 2),),
    "obs": (Drug("40.1065", "Oxytocin", "5UI/ml", "Ống", "2.10", "VN-19874-16", 6000, 2),
            Drug("40.208", "Cefazolin", "1g", "Lọ", "2.10", "VD-25883-16", 12000, 2)),
    "obs_oral": (Drug("40.720", "Sắt fumarat + acid folic", "200mg + 1mg", "Viên", "1.01", "VD-25098-16", 1000, 1),),
    "arv": (Drug("40.139", "Tenofovir + Lamivudin + Dolutegravir", "300mg + 300mg + 50mg", "Viên", "1.01", "VN3-264-20", 9000, 1),),
    "iron": (Drug("40.720", "Sắt fumarat + acid folic", "200mg + 1mg", "Viên", "1.01", "VD-25098-16", 1000, 1),),
}


@dataclass(frozen=True, slots=True)
class Service:
    code: str  # MA_DICH_VU
    name: str
    group: str  # MA_NHOM (QĐ 5937 PL3): 1 lab, 2 imaging, 3 function test, 8 procedure, 13 exam, 15 bed, 10 supply
    price: int  # BHYT price (VND)
    unit: str = "Lần"
    results: tuple[tuple[str, str, str], ...] = ()  # XML4 indices: (MA_CHI_SO, TEN_CHI_SO, unit)


TESTS: dict[str, Service] = {
    "cbc": Service("22.0120.1370", "Tổng phân tích tế bào máu ngoại vi", "1", 46200,
                   results=(("WBC", "Số lượng bạch cầu", "G/L"), ("HGB", "Huyết sắc tố", "g/L"),
                            ("PLT", "Số lượng tiểu cầu", "G/L"))),
    "crp": Service("23.0051.1506", "Định lượng CRP", "1", 53800, results=(("CRP", "CRP", "mg/L"),)),
    "glucose": Service("23.0075.1494", "Định lượng Glucose", "1", 21500, results=(("GLU", "Glucose", "mmol/L"),)),
    "hba1c": Service("23.0083.1523", "Định lượng HbA1c", "1", 101000, results=(("HBA1C", "HbA1c", "%"),)),
    "lipid": Service("23.0041.1506", "Định lượng Cholesterol toàn phần", "1", 26900,
                     results=(("CHOL", "Cholesterol", "mmol/L"),)),
    "creat": Service("23.0051.1494", "Định lượng Creatinin", "1", 21500, results=(("CREA", "Creatinin", "µmol/L"),)),
    "urine": Service("23.0206.1596", "Tổng phân tích nước tiểu", "1", 27400, results=(("PRO", "Protein niệu", "g/L"),)),
    "ns1": Service("24.0111.1640", "Dengue virus NS1Ag test nhanh", "1", 130000, results=(("NS1", "NS1 kháng nguyên", ""),)),
    "xray": Service("18.0119.0028", "Chụp X-quang ngực thẳng", "2", 65400),
    "echo": Service("18.0001.0001", "Siêu âm ổ bụng", "2", 43900),
    "ct": Service("18.0200.0041", "Chụp CT sọ não không tiêm thuốc cản quang", "2", 522000),
    "ecg": Service("21.0014.1778", "Điện tim thường", "3", 32800),
}
PROCEDURES: dict[str, Service] = {
    "suture": Service("10.0910.0213", "Khâu vết thương phần mềm tổn thương nông", "8", 178000),
    "cast": Service("03.3897.0503", "Nắn, bó bột gãy đầu dưới xương quay", "8", 362000),
    "appendix": Service("10.0546.0469", "Phẫu thuật cắt ruột thừa", "8", 2540000),
    "delivery": Service("13.0035.0670", "Đỡ đẻ thường ngôi chỏm", "8", 706000),
    "caesarean": Service("13.0006.0595", "Phẫu thuật lấy thai lần đầu", "8", 3200000),
    "phaco": Service("14.0190.0830", "Phẫu thuật đục thủy tinh thể bằng phương pháp Phaco", "8", 2620000),
}
# The procedure's supplies (XML3 lines with MA_VAT_TU).
SUPPLIES: dict[str, tuple[tuple[str, str, str, int], ...]] = {
    "default": (("N03.02.070", "Bơm tiêm nhựa 5ml", "Cái", 1200), ("N04.04.010", "Găng tay y tế", "Đôi", 2500)),
    "iv": (("N03.05.030", "Kim luồn tĩnh mạch", "Cái", 9500), ("N03.05.020", "Dây truyền dịch", "Bộ", 6000)),
    "suture": (("N05.02.060", "Chỉ khâu không tiêu", "Sợi", 35000),),
    "phaco": (("N07.04.010", "Thủy tinh thể nhân tạo", "Cái", 2500000),),
}
EXAM_PRICE = {"tinh": 42100, "khu_vuc": 38700, "xa": 27000, "tu_nhan": 42100}
EXAM_PRICE_PRIVATE = 150000  # what a private clinic charges; the fund pays the BHYT price
BED_PRICE = {"tinh": 249000, "khu_vuc": 190000, "xa": 78000, "tu_nhan": 249000}
BED_PRICE_PRIVATE = 600000
# fmt: on
