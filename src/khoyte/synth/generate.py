"""Orchestration: build the province, then generate day by day, facility by facility, writing each
facility-day (or visit) to disk at once and keeping only counters — memory stays constant however
long the period. With ``jobs > 1`` days are generated in worker processes; every facility-day has
its own seed, and results are merged in day order, so the output is byte-identical for any
number of jobs."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from khoyte.standards.model import Standard
from khoyte.synth.assessments import council_row, write_assessments
from khoyte.synth.defects import Defect, FileDefects, plan_file, render
from khoyte.synth.exporter_bytes import document_writer, finish
from khoyte.synth.exporters import MODES, Applied, apply, assign_families, families
from khoyte.synth.facilities import TIER_VI, write_facilities_csv
from khoyte.synth.fastwrite import envelope
from khoyte.synth.manifest import MEASURES, Truth, exporters_manifest, measures
from khoyte.synth.people import REPORT_BANDS
from khoyte.synth.province import VISITS_PER_PERSON_YEAR, Province, build_province
from khoyte.synth.visits import Fact, Outbreak, followup_visit, generate_day, standard_for


@dataclass(frozen=True, slots=True)
class SynthConfig:
    seed: int = 1
    population: int = 5000
    start: date = date(2025, 1, 1)
    end: date = date(2025, 3, 31)
    province: str = "82"
    dirty: float = 0.0
    per_visit: bool = False
    outbreaks: tuple[Outbreak, ...] = ()
    jobs: int = 1
    aggregates: bool = True
    aggregates_from: date | None = None  # aggregate reports from this month (years of history)
    exporters: str = "standard"  # or "families" (docs/synth.md, "Exporter families")
    exporter_cdata: bool = False  # family B writes inner tables as CDATA (off by default)
    # share of same-day referrals (XML13) followed by a visit of the person at the destination
    # that day (0: none, the outputs of a seed unchanged; truth/episodes.csv says who went)
    referral_followup: float = 0.0
    # programme reports of IOC groups 6 and 7 and a plan at the synthetic province's scale
    # (synth/programmes.py; off: the outputs of a seed unchanged)
    programmes: bool = False

    def days(self) -> Iterator[date]:
        d = self.start
        while d <= self.end:
            yield d
            d += timedelta(days=1)


@dataclass(slots=True)
class DayResult:
    truth: Truth
    visits_csv: str
    defects: list[Defect]
    files: int
    bytes: int
    persons: np.ndarray
    by_standard: dict[str, int] = field(default_factory=dict)
    exporter_lines: list[str] = field(default_factory=list)  # truth/exporters.jsonl
    exporter_counts: Counter[str] = field(default_factory=Counter)
    episodes_csv: str = ""  # truth/episodes.csv


# chuyen_tuyen: 1 when the visit ended in a referral (MA_LOAI_RV 2), with or without a paper
EPISODE_HEADER = (
    "ma_cskcb,ma_lk,person_id,ngay_vao,ngay_ra,ma_loai_kcb,died,chuyen_tuyen,ma_noi_den\n"
)


def _followups(
    prov: Province, planned: dict[int, list[tuple[Any, Fact]]], day: date, share: float
) -> None:
    """Add to the destinations' lists the visits of referred persons who went there the day
    they were referred (a stream of its own: the other visits' draws are unchanged)."""
    r = random.Random(hash_seed(prov.seed, 6, day.toordinal()))
    index = {f.code: f.index for f in prov.facilities}
    for fac_index in sorted(planned):
        for _, fact in list(planned[fac_index]):
            if fact.referred_to is None or fact.end_day != day or r.random() >= share:
                continue
            dest = index[fact.referred_to]
            visits = planned.setdefault(dest, [])
            seq = max((int(f.ma_lk[-5:]) for _, f in visits), default=0) + 1
            visits.append(followup_visit(prov, dest, day, seq, fact.person, fact.code, r))


_STATE: dict[str, Any] = {}
# exporter families go to hospitals first (where inpatient conventions show; province.VISIT_TYPES)
_RANK = {"hospital": 0, "private_hospital": 0, "centre": 1}


def _day(ordinal: int) -> DayResult:
    prov: Province = _STATE["prov"]
    cfg: SynthConfig = _STATE["cfg"]
    out: Path = _STATE["out"]
    day = date.fromordinal(ordinal)
    truth = Truth()
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    defects: list[Defect] = []
    files = 0
    size = 0
    by_std: dict[str, int] = {}
    folder = out / "xml" / day.isoformat()
    persons: list[int] = []
    codes = [f.code for f in prov.facilities]
    family_of = _STATE.get("families")
    exporter_lines: list[str] = []
    exporter_counts: Counter[str] = Counter()
    planned = {f.index: generate_day(prov, f.index, day, list(cfg.outbreaks))
               for f in prov.facilities}  # fmt: skip
    if cfg.referral_followup > 0:
        _followups(prov, planned, day, cfg.referral_followup)
    ep = csv.writer(episodes := io.StringIO(), lineterminator="\n")
    for fac in prov.facilities:
        visits = planned[fac.index]
        if not visits:
            continue
        applied: dict[str, Applied] = {}
        family = family_of[fac.code] if family_of is not None else None
        document = document_writer(family) if family is not None else None
        if family is not None:
            # a stream of its own: the visits' draws stay those of --exporters standard
            er = random.Random(hash_seed(prov.seed, 5, fac.index, ordinal))
            for rec, fact in visits:
                applied[rec.ma_lk] = apply(rec, fact, family, er)
        folder.mkdir(parents=True, exist_ok=True)
        std = standard_for(day)
        groups = [[v] for v in visits] if cfg.per_visit else [visits]
        dr = random.Random(hash_seed(prov.seed, 3, fac.index, ordinal))
        for group in groups:
            records = [rec for rec, _ in group]
            rel = (
                f"xml/{day.isoformat()}/{fac.code}/{records[0].ma_lk}.xml"
                if cfg.per_visit
                else f"xml/{day.isoformat()}/{fac.code}.xml"
            )
            created = max(f.day for _, f in group)
            for rec, fact in group:
                created = max(created, (rec.episode.discharged or rec.episode.admitted).date())  # type: ignore[union-attr]
                truth.add(fact, fac.code, prov.geo.communes[fact.commune].code)
                ep.writerow([fac.code, fact.ma_lk, fact.person, fact.day.isoformat(),
                             fact.end_day.isoformat() if fact.end_day else "", fact.visit_type,
                             int(fact.death), int(fact.referral), fact.referred_to or ""])  # fmt: skip
                w.writerow(
                    [
                        fact.ma_lk,
                        rel,
                        fac.code,
                        fact.person,
                        fact.card_version,
                        fact.name_variant,
                        int(fact.cccd),
                        fact.outbreak,
                    ]
                )
                persons.append(fact.person)
                if family is not None:
                    a = applied[fact.ma_lk]
                    exporter_lines.append(
                        json.dumps(a.as_dict(rel, fact.ma_lk, fac.code), ensure_ascii=False)
                    )
                    exporter_counts.update(f"convention:{c}" for c in a.conventions)
                    exporter_counts.update(f"placeholder:{p[2]}" for p in a.placeholders)
                    exporter_counts.update(f"format:{f}" for f in a.formats)
            if cfg.dirty > 0:
                plan = plan_file(records, rel, cfg.dirty, dr, codes)
                data = (
                    render(plan, fac.code, created, document)
                    if not plan.copy
                    else envelope(records, fac.code, created, std, document)
                )
                defects.extend(plan.defects)
            else:
                plan = FileDefects(records)
                data = envelope(records, fac.code, created, std, document)
            if family is not None:
                data = finish(data, family, records, document, cfg.exporter_cdata)
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files += 1
            size += len(data)
            by_std[std.value] = by_std.get(std.value, 0) + 1
            if plan.copy:
                copy_rel = rel.removesuffix(".xml") + "-gui-lai.xml"
                (out / copy_rel).write_bytes(data)
                defects.append(Defect("duplicate_file", copy_rel, None, None, None, rel, []))
                files += 1
                size += len(data)
                by_std[std.value] += 1
    return DayResult(
        truth,
        buf.getvalue(),
        defects,
        files,
        size,
        np.unique(np.array(persons, dtype=np.int32)),
        by_std,
        exporter_lines,
        exporter_counts,
        episodes.getvalue(),
    )


def hash_seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1, dtype=np.uint64)[0])


