"""The province as the generator sees it: geography, facilities, population, catchments and the
expected number of visits per facility and day."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from khoyte.synth.facilities import Facility, build_facilities
from khoyte.synth.geography import Geography, build_geography
from khoyte.synth.people import Catchment, Population, build_population, catchment

VISITS_PER_PERSON_YEAR = 2.4  # Đồng Tháp 2018–2020: 11.5 M visits / 1.6 M people / 3 years
# Monday … Sunday (mean 1): Monday queues, quiet weekends.
WEEKDAY = (1.30, 1.20, 1.15, 1.10, 1.05, 0.70, 0.50)
# January … December (mean 1): the cool-season respiratory peak and the rainy-season dengue
# peak lift the total a little; most seasonality is in the case mix (clinical.SEASONS).
MONTH = (1.06, 1.00, 0.98, 0.96, 0.97, 0.99, 1.01, 1.03, 1.04, 1.02, 0.98, 0.96)
# Share of all visits by kind of facility.
KIND_SHARE = {
    "hospital": 0.25,
    "centre": 0.30,
    "station": 0.28,
    "private_hospital": 0.05,
    "clinic": 0.12,
}
# MA_LOAI_KCB shares by kind of facility.
VISIT_TYPES: dict[str, tuple[tuple[str, float], ...]] = {
    "hospital": (("01", 0.60), ("02", 0.05), ("03", 0.25), ("04", 0.04), ("05", 0.06)),
    "centre": (("01", 0.70), ("02", 0.03), ("03", 0.13), ("04", 0.02), ("05", 0.08), ("07", 0.04)),
    "station": (("01", 0.80), ("05", 0.07), ("06", 0.05), ("07", 0.08)),
    "private_hospital": (("01", 0.75), ("02", 0.05), ("03", 0.20)),
    "clinic": (("01", 0.97), ("02", 0.03)),
}


@dataclass(slots=True)
class Province:
    seed: int
    geo: Geography
    facilities: list[Facility]
    pop: Population
    catchments: list[Catchment]
    daily_share: np.ndarray  # expected visits per facility on an average day
    station_of: list[int]  # commune index → facility index of its station
    regional_of: list[int]  # commune index → facility index of its regional centre
    referral_targets: dict[str, list[int]] = field(default_factory=dict)

    def expected(self, fac: int, day: date) -> float:
        return float(self.daily_share[fac]) * WEEKDAY[day.weekday()] * MONTH[day.month - 1]


def build_province(seed: int, province: str, population: int, anchor: date) -> Province:
    ss = np.random.SeedSequence([seed, 1])
    geo_rng, fac_rng, pop_rng = (np.random.default_rng(s) for s in ss.spawn(3))
    geo = build_geography(province, geo_rng)
    facilities = build_facilities(geo, population, fac_rng)
    pop = build_population(seed, geo, population, anchor, pop_rng)
    station_of = [0] * len(geo.communes)
    for f in facilities:
        if f.kind == "station":
            station_of[f.commune] = f.index
    regional = [f.index for f in facilities if f.kind == "centre"]
    # Each regional centre serves a contiguous block of communes (codes run by former district).
    regional_of = [
        regional[i * len(regional) // len(geo.communes)] for i in range(len(geo.communes))
    ]
    everyone = catchment(pop, None)
    by_commune = [catchment(pop, [i]) for i in range(len(geo.communes))]
    catchments: list[Catchment] = []
    for f in facilities:
        if f.kind == "station":
            catchments.append(by_commune[f.commune])
        elif f.kind == "centre":
            catchments.append(
                catchment(pop, [i for i, r in enumerate(regional_of) if r == f.index])
            )
        else:
            catchments.append(everyone)
    total_weight = everyone.expected_weight or 1.0
    per_day = population * VISITS_PER_PERSON_YEAR / 365.25
    kinds = {f.kind for f in facilities}
    norm = sum(v for k, v in KIND_SHARE.items() if k in kinds)
    share = np.zeros(len(facilities))
    for kind in kinds:
        members = [f for f in facilities if f.kind == kind]
        if kind in ("station", "centre"):
            # Local facilities see their own residents: share by the residents' consulting weight.
            ws = [catchments[f.index].expected_weight / total_weight for f in members]
            if kind == "centre":
                ws = [w / sum(ws) for w in ws]
        else:
            total = sum(f.weight for f in members)
            ws = [f.weight / total for f in members]
        for f, w in zip(members, ws, strict=True):
            share[f.index] = per_day * KIND_SHARE[kind] / norm * w
    targets = {
        "xa": regional or [f.index for f in facilities if f.tier == "tinh"],
        "khu_vuc": [f.index for f in facilities if f.tier == "tinh" and f.profile == "general"],
        "tu_nhan": [f.index for f in facilities if f.tier == "tinh" and f.profile == "general"],
    }
    return Province(seed, geo, facilities, pop, catchments, share, station_of, regional_of, targets)
