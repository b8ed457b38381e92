"""Facilities in the tiers and proportions of a real province (domain README, "Facts for realistic
data"): provincial hospitals and centres, regional health centres (the former district centres),
one commune station per commune, private hospitals and clinics. Counts scale with the population
so a 5,000-person demo province stays small; a 1.7 M province gets Đồng Tháp's numbers."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from khoyte.synth.geography import Geography

TIER_VI = {
    "tinh": "Tuyến tỉnh",
    "khu_vuc": "Tuyến huyện / khu vực",
    "xa": "Tuyến xã",
    "tu_nhan": "Tư nhân",
}

# Provincial units and the specialty that biases their case mix (see clinical.PROFILE_BIAS).
_PROVINCIAL = (
    ("Bệnh viện Đa khoa tỉnh {p}", "general", 850),
    ("Bệnh viện Sản – Nhi {p}", "obs_paed", 400),
    ("Bệnh viện Đa khoa khu vực {c}", "general", 450),
    ("Bệnh viện Y dược cổ truyền {p}", "traditional", 200),
    ("Bệnh viện Phổi {p}", "lung", 180),
    ("Bệnh viện Tâm thần {p}", "mental", 150),
    ("Bệnh viện Mắt {p}", "eye", 80),
    ("Bệnh viện Đa khoa khu vực {c}", "general", 350),
    ("Bệnh viện Phục hồi chức năng {p}", "traditional", 120),
    ("Bệnh viện Quân dân y {p}", "general", 250),
    ("Bệnh viện Da liễu {p}", "skin", 60),
    ("Trung tâm Kiểm soát bệnh tật tỉnh {p}", "general", 30),
    ("Bệnh viện Đa khoa khu vực {c}", "general", 300),
    ("Bệnh viện Ung bướu {p}", "general", 300),
)


@dataclass(frozen=True, slots=True)
class Facility:
    index: int
    code: str  # MA_CSKCB: 5 digits, the first two the province code
    name: str
    tier: str  # tinh | khu_vuc | xa | tu_nhan
    kind: str  # hospital | centre | station | private_hospital | clinic
    # case-mix profile: general, obs_paed, lung, mental, eye, skin, traditional, station, clinic
    profile: str
    commune: int  # index into Geography.communes
    beds: int
    staff: int
    weight: float  # relative share of its tier's visits


def _clamp(x: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, round(x)))


def build_facilities(geo: Geography, population: int, rng: np.random.Generator) -> list[Facility]:
    p = geo.province_name.removeprefix("Tỉnh ").removeprefix("Thành phố ")
    n_comm = len(geo.communes)
    by_size = [int(i) for i in np.argsort(-geo.weights, kind="stable")]
    urban = [i for i in by_size if geo.communes[i].urban] or by_size
    out: list[Facility] = []

    def add(
        name: str,
        tier: str,
        kind: str,
        profile: str,
        commune: int,
        beds: int,
        staff: int,
        weight: float,
    ) -> None:
        out.append(
            Facility(
                len(out),
                f"{geo.province}{len(out) + 1:03d}",
                name,
                tier,
                kind,
                profile,
                commune,
                beds,
                staff,
                weight,
            )
        )

    n_prov = _clamp(population / 120_000, 2, len(_PROVINCIAL))
    for k in range(n_prov):
        template, profile, beds = _PROVINCIAL[k]
        c = urban[k % len(urban)] if k < 2 else by_size[(3 * k) % n_comm]
        name = template.format(p=p, c=geo.communes[c].name.split(" ", 1)[1])
        add(name, "tinh", "hospital", profile, c, beds, int(beds * 1.35), beds / 100)
    n_reg = _clamp(population / 140_000, 1, 13)
    for k in range(n_reg):
        c = by_size[(2 * k + 1) % n_comm]
        beds = int(rng.integers(90, 260))
        add(
            f"Trung tâm Y tế khu vực {geo.communes[c].name.split(' ', 1)[1]}",
            "khu_vuc",
            "centre",
            "general",
            c,
            beds,
            int(beds * 1.5),
            beds / 100,
        )
    n_priv = _clamp(population / 340_000, 0, 6)
    for k in range(n_priv):
        c = urban[(k + 2) % len(urban)]
        beds = int(rng.integers(40, 160))
        add(
            f"Bệnh viện Đa khoa tư nhân {_PRIVATE_NAMES[k % len(_PRIVATE_NAMES)]}",
            "tu_nhan",
            "private_hospital",
            "general",
            c,
            beds,
            int(beds * 1.1),
            beds / 100,
        )
    for i, c_ in enumerate(geo.communes):
        add(
            f"Trạm Y tế {c_.name}",
            "xa",
            "station",
            "station",
            i,
            int(rng.integers(3, 6)),
            int(rng.integers(5, 10)),
            1.0,
        )
    # Facility codes have three free digits: what is left after the public units caps clinics.
    room = 999 - len(out)
    n_clin = min(room, _clamp(population / 2_500, 1, 2_000))
    for k in range(n_clin):
        c = int(rng.choice(n_comm, p=geo.weights))
        brand = _PRIVATE_NAMES[k % len(_PRIVATE_NAMES)]
        add(
            f"Phòng khám đa khoa {brand} {k // len(_PRIVATE_NAMES) + 1}",
            "tu_nhan",
            "clinic",
            "clinic",
            c,
            int(rng.integers(0, 4)),
            int(rng.integers(3, 12)),
            float(rng.gamma(2.0, 0.5)),
        )
    return out


_PRIVATE_NAMES = (
    "Phương Châu",
    "Hòa Hảo",
    "Tâm Đức",
    "Minh Tâm",
    "An Phước",
    "Thiện Tâm",
    "Hồng Đức",
    "Sài Gòn",
    "Mekong",
    "Cửu Long",
    "Bình An",
    "Nhân Ái",
)


def write_facilities_csv(
    path: Path, facilities: list[Facility], geo: Geography, extra: Sequence[Sequence[object]] = ()
) -> None:
    """``facilities.csv`` for the gateway and warehouse to import (columns documented in
    docs/synth.md); ``extra`` lines after the facilities (the assessment council)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            ["ma_cskcb", "ten", "tuyen", "loai", "ma_xa", "ten_xa", "ma_tinh", "giuong", "nhan_luc"]
        )
        for f in facilities:
            c = geo.communes[f.commune]
            w.writerow(
                [f.code, f.name, f.tier, f.kind, c.code, c.name, geo.province, f.beds, f.staff]
            )
        w.writerows(extra)
