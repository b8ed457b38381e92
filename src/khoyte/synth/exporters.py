"""Exporter families: each facility's software writes the same visits in its own way.

Real claim files depart from the written formulas while still describing real visits (the
real-world profile, ``shared/standards/real-world-profile.md`` §2–§3). With ``--exporters
families`` every facility gets one of the families below (deterministically from the seed), and
its records follow that family's conventions — the catalogue codes of
``khoyte.validate.conventions`` — and carry its placeholders, at rates like the profile's.

What happened does not change: a convention changes how a visit is *written*. Two conventions
are also practices with money (``DRUG_MARKUP``: the hospital's drug price above the insured one;
``TYLE_DV_BH_ONLY``: a second examination); the visit's costs in the manifest's truth include
that money, as the patient paid it. Every convention or placeholder that changed what a record
says is listed per record (``Applied``) and written to ``truth/exporters.jsonl``; a convention
that would change nothing (fund-paid ``T_THUOC`` at 100 % benefit) is not listed.

Random draws come from a stream of their own per facility-day (``exporter_stream``), never from
the visit generator's, so ``--exporters standard`` writes today's bytes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from khoyte.standards.days import bed_days, died_or_transferred
from khoyte.standards.model import Record, Row, Standard, Value, make_row
from khoyte.synth.costs import money
from khoyte.synth.visits import Fact

MODES = ("standard", "families")


@dataclass(frozen=True, slots=True)
class Family:
    name: str
    vi: str
    en: str
    conventions: dict[str, float]  # convention code → share of the records it can apply to
    placeholders: dict[str, float]  # placeholder key (``PLACEHOLDERS``) → share of candidates
    formats: dict[str, float] = field(default_factory=dict)  # format variant → share of records


# key → (table, fields, literal, kind): what a placeholder writes where
PLACEHOLDERS: dict[str, tuple[str, tuple[str, ...], str, str]] = {
    "nan_totals": ("XML1", ("T_TONGCHI_BH", "T_BHTT", "T_BNTT", "T_BNCCT"), "NaN", "NaN"),
    "interim": ("XML1", ("SO_NGAY_DTRI",), "null", "null"),  # and NGAY_RA, NGAY_TTOAN empty
    "null_phone": ("XML1", ("DIEN_THOAI",), "null", "null"),
    "occupation_2": ("XML1", ("MA_NGHE_NGHIEP",), "00", "short_code"),
    "null_strength": ("XML2", ("HAM_LUONG",), "null", "null"),
    "undefined_drug": ("XML2", ("MA_NHOM", "TEN_THUOC"), "undefined", "undefined"),
    "undefined_index": ("XML4", ("MA_CHI_SO",), "undefined", "undefined"),
    "text_children": ("XML9", ("SO_CON",), "(Ghi số con của lần sinh này)", "text"),
    "dotted_referral": ("XML13", ("GIAY_CHUYEN_TUYEN",), "." * 51, "dotted"),
}
# Format variants (no convention code: the value is the same, the bytes differ).
FORMATS = (
    "bom",  # UTF-8 BOM before the outer document (whole file)
    "no_inner_decl",  # inner documents without an XML declaration
    "xsi_space",  # the invalid xsi URI with a space on XML1/XML2/XML7 inner roots
    "open_close_empty",  # <X></X> for empty elements
    "vtyt_first",  # XML1 T_VTYT before T_THUOC
    "integer_amounts",  # XML1 amounts without decimals when whole
    "decimal_comma",  # a few amounts with a comma decimal
    "cdata",  # inner tables as raw XML in CDATA instead of base64 (only with --exporter-cdata)
)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("standard", "theo đúng chuẩn", "follows the written standard", {}, {}),
        Family(
            "A",
            "như họ phần mềm A của hồ sơ thực tế",
            "like the real-world profile's family A",
            {
                "GDV_ZERO": 1.0,
                "T_THUOC_FUND_BASIS": 0.85,
                "DRUG_LINES_ABSENT": 0.10,
                "DRUG_MARKUP": 0.30,
                "DAYS_24H_FROM_WARD": 0.98,
                "COPAY_IN_BNTT": 0.95,
                "MUC_HUONG_NOMINAL": 0.6,
                "TYLE_DV_BH_ONLY": 0.02,
                "MA_TTDV_CCHN": 1.0,
                "DATE_8_DIGITS": 1.0,
                "NEGATIVE_ZERO": 0.08,
            },
            {
                "nan_totals": 0.005,
                "interim": 0.027,
                "null_phone": 0.005,
                "occupation_2": 1.0,
                "null_strength": 0.027,
                "undefined_drug": 0.003,
                "undefined_index": 0.04,
                "text_children": 0.96,
                "dotted_referral": 0.83,
            },
            {"no_inner_decl": 1.0, "xsi_space": 1.0},
        ),
        Family(
            "B",
            "như họ phần mềm B của hồ sơ thực tế",
            "like the real-world profile's family B",
            {"GDV_ZERO": 1.0},
            {},
            {
                "bom": 1.0,
                "open_close_empty": 1.0,
                "vtyt_first": 1.0,
                "integer_amounts": 1.0,
                "decimal_comma": 0.75,
            },
        ),
        Family(
            "C",
            "quy ước về chia tiền và mã người ký",
            "conventions on the money split and signer codes",
            {
                "GDV_ZERO": 1.0,
                "COPAY_IN_BNTT": 0.95,
                "MA_TTDV_CCHN": 1.0,
                "DATE_8_DIGITS": 1.0,
                "NEGATIVE_ZERO": 0.15,
            },
            {"null_strength": 0.05, "undefined_index": 0.08, "occupation_2": 1.0},
            {"open_close_empty": 1.0},
        ),
        Family(
            "D",
            "quy ước về thuốc và ngày điều trị",
            "conventions on drugs and treatment days",
            {
                "T_THUOC_FUND_BASIS": 0.85,
                "DRUG_LINES_ABSENT": 0.10,
                "DRUG_MARKUP": 0.30,
                "DAYS_24H_FROM_WARD": 0.98,
            },
            {"nan_totals": 0.01, "interim": 0.10, "null_phone": 0.01},
            {"xsi_space": 1.0},
        ),
    )
}
# shares of the facilities after each family got one (the profile's hospital is family A)
_WEIGHTS = {"A": 0.35, "D": 0.15, "B": 0.1, "C": 0.2, "standard": 0.2}
_MARKUPS = ((1.15, 662), (1.10, 258), (1.07, 83))
_XML1_MONEY = ("T_THUOC", "T_VTYT", "T_TONGCHI_BV", "T_TONGCHI_BH", "T_BNTT", "T_BNCCT", "T_BHTT",
               "T_NGUONKHAC", "T_BHTT_GDV")  # fmt: skip


_ON_DRUG_LINES = ("DRUG_MARKUP", "MUC_HUONG_NOMINAL")


def families(cdata: bool = False) -> dict[str, Family]:
    """The families; with ``cdata``, family B writes its inner tables as CDATA (the reader
    learns that variant separately: off unless asked)."""
    if not cdata:
        return FAMILIES
    b = FAMILIES["B"]
    return {**FAMILIES, "B": replace(b, formats={**b.formats, "cdata": 1.0})}


def assign_families(facilities: list[tuple[str, int]], stream: int) -> dict[str, str]:
    """Facility code → family, from a seed of its own (``stream``). ``facilities``: (code, rank)
    with rank 0 for hospitals, 1 for other facilities with inpatients, 2 for the rest. The
    families go once each to the facilities of best rank first (in ``_WEIGHTS`` order: family
    A, like the profile's, to a hospital), so that every family shows its inpatient
    conventions; the other facilities draw by ``_WEIGHTS``."""
    r = random.Random(stream)
    order = sorted(facilities)
    r.shuffle(order)
    names = list(_WEIGHTS)
    first = [code for code, _ in sorted(order, key=lambda f: f[1])]
    out = dict(zip(first, names, strict=False))
    weights = [_WEIGHTS[n] for n in names]
    for code, _ in order:
        if code not in out:
            out[code] = r.choices(names, weights)[0]
    return dict(sorted(out.items()))


@dataclass(slots=True)
class Applied:
    """What one record's exporter did: the conventions that changed what it says, the
    placeholders it wrote (table, field, kind), its format variants, and the truth the
    warehouse's computed measures must give back."""

    family: str
    conventions: list[str] = field(default_factory=list)
    placeholders: list[tuple[str, str, str]] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, file: str, ma_lk: str, facility: str) -> dict[str, Any]:
        return {
            "file": file,
            "ma_lk": ma_lk,
            "facility": facility,
            "family": self.family,
            "conventions": self.conventions,
            "placeholders": [list(p) for p in self.placeholders],
            "formats": self.formats,
            "truth": self.truth,
        }


