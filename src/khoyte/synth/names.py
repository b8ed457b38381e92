"""Vietnamese names with correct diacritics, and the small mistakes clerks make typing them."""

from __future__ import annotations

import unicodedata

# Family names with their approximate shares in southern Viet Nam (Nguyễn about 38 %).
FAMILY: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Huỳnh", 5.0),
    ("Phan", 4.5),
    ("Võ", 3.9),
    ("Hoàng", 2.0),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Trương", 1.2),
    ("Đinh", 0.8),
    ("Lâm", 0.9),
    ("Mai", 0.6),
    ("Tô", 0.4),
    ("Cao", 0.5),
    ("Châu", 0.4),
    ("Thái", 0.4),
    ("Đoàn", 0.6),
)
MIDDLE_M = (
    "Văn",
    "Văn",
    "Văn",
    "Hữu",
    "Minh",
    "Quốc",
    "Thanh",
    "Đức",
    "Công",
    "Hoàng",
    "Tấn",
    "Trọng",
    "Gia",
    "Anh",
)
MIDDLE_F = (
    "Thị",
    "Thị",
    "Thị",
    "Ngọc",
    "Thanh",
    "Thu",
    "Kim",
    "Mỹ",
    "Bích",
    "Hồng",
    "Thùy",
    "Minh",
    "Phương",
    "Diễm",
)
GIVEN_M = (
    "An",
    "Bình",
    "Cường",
    "Dũng",
    "Hải",
    "Hùng",
    "Huy",
    "Khang",
    "Khoa",
    "Long",
    "Minh",
    "Nam",
    "Phúc",
    "Quang",
    "Sơn",
    "Tài",
    "Thắng",
    "Thành",
    "Tuấn",
    "Việt",
    "Vinh",
    "Bảo",
    "Đạt",
    "Hiếu",
    "Lâm",
    "Lộc",
    "Nhân",
    "Phong",
    "Tâm",
    "Trí",
    "Toàn",
    "Nghĩa",
    "Hòa",
    "Kiệt",
    "Thịnh",
    "Duy",
    "Tùng",
    "Quý",
    "Hậu",
    "Tín",
)
GIVEN_F = (
    "Anh",
    "Châu",
    "Dung",
    "Giang",
    "Hà",
    "Hạnh",
    "Hằng",
    "Hoa",
    "Hương",
    "Lan",
    "Linh",
    "Loan",
    "Mai",
    "My",
    "Nga",
    "Ngân",
    "Nhung",
    "Oanh",
    "Phương",
    "Quyên",
    "Thảo",
    "Trang",
    "Trinh",
    "Tuyết",
    "Uyên",
    "Vân",
    "Vy",
    "Xuân",
    "Yến",
    "Thủy",
    "Hiền",
    "Diễm",
    "Nhi",
    "Thư",
    "Trâm",
    "Liên",
    "Cúc",
    "Đào",
    "Ly",
    "Ngọc",
)

FAMILY_NAMES = tuple(n for n, _ in FAMILY)
FAMILY_WEIGHTS = tuple(w for _, w in FAMILY)


def full_name(family: int, middle: int, given: int, male: bool) -> str:
    mid = MIDDLE_M if male else MIDDLE_F
    giv = GIVEN_M if male else GIVEN_F
    return f"{FAMILY_NAMES[family]} {mid[middle % len(mid)]} {giv[given % len(giv)]}"


def strip_marks(text: str) -> str:
    """``Nguyễn`` → ``Nguyen``: what an old keyboard driver or an ASCII-only form produces."""
    out = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in out if unicodedata.category(c) != "Mn")


def misspell(name: str, kind: int) -> str:
    """A realistic variant of a name: 0 no diacritics, 1 middle name left out, 2 two letters
    of the given name swapped, 3 upper case (as on some ID cards)."""
    parts = name.split(" ")
    if kind == 0:
        return strip_marks(name)
    if kind == 1 and len(parts) >= 3:
        return " ".join([parts[0], *parts[2:]])
    if kind == 2:
        g = parts[-1]
        if len(g) >= 3:
            parts[-1] = g[0] + g[2] + g[1] + g[3:]
        return " ".join(parts)
    return name.upper()
