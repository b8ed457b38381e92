"""XML1 totals against the lines, and the line formulas of XML2/XML3."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from khoyte.findings import Finding
from khoyte.standards.model import Record, Row, Standard
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


def _sum_check(
    ctx: Context, row: Row, name: str, lines: list[Row], source: str, what: str, what_en: str
) -> Iterator[Finding]:
    actual = row.values.get(name)
    if not isinstance(actual, Decimal) or ctx.any_bad(lines, source):
        return
    expected = sum((_d(r, source) for r in lines), ZERO)
    n = len(lines)
    tol = max(ONE, CENT * n)
    if abs(actual - expected) > tol:
        yield _f(
            ctx,
            "SUM",
            row,
            name,
            actual,
            expected=_money(expected),
            diff=_money(actual - expected),
            what=what,
            what_en=what_en,
        )


def rule_totals(rec: Record, ctx: Context) -> Iterator[Finding]:
    ep = rec.tables.get("XML1")
    if not ep or ctx.broken & {"XML2", "XML3"}:
        return  # totals cannot be checked against lines that could not be read
    head = ep[0]
    drugs, services = rec.drugs, rec.services
    lines = drugs + services
    bv = ctx.sent("XML2", "THANH_TIEN_BV")
    bh = ctx.sent("XML2", "THANH_TIEN_BH")
    yield from _sum_check(
        ctx, head, "T_THUOC", drugs, "THANH_TIEN_BV", f"{bv} của XML2", f"{bv} over XML2"
    )
    supplies = [r for r in services if r.text("MA_VAT_TU")]
    yield from _sum_check(
        ctx,
        head,
        "T_VTYT",
        supplies,
        "THANH_TIEN_BV",
        f"{bv} của các dòng vật tư y tế (XML3)",
        f"{bv} over the supply lines of XML3",
    )
    yield from _sum_check(
        ctx,
        head,
        "T_TONGCHI_BV",
        lines,
        "THANH_TIEN_BV",
        f"{bv} của XML2 và XML3",
        f"{bv} over XML2 and XML3",
    )
    if ctx.standard is not Standard.QD4210:
        yield from _sum_check(
            ctx,
            head,
            "T_TONGCHI_BH",
            lines,
            "THANH_TIEN_BH",
            f"{bh} của XML2 và XML3",
            f"{bh} over XML2 and XML3",
        )
    for name in ("T_BNTT", "T_BNCCT", "T_NGUONKHAC"):
        yield from _sum_check(
            ctx, head, name, lines, name, f"{name} của XML2 và XML3", f"{name} over XML2 and XML3"
        )
    t_bhtt = head.values.get("T_BHTT")
    if (
        isinstance(t_bhtt, Decimal)
        and ctx.standard is not Standard.QD4210
        and not ctx.bad(head, "T_TONGCHI_BH")
        and not ctx.bad(head, "T_BNCCT")
    ):
        expected = _d(head, "T_TONGCHI_BH") - _d(head, "T_BNCCT")
        if abs(t_bhtt - expected) > max(ONE, CENT * len(lines)):
            yield _f(
                ctx,
                "FORMULA",
                head,
                "T_BHTT",
                t_bhtt,
                formula="T_TONGCHI_BH − T_BNCCT",
                expected=_money(expected),
                diff=_money(t_bhtt - expected),
            )
    gdv = head.values.get("T_BHTT_GDV")
    if isinstance(gdv, Decimal):
        fee = [r for r in lines if r.text("MA_PTTT") == "1"]
        yield from _sum_check(
            ctx,
            head,
            "T_BHTT_GDV",
            fee,
            "T_BHTT",
            "T_BHTT của các dòng MA_PTTT = 1",
            "T_BHTT over the lines with MA_PTTT = 1",
        )


def _formula(
    ctx: Context, row: Row, name: str, expected: Decimal, text: str, rule: str = "FORMULA"
) -> Iterator[Finding]:
    actual = row.values.get(name)
    if isinstance(actual, Decimal) and abs(actual - expected) > ONE:
        yield _f(
            ctx,
            rule,
            row,
            name,
            actual,
            formula=text,
            expected=_money(_round2(expected)),
            diff=_money(actual - expected),
        )


def rule_line_formulas(rec: Record, ctx: Context) -> Iterator[Finding]:
    for row in rec.drugs + rec.services:
        is_drug = row.table == "XML2"
        qty = row.values.get("SO_LUONG")
        price_bv = row.values.get("DON_GIA" if is_drug else "DON_GIA_BV")
        price_bh = row.values.get("DON_GIA" if is_drug else "DON_GIA_BH")
        ratio = row.values.get("TYLE_TT_BH")
        if not isinstance(qty, Decimal):
            continue
        dv = row.values.get("TYLE_TT_DV")
        dv_factor = Decimal(dv) / HUNDRED if isinstance(dv, int) and not is_drug else ONE
        dv_text = " × TYLE_TT_DV/100" if isinstance(dv, int) and not is_drug else ""
        sent_price = ctx.sent(row.table, "DON_GIA" if is_drug else "DON_GIA_BV")
        if isinstance(price_bv, Decimal):
            yield from _formula(
                ctx,
                row,
                "THANH_TIEN_BV",
                qty * price_bv * dv_factor,
                f"SO_LUONG × {sent_price}{dv_text}",
            )
        if (
            isinstance(price_bh, Decimal)
            and isinstance(ratio, int)
            and ctx.standard is not Standard.QD4210
        ):
            bh_price = "DON_GIA" if is_drug else "DON_GIA_BH"
            yield from _formula(
                ctx,
                row,
                "THANH_TIEN_BH",
                qty * price_bh * dv_factor * Decimal(ratio) / HUNDRED,
                f"SO_LUONG × {bh_price}{dv_text} × TYLE_TT_BH/100",
            )
        parts = [
            row.values.get(n)
            for n in ("T_NGUONKHAC_NSNN", "T_NGUONKHAC_VTNN", "T_NGUONKHAC_VTTN", "T_NGUONKHAC_CL")
        ]
        if any(isinstance(p, Decimal) for p in parts):
            total = sum((p for p in parts if isinstance(p, Decimal)), ZERO)
            yield from _formula(
                ctx,
                row,
                "T_NGUONKHAC",
                total,
                "T_NGUONKHAC_NSNN + T_NGUONKHAC_VTNN + T_NGUONKHAC_VTTN + T_NGUONKHAC_CL",
            )
        # Step 1 of the split between the fund and the patient, only without other sources or caps.
        if (
            _d(row, "T_NGUONKHAC") == ZERO
            and not _d(row, "T_TRANTT")
            and ctx.standard is Standard.QD130
        ):
            th_bh, th_bv = row.values.get("THANH_TIEN_BH"), row.values.get("THANH_TIEN_BV")
            muc = row.values.get("MUC_HUONG")
            if isinstance(th_bh, Decimal) and isinstance(muc, int):
                bhtt = th_bh * Decimal(muc) / HUNDRED
                yield from _formula(
                    ctx, row, "T_BHTT", bhtt, "THANH_TIEN_BH × MUC_HUONG/100", "SPLIT"
                )
                yield from _formula(
                    ctx,
                    row,
                    "T_BNCCT",
                    th_bh - _d(row, "T_BHTT"),
                    "THANH_TIEN_BH − T_BHTT",
                    "SPLIT",
                )
            if isinstance(th_bh, Decimal) and isinstance(th_bv, Decimal):
                yield from _formula(
                    ctx, row, "T_BNTT", th_bv - th_bh, "THANH_TIEN_BV − THANH_TIEN_BH", "SPLIT"
                )
