"""The ground truth: what was generated, counted the way the dashboards count it.

Measures per visit (``MEASURES``): visits; emergencies (``MA_DOITUONG_KCB`` = 2, QĐ 4210
``MA_LYDO_VVIEN`` = 2); deaths (``KET_QUA_DTRI`` 5 or 8); bed-days (sum of ``SO_NGAY_DTRI``);
``T_TONGCHI_BV``, ``T_BHTT`` and patient-paid (``T_BNTT`` + ``T_BNCCT``) in VND; BHYT records
(visits with a ``MA_THE_BHYT``). The layout is documented in docs/synth.md.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from khoyte.synth.exporters import Family
from khoyte.synth.visits import Fact

MEASURES = (
    "visits",
    "emergencies",
    "deaths",
    "bed_days",
    "t_tongchi_bv",
    "t_bhtt",
    "patient_paid",
    "bhyt_records",
)
_MONEY = {"t_tongchi_bv", "t_bhtt", "patient_paid"}


def _zeros() -> list[int]:
    return [0] * len(MEASURES)


def _vector(f: Fact) -> tuple[int, ...]:
    return (1, int(f.emergency), int(f.death), f.bed_days, f.bv, f.bhtt, f.patient, int(f.bhyt))


class Cube:
    """Measures summed by a key; money kept in cents until written."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, ...], list[int]] = defaultdict(_zeros)  # picklable for workers

    def add(self, key: tuple[str, ...], vec: tuple[int, ...]) -> None:
        cell = self.cells[key]
        for i, v in enumerate(vec):
            cell[i] += v

    def merge(self, other: Cube) -> None:
        for k, v in other.cells.items():
            self.add(k, tuple(v))

    def rows(self) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
        return [(k, measures(v)) for k, v in sorted(self.cells.items())]

    def write_csv(self, path: Path, columns: tuple[str, ...]) -> None:
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow([*columns, *MEASURES])
            for key, vals in sorted(self.cells.items()):
                w.writerow([*key, *(_fmt(m, v) for m, v in zip(MEASURES, vals, strict=True))])


def _fmt(name: str, v: int) -> str:
    return str(Decimal(v).scaleb(-2)) if name in _MONEY else str(v)


def measures(vals: list[int]) -> dict[str, Any]:
    return {
        m: (str(Decimal(v).scaleb(-2)) if m in _MONEY else v)
        for m, v in zip(MEASURES, vals, strict=True)
    }


