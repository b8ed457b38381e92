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


def rule_totals(rec: Record, ctx: Context) -> Iterator[Finding]:
    ep = rec.tables.get("XML1")
    if not ep or ctx.broken & {"XML2", "XML3"}:
        return  # totals cannot be checked against lines that could not be read
    head = ep[0]
    hv = head.values
    drugs, services = rec.drugs, rec.services
    groups = {
        "drugs": drugs,
        "supplies": [r for r in services if r.values.get("MA_VAT_TU")],
        "lines": drugs + services,
        "fee": [r for r in drugs + services if r.values.get("MA_PTTT") == "1"],
    }
    is4210 = ctx.standard is Standard.QD4210
    for total, source, group in _SUMS:
        actual = _dec(hv, total)
        if actual is None or (is4210 and total == "T_TONGCHI_BH"):
            continue
        lines = groups[group]
        if ctx.invalid and ctx.any_bad(lines, source):
            continue
        expected = sum([_d(r, source) for r in lines], ZERO)
        diff = actual - expected
        if abs(diff) > max(ONE, CENT * len(lines)):
            sent = ctx.sent("XML2", source)
            yield _f(
                ctx,
                "SUM",
                head,
                total,
                actual,
                expected=_money(expected),
                diff=_money(diff),
                what=f"{sent} {_OVER_VI[group]}",
                what_en=f"{sent} {_OVER_EN[group]}",
            )
    t_bhtt = _dec(hv, "T_BHTT")
    if (
        t_bhtt is not None
        and not is4210
        and not ctx.bad(head, "T_TONGCHI_BH")
        and not ctx.bad(head, "T_BNCCT")
    ):
        expected = _d(head, "T_TONGCHI_BH") - _d(head, "T_BNCCT")
        diff = t_bhtt - expected
        if abs(diff) > max(ONE, CENT * len(groups["lines"])):
            yield _f(
                ctx,
                "FORMULA",
                head,
                "T_BHTT",
                t_bhtt,
                formula="T_TONGCHI_BH − T_BNCCT",
                expected=_money(expected),
                diff=_money(diff),
            )


_NGUONKHAC_PARTS = ("T_NGUONKHAC_NSNN", "T_NGUONKHAC_VTNN", "T_NGUONKHAC_VTTN", "T_NGUONKHAC_CL")


def _line_checks(row: Row, ctx: Context) -> list[tuple[str, Decimal, str, str]]:
    """(field, expected value, formula as text, rule) for one XML2/XML3 line."""
    v = row.values
    qty = _dec(v, "SO_LUONG")
    if qty is None:
        return []
    is_drug = row.table == "XML2"
    out: list[tuple[str, Decimal, str, str]] = []
    dv = None if is_drug else _int(v, "TYLE_TT_DV")
    dv_factor = Decimal(dv) / HUNDRED if dv is not None else ONE
    dv_text = " × TYLE_TT_DV/100" if dv is not None else ""
    price_bv = _dec(v, "DON_GIA" if is_drug else "DON_GIA_BV")
    if price_bv is not None:
        out.append(
            (
                "THANH_TIEN_BV",
                qty * price_bv * dv_factor,
                f"SO_LUONG × {ctx.sent(row.table, 'DON_GIA' if is_drug else 'DON_GIA_BV')}{dv_text}",
                "FORMULA",
            )
        )
    price_bh = _dec(v, "DON_GIA" if is_drug else "DON_GIA_BH")
    ratio = _int(v, "TYLE_TT_BH")
    if price_bh is not None and ratio is not None and ctx.standard is not Standard.QD4210:
        out.append(
            (
                "THANH_TIEN_BH",
                qty * price_bh * dv_factor * ratio / HUNDRED,
                f"SO_LUONG × {'DON_GIA' if is_drug else 'DON_GIA_BH'}{dv_text} × TYLE_TT_BH/100",
                "FORMULA",
            )
        )
    parts = [p for p in (_dec(v, n) for n in _NGUONKHAC_PARTS) if p is not None]
    if parts:
        out.append(("T_NGUONKHAC", sum(parts, ZERO), " + ".join(_NGUONKHAC_PARTS), "FORMULA"))
    # Step 1 of the split between the fund and the patient, only without other sources or caps.
    if ctx.standard is Standard.QD130 and not v.get("T_NGUONKHAC") and not v.get("T_TRANTT"):
        th_bh, th_bv, muc = _dec(v, "THANH_TIEN_BH"), _dec(v, "THANH_TIEN_BV"), _int(v, "MUC_HUONG")
        if th_bh is not None:
            if muc is not None:
                out.append(
                    (
                        "T_BHTT",
                        th_bh * muc / HUNDRED,
                        "THANH_TIEN_BH × MUC_HUONG/100",
                        "SPLIT",
                    )
                )
                out.append(
                    (
                        "T_BNCCT",
                        th_bh - _d(row, "T_BHTT"),
                        "THANH_TIEN_BH − T_BHTT",
                        "SPLIT",
                    )
                )
            if th_bv is not None:
                out.append(
                    (
                        "T_BNTT",
                        th_bv - th_bh,
                        "THANH_TIEN_BV − THANH_TIEN_BH",
                        "SPLIT",
                    )
                )
    return out


def rule_line_formulas(rec: Record, ctx: Context) -> Iterator[Finding]:
    for row in rec.drugs + rec.services:
        v = row.values
        for name, expected, formula, rule in _line_checks(row, ctx):
            actual = _dec(v, name)
            if actual is not None and abs(actual - expected) > ONE:
                yield _f(
                    ctx,
                    rule,
                    row,
                    name,
                    actual,
                    formula=formula,
                    expected=_money(_round2(expected)),
                    diff=_money(actual - expected),
                )
