"""Distributions of a medium run against their targets, with stated tolerances.

One year of a 1,500-person province (≈3,600 visits): enough for the shares below to sit well
inside their tolerances (binomial standard errors are ≈0.7 percentage points) and small enough to
run in seconds.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from khoyte.synth.people import AGE_BANDS
from khoyte.synth.province import KIND_SHARE, VISIT_TYPES
from tests.synth_helpers import generate

pytestmark = pytest.mark.slow  # large synthetic populations: half a minute


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder: Path = tmp_path_factory.mktemp("year")
    generate(
        folder,
        seed=4,
        population=1500,
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        aggregates=False,
    )
    return folder


@pytest.fixture(scope="module")
def year(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_visits_per_person_year(year: dict) -> None:  # type: ignore[type-arg]
    assert year["visits_per_person_year"] == pytest.approx(2.4, abs=0.15)


def test_visit_type_shares(year: dict) -> None:  # type: ignore[type-arg]
    present = {
        "hospital",
        "centre",
        "station",
        "clinic",
    }  # a 1,500-person province has no private hospital
    norm = sum(KIND_SHARE[k] for k in present)
    expected: dict[str, float] = {}
    for kind in present:
        total = sum(w for _, w in VISIT_TYPES[kind])
        for t, w in VISIT_TYPES[kind]:
            expected[t] = expected.get(t, 0.0) + KIND_SHARE[kind] / norm * w / total
    visits = year["totals"]["visits"]
    for t in ("01", "03", "05", "07"):
        share = year["by_visit_type"].get(t, {"visits": 0})["visits"] / visits
        assert share == pytest.approx(expected[t], abs=0.03), t


def test_population_age_sex_structure(year: dict) -> None:  # type: ignore[type-arg]
    pyr = year["population"]["by_age_band_sex"]
    size = year["population"]["size"]
    male = sum(v["1"] for v in pyr.values()) / size
    assert male == pytest.approx(0.497, abs=0.03)
    under5 = sum(pyr["0-4"].values()) / size
    assert under5 == pytest.approx(AGE_BANDS[0] / 100, abs=0.015)
    over60 = (sum(pyr["60-79"].values()) + sum(pyr["80+"].values())) / size
    assert over60 == pytest.approx(sum(AGE_BANDS[12:]) / 100, abs=0.02)


def test_visits_by_sex_and_age(year: dict) -> None:  # type: ignore[type-arg]
    visits = year["totals"]["visits"]
    women = year["by_sex"]["2"]["visits"] / visits
    assert 0.48 <= women <= 0.58  # women consult a little more often
    # Young children and the old consult more than their share of the population.
    assert year["by_age_band"]["0-4"]["visits"] / visits > 0.10
    assert year["by_age_band"]["60-79"]["visits"] / visits > 0.12


def test_identity_shares(year: dict) -> None:  # type: ignore[type-arg]
    assert year["identity"]["share_without_cccd"] == pytest.approx(0.20, abs=0.05)
    assert year["totals"]["bhyt_records"] / year["totals"]["visits"] == pytest.approx(
        0.90, abs=0.04
    )
    assert year["identity"]["name_variant_visits"] > 0
    assert year["identity"]["card_changed_visits"] > 0


def test_seasons(year: dict) -> None:  # type: ignore[type-arg]
    by_month = year["icd10_by_month"]

    def count(prefixes: tuple[str, ...], months: tuple[int, ...]) -> int:
        return sum(
            n
            for m in months
            for c, n in by_month.get(f"2025-{m:02d}", {}).items()
            if c.startswith(prefixes)
        )

    def total(months: tuple[int, ...]) -> int:
        return sum(year["by_month"][f"2025-{m:02d}"]["visits"] for m in months)

    # Dengue in the rainy season (Jul–Oct) far above the dry season (Jan–Apr).
    assert count(("A97",), (7, 8, 9, 10)) > 2.5 * max(1, count(("A97",), (1, 2, 3, 4)))
    # Respiratory infections: a larger share of visits in the cool months than in April–June.
    cool = count(("J0", "J1", "J2"), (12, 1, 2)) / total((12, 1, 2))
    warm = count(("J0", "J1", "J2"), (4, 5, 6)) / total((4, 5, 6))
    assert cool > 1.1 * warm


def test_weekday_pattern(out: Path) -> None:
    per_weekday = [0] * 7
    with (out / "truth" / "daily.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            per_weekday[date.fromisoformat(row["date"]).weekday()] += int(row["visits"])
    mean = sum(per_weekday) / 7
    assert per_weekday[0] == pytest.approx(1.30 * mean, rel=0.12)  # Monday queues
    assert per_weekday[6] == pytest.approx(0.50 * mean, rel=0.2)  # quiet Sunday
    assert per_weekday[0] > per_weekday[4] > per_weekday[5] > per_weekday[6]


def test_deaths_and_events(year: dict) -> None:  # type: ignore[type-arg]
    assert year["events"]["referrals"] > 0
    assert year["events"]["appointments"] > 0
    inpatient = year["by_visit_type"]["03"]["visits"]
    assert 0 <= year["totals"]["deaths"] <= 0.05 * inpatient