def _cents(v: Value) -> int:
    assert isinstance(v, Decimal)
    return int(v * 100)


def _add(ep: dict[str, Value], name: str, cents: int) -> None:
    ep[name] = money(_cents(ep[name]) + cents)


def apply(rec: Record, fact: Fact, family: Family, r: random.Random) -> Applied:
    """Write ``rec`` as ``family``'s software would (in place; ``fact`` follows the money)."""
    out = Applied(family.name)
    if rec.standard is not Standard.QD130 or family.name == "standard":
        out.truth = _truth(rec, fact)
        return out
    conv = family.conventions

    def hit(code: str) -> bool:
        share = conv.get(code, 0.0)
        return share > 0 and r.random() < share

    # Practices with money first: the totals and the truth follow them.
    if rec.drugs and hit("DRUG_MARKUP") and _markup(rec, fact, r):
        out.conventions.append("DRUG_MARKUP")
    if hit("TYLE_DV_BH_ONLY") and _second_exam(rec, fact):
        out.conventions.append("TYLE_DV_BH_ONLY")
    out.truth = _truth(rec, fact)
    ep = rec.episode.values
    # Then how the money and the days are written.
    if hit("COPAY_IN_BNTT") and _copay_in_bntt(rec):
        out.conventions.append("COPAY_IN_BNTT")
    if rec.drugs and hit("MUC_HUONG_NOMINAL"):
        lines = [d.values for d in rec.drugs if d.values.get("MUC_HUONG") in (80, 95)]
        for v in lines:  # the level stated is not the one the fund applied
            v["MUC_HUONG"] = 100
        if lines:
            out.conventions.append("MUC_HUONG_NOMINAL")
    if rec.drugs and hit("DRUG_LINES_ABSENT") and _cents(ep["T_THUOC"]) > 0:
        del rec.tables["XML2"]  # T_THUOC and the totals still count the drugs
        # what was written on the drug lines is no longer there to be seen
        out.conventions = [c for c in out.conventions if c not in _ON_DRUG_LINES]
        out.conventions.append("DRUG_LINES_ABSENT")
    if rec.drugs and hit("T_THUOC_FUND_BASIS"):
        fund = money(sum(_cents(d.values["T_BHTT"]) for d in rec.drugs))
        if fund != ep["T_THUOC"]:
            ep["T_THUOC"] = fund
            out.conventions.append("T_THUOC_FUND_BASIS")
    if hit("GDV_ZERO") and _cents(ep["T_BHTT"]) > 0:
        ep["T_BHTT_GDV"] = Decimal(0)
        out.conventions.append("GDV_ZERO")
    if hit("DAYS_24H_FROM_WARD") and _days_24h(ep):
        out.conventions.append("DAYS_24H_FROM_WARD")
    if hit("MA_TTDV_CCHN") and _cchn(rec, r):
        out.conventions.append("MA_TTDV_CCHN")
    if "XML14" in rec.tables and hit("DATE_8_DIGITS"):
        row = rec.tables["XML14"][0].values
        if isinstance(row.get("NGAY_HEN_KL"), datetime):
            row["NGAY_HEN_KL"] = _as_date(row["NGAY_HEN_KL"])
            out.conventions.append("DATE_8_DIGITS")
    if hit("NEGATIVE_ZERO") and _negative_zero(rec):
        out.conventions.append("NEGATIVE_ZERO")
    _placeholders(rec, family, r, out)
    if "NEGATIVE_ZERO" in out.conventions and not any(
        row.values.get("T_BNCCT") == "-0.00" for row in [*rec.tables["XML1"], *rec.drugs]
    ):
        out.conventions.remove("NEGATIVE_ZERO")  # a placeholder took its place
    _formats(rec, family, r, out)
    return out


