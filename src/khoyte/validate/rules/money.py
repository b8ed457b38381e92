"""XML1 totals against the lines, and the line formulas of XML2/XML3."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from khoyte.findings import Finding
from khoyte.standards.model import Record, Row, Standard, Value
from khoyte.validate.rules.base import (  # shared helpers
    CENT,
    HUNDRED,
    ONE,
    ZERO,
    Context,
    _f,
    _money,
    _round2,
)

# ---- money ---------------------------------------------------------------------------------------


def _d(row: Row, name: str) -> Decimal:
    v = row.values.get(name)
    return v if isinstance(v, Decimal) else ZERO


def _dec(values: dict[str, Value], name: str) -> Decimal | None:
    v = values.get(name)
    return v if isinstance(v, Decimal) else None


def _int(values: dict[str, Value], name: str) -> int | None:
    v = values.get(name)
    return v if isinstance(v, int) else None


# XML1 total ← the line field it sums, over which lines (notes §8 rule 2).
_SUMS: tuple[tuple[str, str, str], ...] = (
    ("T_THUOC", "THANH_TIEN_BV", "drugs"),
    ("T_VTYT", "THANH_TIEN_BV", "supplies"),
    ("T_TONGCHI_BV", "THANH_TIEN_BV", "lines"),
    ("T_TONGCHI_BH", "THANH_TIEN_BH", "lines"),
    ("T_BNTT", "T_BNTT", "lines"),
    ("T_BNCCT", "T_BNCCT", "lines"),
    ("T_NGUONKHAC", "T_NGUONKHAC", "lines"),
    ("T_BHTT_GDV", "T_BHTT", "fee"),
)
_OVER_VI = {
    "drugs": "của XML2",
    "supplies": "của các dòng vật tư y tế (XML3)",
    "lines": "của XML2 và XML3",
    "fee": "của các dòng MA_PTTT = 1",
}
_OVER_EN = {
    "drugs": "over XML2",
    "supplies": "over the supply lines of XML3",
    "lines": "over XML2 and XML3",
    "fee": "over the lines with MA_PTTT = 1",
}


def _tolerance(lines: int) -> Decimal:
    """max(1 đồng, 1 xu per line): rounding each line may add up."""
    return CENT * lines if lines > 100 else ONE


def _line_sums(drugs: list[Row], services: list[Row]) -> dict[str, tuple[Decimal, int]]:
    """Every XML1 total of ``_SUMS`` as the lines add up, with how many lines it is over; one
    pass over the lines, each sum in line order (XML2 then XML3), lines without a number
    counting 0."""
    thuoc = vtyt = tongchi_bv = tongchi_bh = bntt = bncct = nguonkhac = gdv = ZERO
    supplies = fee = 0
    for is_drug, rows in ((True, drugs), (False, services)):
        for row in rows:
            get = row.values.get
            bv = get("THANH_TIEN_BV")
            if isinstance(bv, Decimal):
                tongchi_bv += bv
                if is_drug:
                    thuoc += bv
            if not is_drug and get("MA_VAT_TU"):
                supplies += 1
                if isinstance(bv, Decimal):
                    vtyt += bv
            x = get("THANH_TIEN_BH")
            if isinstance(x, Decimal):
                tongchi_bh += x
            x = get("T_BNTT")
            if isinstance(x, Decimal):
                bntt += x
            x = get("T_BNCCT")
            if isinstance(x, Decimal):
                bncct += x
            x = get("T_NGUONKHAC")
            if isinstance(x, Decimal):
                nguonkhac += x
            if get("MA_PTTT") == "1":
                fee += 1
                x = get("T_BHTT")
                if isinstance(x, Decimal):
                    gdv += x
    lines = len(drugs) + len(services)
    return {
        "T_THUOC": (thuoc, len(drugs)),
        "T_VTYT": (vtyt, supplies),
        "T_TONGCHI_BV": (tongchi_bv, lines),
        "T_TONGCHI_BH": (tongchi_bh, lines),
        "T_BNTT": (bntt, lines),
        "T_BNCCT": (bncct, lines),
        "T_NGUONKHAC": (nguonkhac, lines),
        "T_BHTT_GDV": (gdv, fee),
    }


def _group(rec: Record, group: str) -> list[Row]:
    """The lines a total is over (``_SUMS``)."""
    drugs, services = rec.drugs, rec.services
    if group == "drugs":
        return drugs
    if group == "supplies":
        return [r for r in services if r.values.get("MA_VAT_TU")]
    if group == "lines":
        return drugs + services
    return [r for r in drugs + services if r.values.get("MA_PTTT") == "1"]


def rule_totals(rec: Record, ctx: Context) -> Iterator[Finding]:
    ep = rec.tables.get("XML1")
    broken = ctx.broken
    if not ep or (broken and ("XML2" in broken or "XML3" in broken)):
        return  # totals cannot be checked against lines that could not be read
    head = ep[0]
    hv = head.values
    drugs, services = rec.drugs, rec.services
    sums = _line_sums(drugs, services)
    is4210 = ctx.standard is Standard.QD4210
    invalid = ctx.invalid
    for total, source, group in _SUMS:
        actual = hv.get(total)
        if not isinstance(actual, Decimal) or (is4210 and total == "T_TONGCHI_BH"):
            continue
        if invalid and ctx.any_bad(_group(rec, group), source):
            continue
        expected, count = sums[total]
        if actual == expected:
            continue
        diff = actual - expected
        if abs(diff) > _tolerance(count):
            sent = ctx.sent("XML2", source)
            yield _f(
                ctx,
                "SUM",
                head,
                total,
                actual,
                expected=_money(expected),
                diff=_money(diff),
                delta=diff,
                what=f"{sent} {_OVER_VI[group]}",
                what_en=f"{sent} {_OVER_EN[group]}",
            )
    t_bhtt = hv.get("T_BHTT")
    if (
        isinstance(t_bhtt, Decimal)
        and not is4210
        and not ctx.bad(head, "T_TONGCHI_BH")
        and not ctx.bad(head, "T_BNCCT")
    ):
        expected = _d(head, "T_TONGCHI_BH") - _d(head, "T_BNCCT")
        diff = t_bhtt - expected
        if abs(diff) > _tolerance(len(drugs) + len(services)):
            yield _f(
                ctx,
                "FORMULA",
                head,
                "T_BHTT",
                t_bhtt,
                formula="T_TONGCHI_BH − T_BNCCT",
                expected=_money(expected),
                diff=_money(diff),
                delta=diff,
            )


_NGUONKHAC_PARTS = ("T_NGUONKHAC_NSNN", "T_NGUONKHAC_VTNN", "T_NGUONKHAC_VTTN", "T_NGUONKHAC_CL")
_NGUONKHAC_SET = frozenset(_NGUONKHAC_PARTS)
_NGUONKHAC_TEXT = " + ".join(_NGUONKHAC_PARTS)


_DV_FACTORS: dict[int, Decimal] = {}


def _dv_factor(dv: int) -> Decimal:
    """TYLE_TT_DV/100 (a handful of distinct percentages, so they are kept)."""
    f = _DV_FACTORS.get(dv)
    if f is None:
        f = Decimal(dv) / HUNDRED
        if len(_DV_FACTORS) < 1024:
            _DV_FACTORS[dv] = f
    return f


def _line_finding(
    ctx: Context,
    rule: str,
    row: Row,
    name: str,
    actual: Decimal,
    expected: Decimal,
    formula: str,
) -> Finding:
    return _f(
        ctx,
        rule,
        row,
        name,
        actual,
        formula=formula,
        expected=_money(_round2(expected)),
        diff=_money(actual - expected),
        delta=actual - expected,
    )


def rule_line_formulas(rec: Record, ctx: Context) -> Iterator[Finding]:
    """Each XML2/XML3 line field against its formula, in the order THANH_TIEN_BV, THANH_TIEN_BH,
    T_NGUONKHAC, T_BHTT, T_BNCCT, T_BNTT; off by more than 1 đồng is a finding.

    This runs for every line, so it reads each amount once (they are already ``Decimal``s or
    absent), compares exactly first (equal amounts are the usual case and cost one comparison)
    and builds a finding only when something is off. Amounts are computed as the formulas read;
    × 1 is skipped and ÷ 100 is × 0.01, neither of which changes a value.
    """
    out: list[Finding] = []
    add = out.append
    standard = ctx.standard
    check_bh = standard is not Standard.QD4210
    check_split = standard is Standard.QD130
    for row in rec.drugs + rec.services:
        get = row.values.get
        qty = get("SO_LUONG")
        if not isinstance(qty, Decimal):
            continue
        dv_factor: Decimal | None = None
        if row.table == "XML2":
            bv_name = bh_name = "DON_GIA"
        else:
            bv_name, bh_name = "DON_GIA_BV", "DON_GIA_BH"
            dv = get("TYLE_TT_DV")
            if isinstance(dv, int):
                dv_factor = _dv_factor(dv)
        dv_text = "" if dv_factor is None else " × TYLE_TT_DV/100"
        th_bv, th_bh = get("THANH_TIEN_BV"), get("THANH_TIEN_BH")
        price = get(bv_name)
        if isinstance(price, Decimal) and isinstance(th_bv, Decimal):
            expected = qty * price
            if dv_factor is not None:
                expected *= dv_factor
            if th_bv != expected and abs(th_bv - expected) > ONE:
                formula = f"SO_LUONG × {ctx.sent(row.table, bv_name)}{dv_text}"
                add(_line_finding(ctx, "FORMULA", row, "THANH_TIEN_BV", th_bv, expected, formula))
        if check_bh and isinstance(th_bh, Decimal):
            price = get(bh_name)
            ratio = get("TYLE_TT_BH")
            if isinstance(price, Decimal) and isinstance(ratio, int):
                expected = qty * price
                if dv_factor is not None:
                    expected *= dv_factor
                if ratio != 100:  # × 100 × 0.01 would give the same value back
                    expected = expected * ratio * CENT
                if th_bh != expected and abs(th_bh - expected) > ONE:
                    formula = f"SO_LUONG × {bh_name}{dv_text} × TYLE_TT_BH/100"
                    add(
                        _line_finding(
                            ctx, "FORMULA", row, "THANH_TIEN_BH", th_bh, expected, formula
                        )
                    )
        nguonkhac = get("T_NGUONKHAC")
        if isinstance(nguonkhac, Decimal) and not row.values.keys().isdisjoint(_NGUONKHAC_SET):
            parts = [p for p in map(get, _NGUONKHAC_PARTS) if isinstance(p, Decimal)]
            if parts:
                expected = sum(parts, ZERO)
                if nguonkhac != expected and abs(nguonkhac - expected) > ONE:
                    add(
                        _line_finding(
                            ctx, "FORMULA", row, "T_NGUONKHAC", nguonkhac, expected, _NGUONKHAC_TEXT
                        )
                    )
        # Step 1 of the split between the fund and the patient, only without other sources or
        # caps.
        if not check_split or nguonkhac or get("T_TRANTT") or not isinstance(th_bh, Decimal):
            continue
        muc = get("MUC_HUONG")
        if isinstance(muc, int):
            t_bhtt = get("T_BHTT")
            if isinstance(t_bhtt, Decimal):
                expected = th_bh * muc * CENT
                if t_bhtt != expected and abs(t_bhtt - expected) > ONE:
                    add(
                        _line_finding(
                            ctx,
                            "SPLIT",
                            row,
                            "T_BHTT",
                            t_bhtt,
                            expected,
                            "THANH_TIEN_BH × MUC_HUONG/100",
                        )
                    )
            actual = get("T_BNCCT")
            if isinstance(actual, Decimal):
                expected = th_bh - t_bhtt if isinstance(t_bhtt, Decimal) else th_bh - ZERO
                if actual != expected and abs(actual - expected) > ONE:
                    add(
                        _line_finding(
                            ctx, "SPLIT", row, "T_BNCCT", actual, expected, "THANH_TIEN_BH − T_BHTT"
                        )
                    )
        if isinstance(th_bv, Decimal):
            actual = get("T_BNTT")
            if isinstance(actual, Decimal):
                expected = th_bv - th_bh
                if actual != expected and abs(actual - expected) > ONE:
                    add(
                        _line_finding(
                            ctx,
                            "SPLIT",
                            row,
                            "T_BNTT",
                            actual,
                            expected,
                            "THANH_TIEN_BV − THANH_TIEN_BH",
                        )
                    )
    return iter(out)
