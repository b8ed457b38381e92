"""Programme reports of the IOC groups 6 and 7 and a plan at the synthetic province's scale
(``khoyte synth --programmes``; the demo uses it).

Per month one more file in ``aggregates/`` in the same long layout
(``{YYYY-MM}-chuong-trinh.csv``), from its own random stream (the other files of a seed are
unchanged): ``kiem_soat_benh`` (population protected by insecticide; new HIV positives by sex)
and ``giam_dinh`` (medical assessments by kind; forensic examinations by kind), for the
province. Their expected monthly values are the package plan's (``aggregate/data/targets.csv``)
twelfth, scaled by the synthetic population over :data:`PLAN_POPULATION`, the population that
plan is written for.

``aggregates/ke_hoach.csv`` is that plan scaled the same way (``indicator, orgunit, year,
target``; counts and money scaled, rates and ratios as they are), for ``khoyte aggregate
targets`` — so the demo's dashboards compare its small province with a plan of its size.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from khoyte.aggregate.metadata import load
from khoyte.synth.aggregates import COLUMNS, _months

if TYPE_CHECKING:
    from khoyte.synth.generate import SynthConfig
    from khoyte.synth.province import Province

# the population the package plan is written for: 25,000 births at 14.5 per 1,000
PLAN_POPULATION = 1_724_000
HIV_MALE = 0.70
ASSESSMENT_KINDS = {"lan_dau": 0.30, "benh_nghe_nghiep": 0.05, "tai_nan_lao_dong": 0.15,
                    "thuong_binh_cdhh": 0.15, "khuyet_tat": 0.20, "giam_dinh_khac": 0.15}  # fmt: skip
FORENSIC_KINDS = {"ma_tuy_ruou": 0.10, "thuong_tich": 0.55, "tuoi": 0.05, "tu_thi": 0.25,
                  "hiep_dam": 0.05}  # fmt: skip
# element -> the indicator whose plan sets its expected value
EXPECTED_FROM = {"dan_so_bao_ve_hoa_chat": "dan_so_bao_ve_hoa_chat",
                 "hiv_duong_tinh": "hiv_duong_tinh", "giam_dinh_y_khoa": "giam_dinh_y_khoa",
                 "phap_y": "giam_dinh_phap_y"}  # fmt: skip
DATASET = {"dan_so_bao_ve_hoa_chat": "kiem_soat_benh", "hiv_duong_tinh": "kiem_soat_benh",
           "giam_dinh_y_khoa": "giam_dinh", "phap_y": "giam_dinh"}  # fmt: skip


def _plan_year(
    targets: dict[tuple[str, str, int], float], code: str, unit: str, year: int
) -> float:
    years = sorted(y for c, u, y in targets if c == code and u == unit)
    if not years:
        return 0.0
    near = year if year in years else (years[-1] if year > years[-1] else years[0])
    return targets[(code, unit, near)]


def _scaled(code: str) -> bool:
    """Counts and money scale with the population; rates and ratios do not."""
    md = load()
    if code in md.claims:
        return True
    ind = md.indicators[code]
    return ind.denominator.strip() == "1"


def write_programmes(folder: Path, cfg: SynthConfig, prov: Province) -> dict[str, Any]:
    md = load()
    scale = cfg.population / PLAN_POPULATION
    unit, name = prov.geo.province, prov.geo.province_name
    package_unit = "82"  # the package plan's province
    files: list[str] = []
    first = cfg.aggregates_from or cfg.start
    months = _months(min(first, cfg.start), cfg.end)
    for month in months:
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 6, month.year, month.month]))
        label = f"{month:%Y-%m}"
        rows: list[tuple[Any, ...]] = []
        for element, indicator in EXPECTED_FROM.items():
            lam = _plan_year(md.targets, indicator, package_unit, month.year) / 12 * scale
            n = int(rng.poisson(lam))
            if element == "dan_so_bao_ve_hoa_chat":
                split = {"": n}
            elif element == "hiv_duong_tinh":
                boys = int(rng.binomial(n, HIV_MALE))
                split = {"nam": boys, "nu": n - boys}
            else:
                kinds = ASSESSMENT_KINDS if element == "giam_dinh_y_khoa" else FORENSIC_KINDS
                drawn = rng.multinomial(n, list(kinds.values()))
                split = {k: int(v) for k, v in zip(kinds, drawn, strict=True)}
            for coc, v in split.items():
                rows.append((DATASET[element], label, unit, name, element, coc, v))
        path = folder / f"{label}-chuong-trinh.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(COLUMNS)
            w.writerows(rows)
        files.append(path.name)
    years = sorted({m.year for m in months})
    plan_rows = []
    for code in sorted({c for c, u, _ in md.targets if u == package_unit}):
        for year in years:
            t = _plan_year(md.targets, code, package_unit, year)
            value = round(t * scale) if _scaled(code) else t
            plan_rows.append((code, unit, year, value))
    with (folder / "ke_hoach.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("indicator", "orgunit", "year", "target"))
        w.writerows(plan_rows)
    return {"files": files, "plan": "ke_hoach.csv", "plan_population": PLAN_POPULATION,
            "scale": round(scale, 6), "years": years,
            "first_month": f"{date(months[0].year, months[0].month, 1):%Y-%m}"}  # fmt: skip