def _truth(rec: Record, fact: Fact) -> dict[str, Any]:
    """What happened, as the warehouse must compute it whatever the exporter wrote."""
    ep = rec.episode
    drugs = sum(_cents(d.values["THANH_TIEN_BV"]) for d in rec.drugs)
    ward = ep.moment("NGAY_VAO_NOI_TRU")
    return {
        "so_ngay_dtri": fact.bed_days,
        "ngay_giuong": bed_days(
            ep.visit_type,
            ward,
            ep.admitted,
            ep.discharged,
            died_or_transferred(ep.get("KET_QUA_DTRI"), ep.get("MA_LOAI_RV")),
        ),
        "drug_cost": str(money(drugs)),
        "t_tongchi_bv": str(money(fact.bv)),
        "t_bhtt": str(money(fact.bhtt)),
        "patient_paid": str(money(fact.patient)),
    }


def _as_date(v: Value) -> date:
    assert isinstance(v, datetime)
    return v.date()


def _markup(rec: Record, fact: Fact, r: random.Random) -> bool:
    """The hospital's drug price above the insured one: ``DON_GIA`` × ``SO_LUONG`` is the
    hospital's amount (``THANH_TIEN_BV``), the insured side (``THANH_TIEN_BH``, ``T_BHTT``,
    ``T_BNCCT``) stays, the patient pays the difference (``T_BNTT``)."""
    factor = r.choices([f for f, _ in _MARKUPS], [w for _, w in _MARKUPS])[0]
    extra = 0
    for line in rec.drugs:
        v = line.values
        if v.get("TYLE_TT_BH") != 100 or _cents(v["THANH_TIEN_BH"]) == 0:
            continue
        price = v["DON_GIA"]
        qty = v["SO_LUONG"]
        assert isinstance(price, Decimal)
        assert isinstance(qty, Decimal)
        new_price = (price * Decimal(str(factor))).quantize(Decimal(1))
        bv = int(new_price * qty * 100)
        delta = bv - _cents(v["THANH_TIEN_BV"])
        if delta <= 0:
            continue
        v["DON_GIA"] = money(int(new_price) * 100)
        v["THANH_TIEN_BV"] = money(bv)
        v["T_BNTT"] = money(_cents(v["T_BNTT"]) + delta)
        extra += delta
    if not extra:
        return False
    ep = rec.episode.values
    for name in ("T_THUOC", "T_TONGCHI_BV", "T_BNTT"):
        _add(ep, name, extra)
    fact.bv += extra
    fact.patient += extra
    return True


