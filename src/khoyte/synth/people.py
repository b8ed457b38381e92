"""The population: one row per person, held as numpy arrays so a 1.7 M province costs ~60 MB.

Ages and sexes follow Viet Nam's 2019 census pyramid; CCCD numbers follow their real encoding
(3 digits province of birth registration, 1 digit century + sex, 2 digits year of birth, 6
digits serial); BHYT cards are 2 letters (object) + benefit level + 2 digits province + the
10-digit social-insurance number. Everything a visit needs about a person is derived from these
arrays and the seed, so a person looks the same at every facility, except for the noise that
record linkage has to undo (``identity``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from khoyte.registry.adminunits import OLD_PROVINCE_CODES
from khoyte.registry.agebands import AGE_BANDS as REPORT_AGE_BANDS
from khoyte.registry.agebands import band_of
from khoyte.synth import names
from khoyte.synth.geography import Geography

MASK = (1 << 64) - 1

# Census 2019, 5-year bands 0-4 … 75-79, 80+ (percent) and the male share of each band
# (sex ratio at birth ≈ 1.11; women outlive men).
AGE_BANDS = (7.9, 8.3, 7.3, 6.6, 7.0, 8.0, 8.3, 7.7, 7.2, 6.6, 6.0, 5.3, 4.4, 3.3, 2.1, 1.4, 2.6)
MALE_SHARE = (
    0.525,
    0.524,
    0.522,
    0.518,
    0.510,
    0.505,
    0.503,
    0.502,
    0.500,
    0.495,
    0.490,
    0.480,
    0.470,
    0.450,
    0.430,
    0.410,
    0.360,
)
# Visits per person relative to the mean, by the same bands: small children and the old
# consult most. Used to pick who comes to a facility.
UTILISATION = (
    2.3,
    1.1,
    0.7,
    0.55,
    0.55,
    0.65,
    0.7,
    0.75,
    0.8,
    0.9,
    1.05,
    1.2,
    1.45,
    1.7,
    1.9,
    2.0,
    2.1,
)

# Age bands of the manifest and dashboards (TT 37 style).
REPORT_BANDS = REPORT_AGE_BANDS


def report_band(age: int) -> str:
    return band_of(age) or "80+"


def mix(*parts: int) -> int:
    """A stable 64-bit hash of integers (splitmix64 rounds): per-person facts that must not
    depend on the order anything is generated in."""
    h = 0x9E3779B97F4A7C15
    for p in parts:
        h = (h ^ (p & MASK)) * 0xBF58476D1CE4E5B9 & MASK
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & MASK
        h ^= h >> 29
    return h


# Card object codes (first two letters) by life stage, and their benefit level (3rd character):
# 1/2/5 → the fund pays 100 %, 3 → 95 %, 4 → 80 %.
_CARD_CHILD = (("TE", 1),)
_CARD_PUPIL = (("HS", 4),)
_CARD_ADULT = (("GD", 4), ("DN", 4), ("HN", 2), ("CN", 3), ("HC", 4), ("NO", 4), ("TN", 3))
_CARD_OLD = (("HT", 2), ("GD", 4), ("CT", 2), ("BT", 2))
BENEFIT = {1: 100, 2: 100, 3: 95, 4: 80, 5: 100}


@dataclass(slots=True)
class Population:
    seed: int
    geo: Geography
    anchor: date  # the population is described as of this date (the start of the period)
    birth: np.ndarray  # int32: date.toordinal() of birth
    male: np.ndarray  # bool
    commune: np.ndarray  # int16: index into geo.communes
    family: np.ndarray  # int8
    middle: np.ndarray  # int8
    given: np.ndarray  # int8
    cccd: np.ndarray  # bool: has a 12-digit CCCD
    cccd_prov: np.ndarray  # int16: province of birth registration
    card: np.ndarray  # bool: has a BHYT card
    card_month: np.ndarray  # int8: month offset (0–11) when the card's year begins
    reg_regional: np.ndarray  # bool: registered at the regional centre, not the commune station
    weight: np.ndarray  # float32: relative chance of consulting

    @property
    def size(self) -> int:
        return int(self.birth.shape[0])

    # ---- per-person facts ----------------------------------------------------------------
    def birth_date(self, pid: int) -> date:
        return date.fromordinal(int(self.birth[pid]))

    def name(self, pid: int) -> str:
        return names.full_name(
            int(self.family[pid]), int(self.middle[pid]), int(self.given[pid]), bool(self.male[pid])
        )

    def cccd_number(self, pid: int) -> str | None:
        if not self.cccd[pid]:
            return None
        born = self.birth_date(pid)
        century = 0 if born.year < 2000 else 2
        gc = century + (0 if self.male[pid] else 1)
        serial = mix(self.seed, pid, 11) % 1_000_000
        return f"{int(self.cccd_prov[pid]):03d}{gc}{born.year % 100:02d}{serial:06d}"

    def bhxh_number(self, pid: int) -> str:
        return f"{self.card_province(pid)}{mix(self.seed, pid, 13) % 100_000_000:08d}"

    def card_province(self, pid: int) -> str:
        # Cards issued before the 2025 merger keep the old province code in characters 4–5.
        return f"{int(self.cccd_prov[pid]) % 100:02d}"

    def card_on(self, pid: int, day: date) -> tuple[str, date, date, int] | None:
        """The card valid on ``day``: code, valid from, valid to, and its version (how many
        times the card changed since the start of the period — a new object code at renewal
        is what record linkage must see through)."""
        if not self.card[pid]:
            return None
        m0 = int(self.card_month[pid])
        start_month = self.anchor.year * 12 + (self.anchor.month - 1) - 12 + m0
        months = day.year * 12 + day.month - 1 - start_month
        k = months // 12  # card years since a year before the period began
        fy, fm = divmod(start_month + 12 * k, 12)
        valid_from = date(fy, fm + 1, 1)
        ty, tm = divmod(start_month + 12 * k + 12, 12)
        valid_to = date(ty, tm + 1, 1) - timedelta(days=1)
        version = sum(1 for j in range(1, k + 1) if mix(self.seed, pid, 17, j) % 100 < 25)
        age = (valid_from - self.birth_date(pid)).days // 365
        choices: tuple[tuple[str, int], ...]
        if age < 6:
            choices = _CARD_CHILD
        elif age < 18:
            choices = _CARD_PUPIL
        elif age < 60:
            choices = _CARD_ADULT
        else:
            choices = _CARD_OLD
        obj, level = choices[mix(self.seed, pid, 19, version) % len(choices)]
        code = f"{obj}{level}{self.card_province(pid)}{self.bhxh_number(pid)}"
        return code, valid_from, valid_to, version

    def address(self, pid: int) -> str:
        c = self.geo.communes[int(self.commune[pid])]
        h = mix(self.seed, pid, 23)
        return f"Số {h % 250 + 1}, ấp {h // 250 % 12 + 1}, {c.name}, {self.geo.province_name}"

    def phone(self, pid: int) -> str:
        return f"09{mix(self.seed, pid, 29) % 100_000_000:08d}"


def build_population(
    seed: int, geo: Geography, size: int, anchor: date, rng: np.random.Generator
) -> Population:
    bands = np.array(AGE_BANDS) / sum(AGE_BANDS)
    band = rng.choice(len(AGE_BANDS), size=size, p=bands)
    span = np.where(band == len(AGE_BANDS) - 1, 20.0, 5.0)
    age_days = ((band * 5.0 + rng.random(size) * span) * 365.25).astype(np.int64)
    birth = (anchor.toordinal() - age_days).astype(np.int32)
    male = rng.random(size) < np.array(MALE_SHARE)[band]
    commune = rng.choice(len(geo.communes), size=size, p=geo.weights).astype(np.int16)
    fam_w = np.array(names.FAMILY_WEIGHTS) / sum(names.FAMILY_WEIGHTS)
    family = rng.choice(len(fam_w), size=size, p=fam_w).astype(np.int8)
    middle = rng.integers(0, 14, size, dtype=np.int8)
    given = rng.integers(0, 40, size, dtype=np.int8)
    age_years = age_days // 365
    # CCCD for nearly every adult; children get theirs on request (from 2024), so fewer have one.
    cccd = rng.random(size) < np.where(age_years >= 14, 0.95, 0.55)
    # Born in the province (either of the two merged into the 2025 province) or elsewhere.
    home = _home_codes(geo.province)
    others = np.array(sorted(int(c) for c in OLD_PROVINCE_CODES), dtype=np.int16)
    born_here = rng.random(size) < 0.9
    prov = np.where(
        born_here, rng.choice(np.array(home, dtype=np.int16), size), rng.choice(others, size)
    ).astype(np.int16)
    card = rng.random(size) < np.where(age_years < 6, 0.99, 0.885)
    card_month = rng.integers(0, 12, size, dtype=np.int8)
    reg_regional = rng.random(size) < 0.3
    weight = np.array(UTILISATION, dtype=np.float32)[band]
    return Population(
        seed,
        geo,
        anchor,
        birth,
        male,
        commune,
        family,
        middle,
        given,
        cccd,
        prov,
        card,
        card_month,
        reg_regional,
        weight,
    )


# Provinces merged in 2025 (new code → the old codes people were registered under).
_MERGED = {
    "82": (82, 87),
    "91": (89, 91),
    "86": (84, 86, 83),
    "92": (92, 93, 94),
    "96": (95, 96),
    "80": (70, 80),
    "75": (75, 70),
    "79": (79, 74, 77),
}


def _home_codes(province: str) -> tuple[int, ...]:
    return _MERGED.get(province, (int(province),))


@dataclass(frozen=True, slots=True)
class Catchment:
    """People who may come to a facility, with cumulative consulting weights for sampling."""

    members: np.ndarray  # int32 person ids
    cumweight: np.ndarray  # float64

    def sample(self, r: random.Random, n: int) -> list[int]:
        if n == 0 or self.members.size == 0:
            return []
        total = float(self.cumweight[-1])
        idx = np.searchsorted(
            self.cumweight, np.array([r.random() * total for _ in range(n)]), side="right"
        )
        return self.members[np.minimum(idx, self.members.size - 1)].tolist()  # type: ignore[no-any-return]

    @property
    def expected_weight(self) -> float:
        return float(self.cumweight[-1]) if self.cumweight.size else 0.0


def catchment(pop: Population, communes: list[int] | None) -> Catchment:
    if communes is None:
        members = np.arange(pop.size, dtype=np.int32)
    else:
        members = np.flatnonzero(np.isin(pop.commune, np.array(communes, dtype=np.int16))).astype(
            np.int32
        )
    return Catchment(members, np.cumsum(pop.weight[members], dtype=np.float64))
