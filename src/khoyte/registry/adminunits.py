"""Administrative units: the 34 provinces and 3,321 communes of the 2025 reform
(``vietnam-provinces``, QĐ 19/2025/QĐ-TTg), and the 63 province codes in use before 01/07/2025.

Before the reform, residence codes were GSO codes of 63 provinces, ~700 districts and ~10,000
communes; ``vietnam-provinces`` ships only the new list, so for earlier visits khoyte checks the
province code against the old list and the commune code by shape only.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from vietnam_provinces import Province, Ward

REFORM_DATE = date(2025, 7, 1)

# The 63 provinces' GSO codes before the 2025 merger.
OLD_PROVINCE_CODES = frozenset(
    f"{c:02d}"
    for c in (
        1,
        2,
        4,
        6,
        8,
        10,
        11,
        12,
        14,
        15,
        17,
        19,
        20,
        22,
        24,
        25,
        26,
        27,
        30,
        31,
        33,
        34,
        35,
        36,
        37,
        38,
        40,
        42,
        44,
        45,
        46,
        48,
        49,
        51,
        52,
        54,
        56,
        58,
        60,
        62,
        64,
        66,
        67,
        68,
        70,
        72,
        74,
        75,
        77,
        79,
        80,
        82,
        83,
        84,
        86,
        87,
        89,
        91,
        92,
        93,
        94,
        95,
        96,
    )
)


@cache
def provinces() -> dict[str, str]:
    """New (2025) province code → name."""
    return {f"{int(p.code):02d}": p.name for p in Province.iter_all()}


@cache
def communes() -> dict[str, tuple[str, str]]:
    """New (2025) commune code → (name, province code)."""
    return {f"{int(w.code):05d}": (w.name, f"{int(w.province_code):02d}") for w in Ward.iter_all()}


def communes_of(province: str) -> list[tuple[str, str]]:
    return sorted((code, name) for code, (name, prov) in communes().items() if prov == province)


def normalize_province(code: str) -> str:
    """Residence province codes sit in a 3-character field: ``082``, ``82`` → ``82``."""
    code = code.strip()
    return code[-2:] if len(code) == 3 and code.startswith("0") else code


def province_valid(code: str, on: date | None) -> bool:
    code = normalize_province(code)
    if on is not None and on < REFORM_DATE:
        return code in OLD_PROVINCE_CODES or code in provinces()
    return code in provinces()


def commune_valid(code: str, province: str | None, on: date | None) -> bool:
    if on is not None and on < REFORM_DATE:
        return len(code) == 5 and code.isascii() and code.isdigit()
    hit = communes().get(code)
    if hit is None:
        return False
    return province is None or hit[1] == normalize_province(province)