def _second_exam(rec: Record, fact: Fact) -> bool:
    """A second examination the same day (``TYLE_TT_DV`` 30): the 30 % applied to the insured
    amount only, the hospital's amount left whole."""
    exam = next((s for s in rec.services if s.values.get("MA_NHOM") == "13"), None)
    if exam is None or not rec.episode.cards:
        return False
    v = dict(exam.values)
    muc = v.get("MUC_HUONG")
    if not isinstance(muc, int) or not muc or v.get("TYLE_TT_BH") != 100:
        return False
    bv = _cents(v["DON_GIA_BV"])
    bh = _cents(v["DON_GIA_BH"]) * 30 // 100
    bhtt = (bh * muc + 50) // 100
    v.update(
        STT=len(rec.services) + 1,
        TYLE_TT_DV=30,
        SO_LUONG=Decimal(1),
        THANH_TIEN_BV=money(bv),
        THANH_TIEN_BH=money(bh),
        T_BHTT=money(bhtt),
        T_BNCCT=money(bh - bhtt),
        T_BNTT=money(bv - bh),
    )
    exam.values["TYLE_TT_DV"] = 100
    rec.tables["XML3"].append(make_row("XML3", v))
    ep = rec.episode.values
    for name, cents in (("T_TONGCHI_BV", bv), ("T_TONGCHI_BH", bh), ("T_BHTT", bhtt),
                        ("T_BNCCT", bh - bhtt), ("T_BNTT", bv - bh)):  # fmt: skip
        _add(ep, name, cents)
    fact.bv += bv
    fact.bhtt += bhtt
    fact.patient += bv - bhtt
    return True


