"""The province's real 2025 communes (``vietnam-provinces``) and how many people live in each."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from khoyte.registry import adminunits


@dataclass(frozen=True, slots=True)
class Commune:
    code: str  # 5 digits, QĐ 19/2025/QĐ-TTg
    name: str  # e.g. "Phường Mỹ Tho", "Xã Tân Hồng"
    urban: bool  # a phường (ward) rather than a xã


@dataclass(frozen=True, slots=True)
class Geography:
    province: str  # 2 digits, e.g. "82"
    province_name: str
    communes: tuple[Commune, ...]
    weights: np.ndarray  # share of the population living in each commune (sums to 1)

    def index(self, code: str) -> int:
        for i, c in enumerate(self.communes):
            if c.code == code:
                return i
        raise KeyError(code)


def build_geography(province: str, rng: np.random.Generator) -> Geography:
    names = adminunits.provinces()
    if province not in names:
        raise ValueError(
            f"Mã tỉnh {province!r} không có trong danh mục 2025 / "
            f"province code {province!r} is not "
            f"one of the 34 provinces of 2025 (e.g. 82 Đồng Tháp, 91 An Giang)"
        )
    communes = tuple(
        Commune(code, name, name.startswith("Phường"))
        for code, name in adminunits.communes_of(province)
    )
    # Wards are denser than rural communes; a gamma spread gives the uneven sizes of real communes.
    raw = rng.gamma(4.0, 1.0, len(communes)) * np.array([2.2 if c.urban else 1.0 for c in communes])
    return Geography(province, names[province], communes, raw / raw.sum())