class Truth:
    """Everything the manifest counts, mergeable so facility-days can be generated anywhere."""

    def __init__(self) -> None:
        self.daily = Cube()  # (date, facility, MA_LOAI_KCB)
        self.monthly = Cube()  # (month, facility, MA_LOAI_KCB, GIOI_TINH, age band, ICD chapter)
        self.residence = Cube()  # (month, MAXA_CU_TRU, MA_LOAI_KCB, GIOI_TINH, age band)
        self.codes: Counter[tuple[str, str]] = Counter()  # (month, MA_BENH_CHINH)
        # (month, facility, MA_LOAI_KCB, age band, MA_BENH_CHINH): truth/conditions.csv
        self.conditions = Cube()
        # (month, facility, table, field, value) → papers: truth/papers.csv
        self.papers: Counter[tuple[str, str, str, str, str]] = Counter()
        self.other: Counter[str] = Counter()
        self.outbreak_cases: Counter[tuple[int, str]] = Counter()  # (outbreak, ISO week start)

    def add(self, f: Fact, facility: str, commune: str) -> None:
        vec = _vector(f)
        month = f"{f.day:%Y-%m}"
        self.daily.add((f.day.isoformat(), facility, f.visit_type), vec)
        self.monthly.add((month, facility, f.visit_type, f.sex, f.band, f.chapter), vec)
        self.residence.add((month, commune, f.visit_type, f.sex, f.band), vec)
        self.codes[(month, f.code)] += 1
        self.conditions.add((month, facility, f.visit_type, f.band, f.code), vec)
        for table, name, value in f.papers:
            self.papers[(month, facility, table, name, value)] += 1
        o = self.other
        o["qd130_visits"] += f.standard == "QD130"
        o["qd130_with_cccd"] += f.cccd
        o["referrals"] += f.referral
        o["appointments"] += f.appointment
        o["births"] += f.birth
        o["name_variants"] += f.name_variant >= 0
        o["card_changed_visits"] += f.card_version > 0
        if f.outbreak >= 0:
            o["outbreak_visits"] += 1
            self.outbreak_cases[(f.outbreak, f.day.isoformat())] += 1

    def merge(self, other: Truth) -> None:
        self.daily.merge(other.daily)
        self.monthly.merge(other.monthly)
        self.residence.merge(other.residence)
        self.codes.update(other.codes)
        self.conditions.merge(other.conditions)
        self.papers.update(other.papers)
        self.other.update(other.other)
        self.outbreak_cases.update(other.outbreak_cases)

    def write_papers(self, path: Path) -> None:
        """``truth/papers.csv``: papers generated per month (of the visit's ``NGAY_VAO``) ×
        facility × table, and among them how many carry each value of the fields counted
        (``visits.PAPER_FACTS``; field ``*`` counts the rows)."""
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["month", "ma_cskcb", "table", "field", "value", "papers"])
            for key, n in sorted(self.papers.items()):
                w.writerow([*key, n])

    def by(self, index: int) -> dict[str, dict[str, Any]]:
        """Totals by one column of the monthly cube (0 month, 1 facility, 2 type, 3 sex, 4 band,
        5 chapter)."""
        acc: dict[str, list[int]] = defaultdict(lambda: [0] * len(MEASURES))
        for key, vals in self.monthly.cells.items():
            cell = acc[key[index]]
            for i, v in enumerate(vals):
                cell[i] += v
        return {k: measures(v) for k, v in sorted(acc.items())}

    def totals(self) -> dict[str, Any]:
        tot = [0] * len(MEASURES)
        for vals in self.monthly.cells.values():
            for i, v in enumerate(vals):
                tot[i] += v
        return measures(tot)

    def top_codes(self, limit: int | None = None) -> list[dict[str, Any]]:
        acc: Counter[str] = Counter()
        for (_, code), n in self.codes.items():
            acc[code] += n
        ranked = sorted(acc.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"code": c, "visits": n} for c, n in ranked[:limit]]


def exporters_manifest(
    families: dict[str, Family], assignment: dict[str, str], counts: Counter[str]
) -> dict[str, Any]:
    """The manifest's ``exporters``: each family's conventions (code → share of the records it
    can apply to), placeholders and format variants; each facility's family; how many records
    each convention, placeholder kind and format variant changed. Per record:
    ``truth/exporters.jsonl`` (``exporter_records``)."""
    used = sorted(set(assignment.values()))
    return {
        "mode": "families",
        "families": {
            name: {
                "vi": families[name].vi,
                "en": families[name].en,
                "conventions": families[name].conventions,
                "placeholders": families[name].placeholders,
                "formats": families[name].formats,
            }
            for name in used
        },
        "by_facility": assignment,
        "records_file": "truth/exporters.jsonl",
        "counts": {
            kind: {k.split(":", 1)[1]: n for k, n in sorted(counts.items()) if k.startswith(kind)}
            for kind in ("convention", "placeholder", "format")
        },
    }


def exporter_records(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """``truth/exporters.jsonl`` by (file, MA_LK): per record its family, the convention codes
    and placeholders (table, field, kind) its exporter applied, its format variants and the
    truth of its computed measures (days, bed-days, drug cost, money)."""
    path = root / "truth" / "exporters.jsonl"
    out: dict[tuple[str, str], dict[str, Any]] = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            out[(rec["file"], rec["ma_lk"])] = rec
    return out