def _copay_in_bntt(rec: Record) -> bool:
    changed = False
    for line in rec.services:
        v = line.values
        if v.get("MUC_HUONG") in (80, 95) and _cents(v["T_BNCCT"]) > 0:
            v["T_BNTT"] = money(_cents(v["T_BNTT"]) + _cents(v["T_BNCCT"]))
            v["T_BNCCT"] = money(0)
            changed = True
    return changed


def _days_24h(ep: dict[str, Value]) -> bool:
    loai = ep.get("MA_LOAI_KCB")
    sent = ep.get("SO_NGAY_DTRI")
    if loai == "02":
        days = 0
    elif loai == "03":
        ward, out = ep.get("NGAY_VAO_NOI_TRU"), ep.get("NGAY_RA")
        if not isinstance(ward, datetime) or not isinstance(out, datetime):
            return False
        days = (out - ward) // timedelta(hours=24)
    else:
        return False
    if days == sent:
        return False
    ep["SO_NGAY_DTRI"] = days
    return True


def _cchn(rec: Record, r: random.Random) -> bool:
    """``MA_TTDV`` as a practising-certificate number, shape ``999999/AA-AAAA`` (14)."""
    number = f"{r.randrange(1, 999999):06d}/{r.choice(('CT', 'KG', 'VL', 'HG'))}-CCHN"
    changed = False
    for rows in rec.tables.values():
        for row in rows:
            if row.values.get("MA_TTDV"):
                row.values["MA_TTDV"] = number
                changed = True
    return changed


def _negative_zero(rec: Record) -> bool:
    changed = False
    for row in [*rec.tables["XML1"], *rec.drugs]:
        v = row.values.get("T_BNCCT")
        if isinstance(v, Decimal) and v == 0:
            row.values["T_BNCCT"] = "-0.00"
            changed = True
    return changed


def _placeholders(rec: Record, family: Family, r: random.Random, out: Applied) -> None:
    for key, share in family.placeholders.items():
        table, fields, literal, kind = PLACEHOLDERS[key]
        rows: list[Row] = rec.tables.get(table, [])
        if not rows:
            continue
        if table in ("XML2", "XML4"):  # per line
            hits = [row for row in rows if r.random() < share]
        else:
            hits = rows[:1] if r.random() < share else []
        for row in hits:
            v = row.values
            if key == "interim":
                if v.get("MA_LOAI_KCB") != "03" or not isinstance(v.get("NGAY_RA"), datetime):
                    continue
                v["NGAY_RA"] = None
                v["NGAY_TTOAN"] = None
                if "DAYS_24H_FROM_WARD" in out.conventions:  # the days are null now
                    out.conventions.remove("DAYS_24H_FROM_WARD")
                out.placeholders += [("XML1", "NGAY_RA", "empty"), ("XML1", "NGAY_TTOAN", "empty")]
            if key == "occupation_2":
                literal = "00" if r.random() < 0.95 else f"{r.randrange(1, 99):02d}"
            for name in fields:
                if key != "occupation_2" and v.get(name) is None:
                    continue
                v[name] = literal
                out.placeholders.append((table, name, kind))


def _formats(rec: Record, family: Family, r: random.Random, out: Applied) -> None:
    for name, share in family.formats.items():
        if name == "decimal_comma" and r.random() < share:
            if _decimal_comma(rec):
                out.formats.append(name)
        elif name == "integer_amounts":
            ep = rec.episode.values
            for f in _XML1_MONEY:
                v = ep.get(f)
                if isinstance(v, Decimal) and v == v.to_integral_value():
                    ep[f] = Decimal(int(v))
            out.formats.append(name)
        elif name != "decimal_comma":
            out.formats.append(name)


def _decimal_comma(rec: Record) -> bool:
    """``T_BHTT`` and ``T_BNCCT`` in XML1 and on a few drug lines with a comma decimal."""
    changed = False
    for row in [*rec.tables["XML1"], *rec.drugs[:13]]:
        for name in ("T_BHTT", "T_BNCCT"):
            v = row.values.get(name)
            if isinstance(v, Decimal):
                row.values[name] = f"{v:.2f}".replace(".", ",")
                changed = True
    return changed