ProgressFn = Callable[[date, int], None]


def run(cfg: SynthConfig, out: Path, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Generate the province into ``out``; returns the manifest (also written as manifest.json)."""
    if cfg.end < cfg.start:
        raise ValueError("--end trước --start / --end is before --start")
    if cfg.exporters not in MODES:
        raise ValueError(f"--exporters: {cfg.exporters!r} ∉ {', '.join(MODES)}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    prov = build_province(cfg.seed, cfg.province, cfg.population, cfg.start)
    for ob in cfg.outbreaks:
        prov.geo.index(ob.commune)  # fails early on a commune outside the province
    write_facilities_csv(out / "facilities.csv", prov.facilities, prov.geo, [council_row(prov)])
    _STATE.update(prov=prov, cfg=cfg, out=out)
    fams = families(cfg.exporter_cdata)
    assignment: dict[str, str] = {}
    if cfg.exporters == "families":
        beds = [(f.code, _RANK.get(f.kind, 2)) for f in prov.facilities]
        assignment = assign_families(beds, hash_seed(prov.seed, 41))
        _STATE["families"] = {code: fams[name] for code, name in assignment.items()}
    exporter_counts: Counter[str] = Counter()
    ef = (out / "truth" / "exporters.jsonl").open("w", encoding="utf-8") if assignment else None
    truth = Truth()
    defects: list[Defect] = []
    files = 0
    size = 0
    by_std: dict[str, int] = {}
    seen = np.zeros(prov.pop.size, dtype=bool)
    ordinals = [d.toordinal() for d in cfg.days()]
    with (
        (out / "truth" / "visits.csv").open("w", encoding="utf-8", newline="") as vf,
        (out / "truth" / "episodes.csv").open("w", encoding="utf-8", newline="") as epf,
    ):
        vf.write("ma_lk,file,ma_cskcb,person_id,card_version,name_variant,cccd_written,outbreak\n")
        epf.write(EPISODE_HEADER)
        if cfg.jobs > 1:
            ctx = multiprocessing.get_context("fork")
            with ctx.Pool(cfg.jobs) as pool:
                results: Iterator[DayResult] = pool.imap(_day, ordinals, chunksize=1)
                for o, res in zip(ordinals, results, strict=True):
                    files, size = _collect(
                        res, truth, defects, (vf, epf), seen, by_std, files, size
                    )
                    _collect_exporters(res, ef, exporter_counts)
                    if progress:
                        progress(date.fromordinal(o), int(res.truth.totals()["visits"]))
        else:
            for o in ordinals:
                res = _day(o)
                files, size = _collect(res, truth, defects, (vf, epf), seen, by_std, files, size)
                _collect_exporters(res, ef, exporter_counts)
                if progress:
                    progress(date.fromordinal(o), int(res.truth.totals()["visits"]))
    _STATE.clear()
    if ef is not None:
        ef.close()
    truth.daily.write_csv(out / "truth" / "daily.csv", ("date", "ma_cskcb", "ma_loai_kcb"))
    truth.monthly.write_csv(
        out / "truth" / "monthly.csv",
        ("month", "ma_cskcb", "ma_loai_kcb", "gioi_tinh", "age_band", "icd10_chapter"),
    )
    truth.residence.write_csv(
        out / "truth" / "residence.csv",
        ("month", "maxa_cu_tru", "ma_loai_kcb", "gioi_tinh", "age_band"),
    )
    truth.conditions.write_csv(
        out / "truth" / "conditions.csv",
        ("month", "ma_cskcb", "ma_loai_kcb", "age_band", "ma_benh_chinh"),
    )
    truth.write_papers(out / "truth" / "papers.csv")
    _write_persons(out / "truth" / "persons.csv", prov, seen)
    manifest = _manifest(cfg, prov, truth, defects, files, size, by_std, int(seen.sum()))
    # the council's XML12 documents (a stream of their own; not in "files", which counts claims)
    manifest["assessments"] = write_assessments(out, cfg, prov)
    manifest["truth_files"]["assessments"] = manifest["assessments"]["truth"]
    if assignment:
        manifest["parameters"].update(exporters=cfg.exporters, exporter_cdata=cfg.exporter_cdata)
        manifest["exporters"] = exporters_manifest(fams, assignment, exporter_counts)
        manifest["truth_files"]["exporters"] = "truth/exporters.jsonl"
    if cfg.referral_followup > 0:
        manifest["parameters"]["referral_followup"] = cfg.referral_followup
    if cfg.aggregates:
        from khoyte.synth.aggregates import write_aggregates

        manifest["aggregates"] = write_aggregates(out / "aggregates", cfg, prov, truth)
        if cfg.programmes:
            from khoyte.synth.programmes import write_programmes

            manifest["aggregates"]["programmes"] = write_programmes(out / "aggregates", cfg, prov)
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return manifest


def _collect(
    res: DayResult,
    truth: Truth,
    defects: list[Defect],
    out: tuple[io.TextIOBase, io.TextIOBase],  # truth/visits.csv, truth/episodes.csv
    seen: np.ndarray,
    by_std: dict[str, int],
    files: int,
    size: int,
) -> tuple[int, int]:
    truth.merge(res.truth)
    defects.extend(res.defects)
    out[0].write(res.visits_csv)
    out[1].write(res.episodes_csv)
    seen[res.persons] = True
    for k, v in res.by_standard.items():
        by_std[k] = by_std.get(k, 0) + v
    return files + res.files, size + res.bytes


def _collect_exporters(res: DayResult, ef: io.TextIOBase | None, counts: Counter[str]) -> None:
    if ef is not None:
        ef.writelines(line + "\n" for line in res.exporter_lines)
    counts.update(res.exporter_counts)


def _write_persons(path: Path, prov: Province, seen: np.ndarray) -> None:
    """True identities of everyone who visited: what record linkage should recover."""
    pop = prov.pop
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            [
                "person_id",
                "ho_ten",
                "ngay_sinh",
                "gioi_tinh",
                "maxa_cu_tru",
                "so_cccd",
                "ma_the_bhyt",
            ]
        )
        for pid in np.flatnonzero(seen).tolist():
            card = pop.card_on(pid, prov.pop.anchor)
            w.writerow(
                [
                    pid,
                    pop.name(pid),
                    pop.birth_date(pid).isoformat(),
                    "1" if pop.male[pid] else "2",
                    prov.geo.communes[int(pop.commune[pid])].code,
                    pop.cccd_number(pid) or "",
                    card[0] if card else "",
                ]
            )


def _manifest(
    cfg: SynthConfig,
    prov: Province,
    truth: Truth,
    defects: list[Defect],
    files: int,
    size: int,
    by_std: dict[str, int],
    persons_seen: int,
) -> dict[str, Any]:
    days = (cfg.end - cfg.start).days + 1
    tot = truth.totals()
    visits = int(tot["visits"])
    person_years = cfg.population * days / 365.25
    by_facility = truth.by(1)
    by_tier: dict[str, list[int]] = {}
    fac_by_code = {f.code: f for f in prov.facilities}
    for code, m in by_facility.items():
        tier = fac_by_code[code].tier
        acc = by_tier.setdefault(tier, [0] * len(MEASURES))
        for i, name in enumerate(MEASURES):
            acc[i] += (
                round(float(m[name]) * 100)
                if name in ("t_tongchi_bv", "t_bhtt", "patient_paid")
                else int(m[name])
            )
    pop = prov.pop
    ages = (cfg.start.toordinal() - pop.birth) // 365
    pyramid: dict[str, dict[str, int]] = {}
    for lo, hi, label in REPORT_BANDS:
        inband = (ages >= lo) & (ages <= hi)
        pyramid[label] = {"1": int((inband & pop.male).sum()), "2": int((inband & ~pop.male).sum())}
    o = truth.other
    qd130 = o["qd130_visits"]
    icd_by_month: dict[str, dict[str, int]] = {}
    for (month, code), n in sorted(truth.codes.items()):
        icd_by_month.setdefault(month, {})[code] = n
    return {
        "generator": "khoyte synth",
        "layout_version": 1,
        "parameters": {
            "seed": cfg.seed,
            "province": cfg.province,
            "population": cfg.population,
            "start": cfg.start.isoformat(),
            "end": cfg.end.isoformat(),
            "dirty": cfg.dirty,
            "per_visit": cfg.per_visit,
            "outbreaks": [
                f"{ob.code},{ob.commune},{ob.start.isoformat()},{ob.weeks},{ob.factor}"
                for ob in cfg.outbreaks
            ],
        },
        "province": {
            "code": prov.geo.province,
            "name": prov.geo.province_name,
            "communes": len(prov.geo.communes),
            "facilities": len(prov.facilities),
            "facilities_by_tier": {
                t: sum(1 for f in prov.facilities if f.tier == t) for t in TIER_VI
            },
        },
        "files": {"count": files, "bytes": size, "by_standard": dict(sorted(by_std.items()))},
        "measures": list(MEASURES),
        "totals": tot,
        "visits_per_person_year": round(visits / person_years, 4) if person_years else 0.0,
        "targets": {
            "visits_per_person_year": VISITS_PER_PERSON_YEAR,
            "share_without_cccd": 0.20,
            "share_with_bhyt": 0.90,
        },
        "by_facility": by_facility,
        "by_tier": {k: measures(v) for k, v in sorted(by_tier.items())},
        "by_month": truth.by(0),
        "by_visit_type": truth.by(2),
        "by_sex": truth.by(3),
        "by_age_band": truth.by(4),
        "by_icd10_chapter": truth.by(5),
        "top_icd10": truth.top_codes(20),
        "icd10_by_month": icd_by_month,
        "population": {"size": cfg.population, "by_age_band_sex": pyramid},
        "identity": {
            "persons_with_visits": persons_seen,
            "qd130_visits": qd130,
            "share_without_cccd": round(1 - o["qd130_with_cccd"] / qd130, 4) if qd130 else None,
            "name_variant_visits": o["name_variants"],
            "card_changed_visits": o["card_changed_visits"],
        },
        "events": {
            "referrals": o["referrals"],
            "appointments": o["appointments"],
            "births": o["births"],
        },
        "outbreaks": [
            {
                "icd10": ob.code,
                "commune": ob.commune,
                "start": ob.start.isoformat(),
                "weeks": ob.weeks,
                "factor": ob.factor,
                "injected_visits": sum(n for (k, _), n in truth.outbreak_cases.items() if k == i),
                "by_day": {d: n for (k, d), n in sorted(truth.outbreak_cases.items()) if k == i},
            }
            for i, ob in enumerate(cfg.outbreaks)
        ],
        "defects": [d.as_dict() for d in defects],
        "truth_files": {
            "facilities": "facilities.csv",
            "visits": "truth/visits.csv",
            "episodes": "truth/episodes.csv",
            "persons": "truth/persons.csv",
            "daily": "truth/daily.csv",
            "monthly": "truth/monthly.csv",
            "residence": "truth/residence.csv",
        },
        "standards": {
            s.value: "QĐ 130/4750" if s is Standard.QD130 else "QĐ 4210" for s in Standard
        },
        "age_bands": [label for _, _, label in REPORT_BANDS],
    }
