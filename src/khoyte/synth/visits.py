"""One facility-day of visits: who comes, why, what they get, what it costs — as canonical
``Record``s of QĐ 130/4750 (or QĐ 4210 before 01/09/2023), and the facts the manifest counts.

Everything random here comes from the generator passed in, which is seeded from (seed, facility,
day): a facility-day is the same whatever order or process generates it.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from khoyte.registry import icd10
from khoyte.standards.model import Record, Row, Standard
from khoyte.synth import care_papers, clinical
from khoyte.synth.clinical import Dx
from khoyte.synth.names import misspell
from khoyte.synth.people import BENEFIT, mix, report_band
from khoyte.synth.province import VISIT_TYPES, Province
from khoyte.synth.tables import Lines, build_record

QD130_FROM = date(2023, 9, 1)  # QĐ 130 replaces QĐ 4210 (Điều 4.4)
PAPERS_FROM = date(2024, 7, 1)  # QĐ 4750 tables XML13/XML14 in official use
KQ8_FROM = date(2024, 1, 1)  # KET_QUA_DTRI 8 (death outside hospital) added by QĐ 4750


@dataclass(frozen=True, slots=True)
class Outbreak:
    code: str
    commune: str
    start: date
    weeks: int
    factor: float

    @property
    def end(self) -> date:
        return self.start + timedelta(days=7 * self.weeks)

    def multiplier(self, day: date) -> float:
        """Extra cases relative to the usual level: a triangle over the weeks whose mean is
        ``factor − 1`` (so the outbreak multiplies the usual cases by ``factor`` on average)."""
        if not self.start <= day < self.end:
            return 0.0
        n = 7 * self.weeks
        t = (day - self.start).days + 0.5
        shape = 1.0 - abs(2.0 * t / n - 1.0)  # 0 → 1 → 0, mean 0.5
        return (self.factor - 1.0) * 2.0 * shape


@dataclass(slots=True)
class Fact:
    """What the manifest counts about one visit (the ground truth)."""

    ma_lk: str
    day: date
    facility: int
    person: int
    visit_type: str
    sex: str
    band: str
    commune: int
    code: str
    chapter: str
    emergency: bool
    death: bool
    bed_days: int
    bv: int
    bhtt: int
    patient: int
    bhyt: bool
    cccd: bool
    standard: str
    referral: bool
    appointment: bool
    birth: bool
    outbreak: int  # index of the injected outbreak, -1 if none
    card_version: int
    name_variant: int  # -1 exact, else the kind of misspelling
    end_day: date | None = None  # date of NGAY_RA
    referred_to: str | None = None  # MA_NOI_DEN of the referral paper (XML13) written
    papers: tuple[tuple[str, str, str], ...] = ()  # (table, field, value) of the papers written


# what truth/papers.csv counts of each paper: one ("*", "") per row, then these fields' values
PAPER_FACTS: dict[str, tuple[str, ...]] = {
    "XML7": ("MA_DINH_CHI_THAI",),
    "XML9": ("GIOI_TINH_CON", "LAN_SINH", "SINHCON_PHAUTHUAT", "SINHCON_DUOI32TUAN", "SO_CON_SONG",
             "CAN_NANG_CON"),
    "XML13": ("MA_LYDO_CT",),
    "XML6": ("NGAYKD_HIV",),
    "XML15": ("KET_QUA_DTRI_LAO", "PHANLOAI_LAO_HIV"),
}  # fmt: skip


def paper_facts(tables: dict[str, list[Row]]) -> tuple[tuple[str, str, str], ...]:
    """(table, field, value) of every paper row generated; a weight is told as under 2,500 g or
    not (``<2500`` / ``>=2500``), a date by its month (``2025-02``)."""
    out: list[tuple[str, str, str]] = []
    for table, fields in PAPER_FACTS.items():
        for row in tables.get(table, ()):
            out.append((table, "*", ""))
            for name in fields:
                v = row.get(name)
                weight = row.decimal(name) if name == "CAN_NANG_CON" else None
                if weight is not None:
                    out.append((table, name, "<2500" if weight < 2500 else ">=2500"))
                elif isinstance(v, date):
                    out.append((table, name, f"{v:%Y-%m}"))
                else:
                    out.append((table, name, "" if v is None else str(v)))
    return tuple(out)


def standard_for(day: date) -> Standard:
    return Standard.QD130 if day >= QD130_FROM else Standard.QD4210


def poisson(r: random.Random, lam: float) -> int:
    """A Poisson draw from Python's generator: most facility-days expect a handful of visits,
    where numpy's per-call overhead costs more than the draw."""
    if lam <= 0:
        return 0
    if lam > 60:
        return max(0, round(r.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, r.random()
    while p > limit:
        k += 1
        p *= r.random()
    return k


def generate_day(
    prov: Province, fac_index: int, day: date, outbreaks: list[Outbreak]
) -> list[tuple[Record, Fact]]:
    r = random.Random(mix(prov.seed, 2, fac_index, day.toordinal()))
    fac = prov.facilities[fac_index]
    n = poisson(r, prov.expected(fac_index, day))
    hiv = hiv_visits(prov, fac_index, day)  # a generator of their own: the others unchanged
    if n == 0 and not outbreaks and not hiv:
        return []
    people = prov.catchments[fac_index].sample(r, n)
    types, probs = _TYPES[fac.kind]
    chosen = r.choices(types, cum_weights=probs, k=n)
    plan: list[tuple[int, str, str | None, int]] = [
        (p, t, None, -1) for p, t in zip(people, chosen, strict=True)
    ]
    for k, ob in enumerate(outbreaks):
        plan += _outbreak_cases(prov, fac_index, day, ob, k, r)
    plan += hiv  # last: the visits before them draw what they drew without them
    return [
        _visit(prov, fac_index, day, seq, pid, vtype, forced, ob_index, r)
        for seq, (pid, vtype, forced, ob_index) in enumerate(plan, start=1)
    ]


def hiv_visits(prov: Province, fac_index: int, day: date) -> list[tuple[int, str, str | None, int]]:
    """The HIV care visits of a facility-day (``care_papers``), planned as the other visits:
    (person, visit type 05 or 07, main code B20–B24, no outbreak); none on Sundays or at a
    facility without a clinic."""
    clinics = care_papers.hiv_clinics(prov)
    if fac_index not in clinics or day.weekday() == 6:
        return []
    r = random.Random(mix(prov.seed, 9, fac_index, day.toordinal()))
    lam = prov.pop.size * care_papers.HIV_VISITS_PER_PERSON_DAY * 7 / 6 / len(clinics)
    people = prov.catchments[fac_index].sample(r, poisson(r, lam))
    return [(p, "05" if r.random() < 0.8 else "07", r.choice(care_papers.HIV_CODES), -1)
            for p in people]  # fmt: skip


_TYPES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    kind: (tuple(t for t, _ in shares), tuple(itertools.accumulate(w for _, w in shares)))
    for kind, shares in VISIT_TYPES.items()
}


def _outbreak_cases(
    prov: Province, fac_index: int, day: date, ob: Outbreak, k: int, r: random.Random
) -> list[tuple[int, str, str | None, int]]:
    m = ob.multiplier(day)
    fac = prov.facilities[fac_index]
    if m <= 0:
        return []
    c = prov.geo.index(ob.commune)
    # Cases go to the commune's station (60 %) and its regional centre (40 %).
    if fac.index == prov.station_of[c]:
        part = 0.6
    elif prov.regional_of and fac.index == prov.regional_of[c]:
        part = 0.4
    else:
        return []
    residents = prov.catchments[prov.station_of[c]]
    # The usual daily number of this diagnosis among the commune's residents, at least 0.3/day
    # so that a rare disease still makes a visible outbreak.
    per_day = float(prov.daily_share[prov.station_of[c]]) / 0.28 * 0.02
    n = poisson(r, max(per_day, 0.3) * m * part)
    people = residents.sample(r, n)
    vtype = "01" if fac.kind == "station" else ("03" if r.random() < 0.3 else "01")
    return [(int(p), vtype, ob.code, k) for p in people]


def _visit(
    prov: Province,
    fac_index: int,
    day: date,
    seq: int,
    pid: int,
    vtype: str,
    forced: str | None,
    ob_index: int,
    r: random.Random,
) -> tuple[Record, Fact]:
    fac = prov.facilities[fac_index]
    pop = prov.pop
    std = standard_for(day)
    born = pop.birth_date(pid)
    # Calendar age at admission, as anyone computes it from NGAY_SINH (days // 365 drifts by a
    # day per four years and put visits near a birthday in the next age band).
    age = max(0, day.year - born.year - ((day.month, day.day) < (born.month, born.day)))
    male = bool(pop.male[pid])
    month = day.month
    kind = (
        "in"
        if vtype in ("03", "04", "06")
        else ("chronic" if vtype in ("05", "07", "08") else "out")
    )
    if forced is not None:
        dx = clinical.BY_CODE.get(forced) or Dx(
            forced,
            icd10.description(forced) or forced,
            0.0,
            (1.0,) * 5,
            "A",
            "",
            1,
            False,
            ("fever",),
            ("cbc",),
        )
    else:
        items, cum = clinical.dx_table(fac.profile, kind, clinical.age_group(age), male, month)
        dx = items[min(bisect.bisect_right(cum, r.random()), len(items) - 1)]
    if dx.code in ("O80", "O82") and vtype not in ("03",):
        vtype = "03" if fac.kind != "station" else "06"
    emergency = (vtype in ("03", "04") and r.random() < 0.25 and dx.severity >= 1) or (
        vtype == "01" and fac.kind != "station" and r.random() < 0.03
    )
    # Times: outpatients in opening hours, emergencies around the clock.
    if emergency:
        start = datetime(day.year, day.month, day.day, r.randrange(24), r.randrange(60))
    else:
        start = datetime(
            day.year,
            day.month,
            day.day,
            r.choice((7, 7, 8, 8, 9, 9, 10, 13, 14, 15)),
            r.randrange(60),
        )
    if vtype in ("02", "03", "04", "06"):
        if vtype == "03":
            los = 1 + int(r.expovariate(1 / (5.5 if dx.severity == 2 else 3.5)))
        elif vtype == "02":
            los = r.randint(3, 10)
        elif vtype == "04":
            los = r.randint(1, 5)
        else:
            los = r.randint(1, 3)
        los = min(los, 60)
        end_day = day + timedelta(days=los - 1)
        end = datetime(end_day.year, end_day.month, end_day.day, r.randint(8, 11), r.randrange(60))
        if end <= start:
            end = start + timedelta(minutes=r.randint(60, 300))
        days = (end.date() - start.date()).days + 1
    else:
        end = start + timedelta(minutes=r.randint(20, 180))
        if end.date() != start.date():
            end = datetime(day.year, day.month, day.day, 23, 59)
        days = 0
    # Outcome.
    death = False
    ket_qua = r.choices(("1", "2", "3"), (10, 70, 20))[0]
    if vtype == "03":
        risk = (0.002 if age < 60 else 0.012 if age < 80 else 0.035) * (
            3.0 if dx.severity == 2 else 1.0
        )
        if r.random() < risk:
            death = True
            ket_qua = "8" if std is Standard.QD130 and day >= KQ8_FROM and r.random() < 0.3 else "5"
        else:
            ket_qua = r.choices(("1", "2", "3", "4", "6"), (45, 45, 5, 3, 2))[0]
    referral_share = {"station": 0.03, "centre": 0.04, "clinic": 0.01}.get(fac.kind, 0.005)
    targets = prov.referral_targets.get(fac.tier, [])
    referral = not death and bool(targets) and r.random() < referral_share * (1 + dx.severity)
    loai_rv = (
        "2" if referral else ("4" if vtype == "03" and r.random() < 0.05 and not death else "1")
    )
    referred_to = prov.facilities[r.choice(targets)].code if referral else None
    appointment = not death and not referral and (dx.chronic or vtype == "03") and r.random() < 0.5
    # Identity as written by this facility's clerk: CCCD sometimes not captured, names
    # sometimes mistyped; the card is the one valid that day.
    cccd = pop.cccd_number(pid)
    if cccd is not None and r.random() < 0.03:
        cccd = None
    name = pop.name(pid)
    variant = -1
    if r.random() < 0.03:
        variant = r.randrange(4)
        name = misspell(name, variant)
    card = pop.card_on(pid, day)
    muc = BENEFIT[int(card[0][2])] if card else 0
    lines = Lines.build(prov, fac, dx, vtype, start, end, days, muc, age, r)
    ma_lk = f"{fac.code}{day:%y%m%d}{seq:05d}"
    record = build_record(
        prov=prov,
        fac=fac,
        std=std,
        ma_lk=ma_lk,
        pid=pid,
        name=name,
        cccd=cccd,
        card=card,
        dx=dx,
        vtype=vtype,
        start=start,
        end=end,
        days=days,
        ket_qua=ket_qua,
        loai_rv=loai_rv,
        emergency=emergency,
        referred_to=referred_to,
        appointment=appointment,
        lines=lines,
        age=age,
        r=r,
    )
    birth = dx.code in ("O80", "O82") and "XML9" in record.tables
    fact = Fact(
        ma_lk=ma_lk,
        day=day,
        facility=fac_index,
        person=pid,
        visit_type=vtype,
        sex="1" if male else "2",
        band=report_band(age),
        commune=int(pop.commune[pid]),
        code=dx.code,
        chapter=icd10.chapter(dx.code) or "?",
        emergency=emergency,
        death=death,
        bed_days=days,
        bv=lines.bv,
        bhtt=lines.bhtt,
        patient=lines.bntt + lines.bncct,
        bhyt=card is not None,
        cccd=cccd is not None and std is Standard.QD130,
        standard=std.value,
        referral=referral,
        appointment=appointment and "XML14" in record.tables,
        birth=birth,
        outbreak=ob_index,
        card_version=card[3] if card else -1,
        name_variant=variant,
        end_day=end.date(),
        referred_to=referred_to if "XML13" in record.tables else None,
        papers=paper_facts(record.tables),
    )
    return record, fact


def followup_visit(
    prov: Province, dest_index: int, day: date, seq: int, pid: int, code: str, r: random.Random
) -> tuple[Record, Fact]:
    """The referred person's visit at the destination (``SynthConfig.referral_followup``): the
    same diagnosis, examined or admitted there."""
    kind = prov.facilities[dest_index].kind
    vtype = "03" if kind in ("hospital", "private_hospital") and r.random() < 0.4 else "01"
    return _visit(prov, dest_index, day, seq, pid, vtype, code, -1, r)
