"""Record-level rules of QĐ 130/4750 (notes §7 and §8), run on the canonical record.

Each rule is a generator of findings over one ``Record``; ``RECORD_RULES`` lists them in the order
they run. Field names in messages are the names as sent (``Context.sent``), so a QĐ 4210 sender
reads ``THANH_TIEN`` where khoyte thinks ``THANH_TIEN_BV``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from khoyte.findings import Finding, Severity
from khoyte.registry import adminunits, icd10
from khoyte.standards.model import BirthDate, Record, Row, Standard
from khoyte.standards.qd4210 import RENAMES
from khoyte.validate.catalog import field_finding, make
from khoyte.validate.codelists import CODE_LISTS

ZERO = Decimal(0)
CENT = Decimal("0.01")
ONE = Decimal(1)
HUNDRED = Decimal(100)

_CARD = re.compile(r"[A-Z]{2}\d{13}", re.ASCII)
_FACILITY = re.compile(r"\d{5}", re.ASCII)
_CCCD = re.compile(r"\d{9}|\d{12}|[A-Z]\d{7}", re.ASCII)


@dataclass(slots=True)
class Context:
    standard: Standard = Standard.QD130
    facility: str | None = None  # MACSKCB of the envelope
    received_at: datetime = field(default_factory=datetime.now)
    _reverse: dict[str, dict[str, str]] = field(default_factory=dict)
    # Fields that were sent but could not be read, per row (by id): rules that need them stay
    # silent rather than report a second, derived problem.
    invalid: dict[int, set[str]] = field(default_factory=dict)

    def bad(self, row: Row, name: str) -> bool:
        names = self.invalid.get(id(row))
        return names is not None and name in names

    def any_bad(self, rows: list[Row], name: str) -> bool:
        return bool(self.invalid) and any(self.bad(r, name) for r in rows)

    def sent(self, table: str, name: str) -> str:
        """The field name as the sender wrote it (QĐ 4210 names for 4210 input)."""
        if self.standard is not Standard.QD4210:
            return name
        rev = self._reverse.get(table)
        if rev is None:
            rev = {t: src for src, targets in RENAMES.get(table, {}).items() for t in targets}
            self._reverse[table] = rev
        return rev.get(name, name)


Rule = Callable[[Record, Context], Iterator[Finding]]


def _f(ctx: Context, rule: str, row: Row, name: str, value: object, **params: object) -> Finding:
    table = row.table
    return field_finding(rule, table, ctx.sent(table, name), value, row.stt if table != "XML1" else None,
                         **params)


def _money(v: Decimal) -> str:
    # As the standard writes amounts (dot decimals, no grouping), so senders can search for it.
    return f"{v:.2f}"


def _round2(v: Decimal) -> Decimal:
    return v.quantize(CENT, rounding=ROUND_HALF_UP)


# ---- required fields -------------------------------------------------------------------------

REQUIRED: dict[str, tuple[str, ...]] = {
    "XML0": ("MA_LK", "MA_BN", "HO_TEN", "NGAY_SINH", "GIOI_TINH", "MA_LOAI_KCB", "MA_CSKCB", "NGAY_VAO"),
    "XML1": ("MA_LK", "MA_BN", "HO_TEN", "NGAY_SINH", "GIOI_TINH", "MA_BENH_CHINH", "NGAY_VAO",
             "NGAY_RA", "KET_QUA_DTRI", "MA_LOAI_RV", "MA_LOAI_KCB", "MA_CSKCB", "T_TONGCHI_BV",
             "T_TONGCHI_BH", "T_BNTT", "T_BNCCT", "T_BHTT"),
    "XML2": ("MA_LK", "MA_THUOC", "TEN_THUOC", "MA_NHOM", "PHAM_VI", "TYLE_TT_BH", "SO_LUONG",
             "DON_GIA", "THANH_TIEN_BV", "THANH_TIEN_BH", "MUC_HUONG"),
    "XML3": ("MA_LK", "MA_NHOM", "PHAM_VI", "TYLE_TT_BH", "SO_LUONG", "DON_GIA_BV", "DON_GIA_BH",
             "THANH_TIEN_BV", "THANH_TIEN_BH"),
    "XML4": ("MA_LK", "MA_DICH_VU"),
    "XML5": ("MA_LK", "DIEN_BIEN_LS"),
    "XML12": ("HO_TEN",),
}


def rule_required(rec: Record, ctx: Context) -> Iterator[Finding]:
    for table, rows in rec.tables.items():
        names = REQUIRED.get(table, ("MA_LK",))
        for row in rows:
            for name in names:
                if row.values.get(name) is None and not ctx.bad(row, name):
                    yield _f(ctx, "REQUIRED", row, name, None)


# ---- linkage, identity, uniqueness -------------------------------------------------------------

def rule_link(rec: Record, ctx: Context) -> Iterator[Finding]:
    key = rec.ma_lk
    for table, rows in rec.tables.items():
        if table in ("XML1", "XML0", "XML12"):
            continue
        for row in rows:
            v = row.ma_lk
            if v is not None and v != key:
                yield _f(ctx, "LINK", row, "MA_LK", v, expected=key)


def rule_sequence(rec: Record, ctx: Context) -> Iterator[Finding]:
    for table, rows in rec.tables.items():
        if table in ("XML1", "XML0", "XML12") or len(rows) < 1:
            continue
        for expected, row in enumerate(rows, start=1):
            stt = row.stt
            if stt is not None and stt != expected:
                yield make("SEQUENCE", code=f"{table}.STT.SEQUENCE", table=table, field="STT",
                           value=stt, stt=stt, expected=expected)
                break


# ---- money ---------------------------------------------------------------------------------------

def _d(row: Row, name: str) -> Decimal:
    v = row.values.get(name)
    return v if isinstance(v, Decimal) else ZERO


def _sum_check(ctx: Context, row: Row, name: str, lines: list[Row], source: str, what: str,
               what_en: str) -> Iterator[Finding]:
    actual = row.values.get(name)
    if not isinstance(actual, Decimal) or ctx.any_bad(lines, source):
        return
    expected = sum((_d(r, source) for r in lines), ZERO)
    n = len(lines)
    tol = max(ONE, CENT * n)
    if abs(actual - expected) > tol:
        yield _f(ctx, "SUM", row, name, actual, expected=_money(expected), diff=_money(actual - expected),
                 what=what, what_en=what_en)


def rule_totals(rec: Record, ctx: Context) -> Iterator[Finding]:
    ep = rec.tables.get("XML1")
    if not ep:
        return
    head = ep[0]
    drugs, services = rec.drugs, rec.services
    lines = drugs + services
    bv = ctx.sent("XML2", "THANH_TIEN_BV")
    bh = ctx.sent("XML2", "THANH_TIEN_BH")
    yield from _sum_check(ctx, head, "T_THUOC", drugs, "THANH_TIEN_BV", f"{bv} của XML2",
                          f"{bv} over XML2")
    supplies = [r for r in services if r.text("MA_VAT_TU")]
    yield from _sum_check(ctx, head, "T_VTYT", supplies, "THANH_TIEN_BV",
                          f"{bv} của các dòng vật tư y tế (XML3)",
                          f"{bv} over the supply lines of XML3")
    yield from _sum_check(ctx, head, "T_TONGCHI_BV", lines, "THANH_TIEN_BV", f"{bv} của XML2 và XML3",
                          f"{bv} over XML2 and XML3")
    if ctx.standard is not Standard.QD4210:
        yield from _sum_check(ctx, head, "T_TONGCHI_BH", lines, "THANH_TIEN_BH",
                              f"{bh} của XML2 và XML3", f"{bh} over XML2 and XML3")
    for name in ("T_BNTT", "T_BNCCT", "T_NGUONKHAC"):
        yield from _sum_check(ctx, head, name, lines, name, f"{name} của XML2 và XML3",
                              f"{name} over XML2 and XML3")
    t_bhtt = head.values.get("T_BHTT")
    if (isinstance(t_bhtt, Decimal) and ctx.standard is not Standard.QD4210
            and not ctx.bad(head, "T_TONGCHI_BH") and not ctx.bad(head, "T_BNCCT")):
        expected = _d(head, "T_TONGCHI_BH") - _d(head, "T_BNCCT")
        if abs(t_bhtt - expected) > max(ONE, CENT * len(lines)):
            yield _f(ctx, "FORMULA", head, "T_BHTT", t_bhtt, formula="T_TONGCHI_BH − T_BNCCT",
                     expected=_money(expected), diff=_money(t_bhtt - expected))
    gdv = head.values.get("T_BHTT_GDV")
    if isinstance(gdv, Decimal):
        fee = [r for r in lines if r.text("MA_PTTT") == "1"]
        yield from _sum_check(ctx, head, "T_BHTT_GDV", fee, "T_BHTT", "T_BHTT của các dòng MA_PTTT = 1",
                              "T_BHTT over the lines with MA_PTTT = 1")


def _formula(ctx: Context, row: Row, name: str, expected: Decimal, text: str,
             rule: str = "FORMULA") -> Iterator[Finding]:
    actual = row.values.get(name)
    if isinstance(actual, Decimal) and abs(actual - expected) > ONE:
        yield _f(ctx, rule, row, name, actual, formula=text, expected=_money(_round2(expected)),
                 diff=_money(actual - expected))


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
            yield from _formula(ctx, row, "THANH_TIEN_BV", qty * price_bv * dv_factor,
                                f"SO_LUONG × {sent_price}{dv_text}")
        if (isinstance(price_bh, Decimal) and isinstance(ratio, int)
                and ctx.standard is not Standard.QD4210):
            bh_price = "DON_GIA" if is_drug else "DON_GIA_BH"
            yield from _formula(ctx, row, "THANH_TIEN_BH",
                                qty * price_bh * dv_factor * Decimal(ratio) / HUNDRED,
                                f"SO_LUONG × {bh_price}{dv_text} × TYLE_TT_BH/100")
        parts = [row.values.get(n) for n in ("T_NGUONKHAC_NSNN", "T_NGUONKHAC_VTNN",
                                              "T_NGUONKHAC_VTTN", "T_NGUONKHAC_CL")]
        if any(isinstance(p, Decimal) for p in parts):
            total = sum((p for p in parts if isinstance(p, Decimal)), ZERO)
            yield from _formula(ctx, row, "T_NGUONKHAC", total,
                                "T_NGUONKHAC_NSNN + T_NGUONKHAC_VTNN + T_NGUONKHAC_VTTN + T_NGUONKHAC_CL")
        # Step 1 of the split between the fund and the patient, only without other sources or caps.
        if _d(row, "T_NGUONKHAC") == ZERO and not _d(row, "T_TRANTT") and ctx.standard is Standard.QD130:
            th_bh, th_bv = row.values.get("THANH_TIEN_BH"), row.values.get("THANH_TIEN_BV")
            muc = row.values.get("MUC_HUONG")
            if isinstance(th_bh, Decimal) and isinstance(muc, int):
                bhtt = th_bh * Decimal(muc) / HUNDRED
                yield from _formula(ctx, row, "T_BHTT", bhtt, "THANH_TIEN_BH × MUC_HUONG/100", "SPLIT")
                yield from _formula(ctx, row, "T_BNCCT", th_bh - _d(row, "T_BHTT"),
                                    "THANH_TIEN_BH − T_BHTT", "SPLIT")
            if isinstance(th_bh, Decimal) and isinstance(th_bv, Decimal):
                yield from _formula(ctx, row, "T_BNTT", th_bv - th_bh, "THANH_TIEN_BV − THANH_TIEN_BH",
                                    "SPLIT")


# ---- days and dates ----------------------------------------------------------------------------

_DAYS_ZERO = frozenset({"01", "07", "09"})
_DAYS_SPAN = frozenset({"02", "03", "04", "06"})


def rule_days(rec: Record, ctx: Context) -> Iterator[Finding]:
    if "XML1" not in rec.tables:
        return
    ep = rec.episode
    days = ep.values.get("SO_NGAY_DTRI")
    loai = ep.visit_type
    if not isinstance(days, int) or loai is None:
        return
    if loai in _DAYS_ZERO and days != 0:
        yield _f(ctx, "RULE", ep, "SO_NGAY_DTRI", days, loai=loai, expected=0,
                 why="khám bệnh/nhận thuốc không tính ngày điều trị",
                 why_en="visits without treatment days count 0")
    elif loai in _DAYS_SPAN and ep.admitted and ep.discharged:
        expected = (ep.discharged.date() - ep.admitted.date()).days + 1
        if days != expected and expected > 0:
            yield _f(ctx, "RULE", ep, "SO_NGAY_DTRI", days, loai=loai, expected=expected,
                     why="NGAY_RA − NGAY_VAO + 1", why_en="NGAY_RA − NGAY_VAO + 1")


def _order(ctx: Context, row: Row, earlier: str, later: str, *, severity: Severity | None = None
           ) -> Iterator[Finding]:
    a, b = row.values.get(earlier), row.values.get(later)
    if isinstance(a, date) and isinstance(b, date):
        a_dt = a if isinstance(a, datetime) else datetime.combine(a, datetime.min.time())
        b_dt = b if isinstance(b, datetime) else datetime.combine(b, datetime.min.time())
        # A date without time (8 digits) is compared by day only.
        if (a_dt.date() > b_dt.date()) or (a_dt > b_dt and a_dt.time() != datetime.min.time()
                                           and b_dt.time() != datetime.min.time()):
            f = _f(ctx, "ORDER", row, later, _fmt(b), other=ctx.sent(row.table, earlier),
                   other_value=_fmt(a))
            if severity is not None:
                f = Finding(f.code, severity, f.table, f.stt, f.field, f.value, f.message_vi, f.message_en)
            yield f


def _fmt(v: object) -> str:
    if isinstance(v, datetime):
        return v.strftime("%Y%m%d%H%M")
    if isinstance(v, date):
        return v.strftime("%Y%m%d")
    return str(v)


def rule_dates(rec: Record, ctx: Context) -> Iterator[Finding]:
    limit = ctx.received_at + timedelta(days=1)
    for table, rows in rec.tables.items():
        for row in rows:
            for name in ("NGAY_VAO", "NGAY_RA", "NGAY_YL", "NGAY_TH_YL", "NGAY_KQ", "NGAY_TTOAN",
                         "THOI_DIEM_DBLS"):
                v = row.values.get(name)
                if isinstance(v, datetime) and v > limit:
                    yield _f(ctx, "FUTURE", row, name, _fmt(v))
            if table == "XML1":
                yield from _order(ctx, row, "NGAY_VAO", "NGAY_RA")
                yield from _order(ctx, row, "NGAY_VAO", "NGAY_VAO_NOI_TRU")
                yield from _order(ctx, row, "NGAY_VAO_NOI_TRU", "NGAY_RA")
                birth = row.values.get("NGAY_SINH")
                vao = row.values.get("NGAY_VAO")
                if isinstance(birth, BirthDate) and isinstance(vao, datetime):
                    if (birth.year, birth.month or 1, birth.day or 1) > (vao.year, vao.month, vao.day):
                        yield _f(ctx, "ORDER", row, "NGAY_VAO", _fmt(vao), other="NGAY_SINH",
                                 other_value=birth.as_text())
            elif table in ("XML2", "XML3"):
                yield from _order(ctx, row, "NGAY_YL", "NGAY_TH_YL", severity=Severity.WARNING)
                yield from _order(ctx, row, "NGAY_TH_YL", "NGAY_KQ", severity=Severity.WARNING)


# ---- codes, identifiers, diagnoses -------------------------------------------------------------

def rule_codes(rec: Record, ctx: Context) -> Iterator[Finding]:
    for table, rows in rec.tables.items():
        lists = CODE_LISTS.get(table)
        if not lists:
            continue
        for row in rows:
            for name, allowed in lists.items():
                v = row.values.get(name)
                if isinstance(v, str) and v not in allowed:
                    yield _f(ctx, "CODE", row, name, v, allowed=_show(allowed))
            month = row.values.get("THANG_QT")
            if isinstance(month, int) and not 1 <= month <= 12:
                yield _f(ctx, "CODE", row, "THANG_QT", month, allowed="1–12")


def _show(allowed: frozenset[str]) -> str:
    items = sorted(allowed, key=lambda s: (len(s), s))
    return ", ".join(items) if len(items) <= 12 else f"{items[0]}–{items[-1]}"


def rule_identifiers(rec: Record, ctx: Context) -> Iterator[Finding]:
    if "XML1" not in rec.tables:
        return
    ep = rec.episode
    for card in ep.cards:
        if not _CARD.fullmatch(card):
            yield _f(ctx, "FORMAT", ep, "MA_THE_BHYT", card,
                     expected="15 ký tự: 2 chữ in hoa + 13 chữ số",
                     expected_en="15 characters: 2 capital letters + 13 digits")
    fac = ep.facility
    if fac is not None:
        if not _FACILITY.fullmatch(fac):
            yield _f(ctx, "FORMAT", ep, "MA_CSKCB", fac, expected="5 chữ số", expected_en="5 digits")
        elif ctx.facility and fac != ctx.facility:
            yield _f(ctx, "FACILITY", ep, "MA_CSKCB", fac, expected=ctx.facility)
    for name in ("MA_DKBD",):
        for code in ep.items(name):
            if not _FACILITY.fullmatch(code):
                yield _f(ctx, "SHAPE", ep, name, code, expected="5 chữ số", expected_en="5 digits")
    for name in ("MA_NOI_DI", "MA_NOI_DEN"):
        code = ep.text(name)
        if code and not _FACILITY.fullmatch(code):
            yield _f(ctx, "SHAPE", ep, name, code, expected="5 chữ số", expected_en="5 digits")
    cccd = ep.text("SO_CCCD")
    if cccd is not None:
        if not _CCCD.fullmatch(cccd):
            yield _f(ctx, "SHAPE", ep, "SO_CCCD", cccd,
                     expected="9 hoặc 12 chữ số, hoặc 1 chữ in hoa + 7 chữ số (hộ chiếu)",
                     expected_en="9 or 12 digits, or a capital letter + 7 digits (passport)")
        elif len(cccd) == 12:
            yield from _cccd_agrees(ctx, ep, cccd)
    cards, froms, tos = ep.cards, ep.values.get("GT_THE_TU"), ep.values.get("GT_THE_DEN")
    if cards and isinstance(froms, list) and isinstance(tos, list):
        if not (len(cards) == len(froms) == len(tos)):
            yield _f(ctx, "MISMATCH", ep, "GT_THE_TU", ";".join(_fmt(d) for d in froms),
                     other="MA_THE_BHYT", detail=f"{len(cards)} thẻ nhưng {len(froms)}/{len(tos)} ngày",
                     detail_en=f"{len(cards)} cards but {len(froms)}/{len(tos)} dates")


def _cccd_agrees(ctx: Context, ep: Row, cccd: str) -> Iterator[Finding]:
    # CCCD: 3 digits province of birth registration, 1 digit century+sex, 2 digits year of birth.
    if cccd[:3] != "000" and f"{int(cccd[:3]) % 100:02d}" not in adminunits.OLD_PROVINCE_CODES and \
            cccd[:3] not in {"0" + p for p in adminunits.OLD_PROVINCE_CODES}:
        yield _f(ctx, "MISMATCH", ep, "SO_CCCD", cccd, other="mã tỉnh",
                 detail=f"3 số đầu {cccd[:3]} không phải mã tỉnh",
                 detail_en=f"first 3 digits {cccd[:3]} are not a province code")
        return
    gc = int(cccd[3])
    birth = ep.values.get("NGAY_SINH")
    sex = ep.text("GIOI_TINH")
    if gc > 9:
        return
    century = 1900 + 100 * (gc // 2)
    cccd_sex = "1" if gc % 2 == 0 else "2"
    if isinstance(birth, BirthDate):
        year = century + int(cccd[4:6])
        if year != birth.year:
            yield _f(ctx, "MISMATCH", ep, "SO_CCCD", cccd, other="NGAY_SINH",
                     detail=f"CCCD mã hóa năm sinh {year}, NGAY_SINH là {birth.year}",
                     detail_en=f"the CCCD encodes birth year {year}, NGAY_SINH says {birth.year}")
            return
    if sex in ("1", "2") and sex != cccd_sex:
        yield _f(ctx, "MISMATCH", ep, "SO_CCCD", cccd, other="GIOI_TINH",
                 detail=f"CCCD mã hóa giới tính {cccd_sex}, GIOI_TINH là {sex}",
                 detail_en=f"the CCCD encodes sex {cccd_sex}, GIOI_TINH says {sex}")


def _icd(ctx: Context, row: Row, name: str, code: str) -> Iterator[Finding]:
    if icd10.normalize(code) is None:
        yield _f(ctx, "ICD10_FORMAT", row, name, code)
    elif not icd10.is_known(code):
        yield _f(ctx, "ICD10_UNKNOWN", row, name, code)


def rule_diagnoses(rec: Record, ctx: Context) -> Iterator[Finding]:
    for table in ("XML1", "XML14", "XML13"):
        for row in rec.tables.get(table, []):
            main = row.text("MA_BENH_CHINH")
            if main is not None:
                if ";" in main:
                    yield _f(ctx, "COUNT", row, "MA_BENH_CHINH", main, count=len(main.split(";")), max=1)
                else:
                    yield from _icd(ctx, row, "MA_BENH_CHINH", main)
            extra = row.items("MA_BENH_KT")
            if len(extra) > 12:
                yield _f(ctx, "COUNT", row, "MA_BENH_KT", ";".join(extra), count=len(extra), max=12)
            for code in extra:
                yield from _icd(ctx, row, "MA_BENH_KT", code)
    for row in rec.services + rec.drugs:
        for code in row.items("MA_BENH"):
            yield from _icd(ctx, row, "MA_BENH", code)


def rule_residence(rec: Record, ctx: Context) -> Iterator[Finding]:
    if "XML1" not in rec.tables:
        return
    ep = rec.episode
    when = ep.admitted.date() if ep.admitted else None
    prov = ep.text("MATINH_CU_TRU")
    era_vi = "(trước 01/07/2025)" if when and when < adminunits.REFORM_DATE else "(danh mục 2025)"
    era_en = "(before 2025-07-01)" if when and when < adminunits.REFORM_DATE else "(2025 list)"
    if prov is not None and not adminunits.province_valid(prov, when):
        yield _f(ctx, "ADMIN_UNIT", ep, "MATINH_CU_TRU", prov, when=era_vi, when_en=era_en)
        prov = None
    xa = ep.text("MAXA_CU_TRU")
    if xa is not None and not adminunits.commune_valid(xa, prov, when):
        yield _f(ctx, "ADMIN_UNIT", ep, "MAXA_CU_TRU", xa, when=era_vi, when_en=era_en)


# ---- tables that depend on each other ----------------------------------------------------------

_XML13_FROM = date(2024, 7, 1)  # QĐ 4750 applied officially


def rule_conditions(rec: Record, ctx: Context) -> Iterator[Finding]:
    if "XML1" not in rec.tables:
        return
    ep = rec.episode
    rv = ep.text("MA_LOAI_RV")
    has13 = bool(rec.tables.get("XML13"))
    if has13 and rv not in ("2", "5"):
        yield make("CONDITION", code="HOSO.XML13.CONDITION", table="XML13", field="MA_LOAI_RV",
                   value=rv, detail=f"có giấy chuyển tuyến (XML13) nhưng MA_LOAI_RV = {rv} (chỉ 2 hoặc 5)",
                   detail_en=f"a referral paper (XML13) is sent but MA_LOAI_RV = {rv} (only 2 or 5)")
    if (rv in ("2", "5") and not has13 and ctx.standard is Standard.QD130 and ep.discharged
            and ep.discharged.date() >= _XML13_FROM):
        yield make("ADVICE", code="HOSO.XML13.MISSING", table="XML13", field="MA_LOAI_RV", value=rv,
                   detail="MA_LOAI_RV cho biết chuyển tuyến nhưng thiếu giấy chuyển tuyến (XML13)",
                   detail_en="MA_LOAI_RV says referral but the referral paper (XML13) is missing")
    if rec.tables.get("XML14") and not ep.values.get("NGAY_TAI_KHAM"):
        yield make("ADVICE", code="HOSO.XML14.CONDITION", table="XML14", field="NGAY_TAI_KHAM",
                   detail="có giấy hẹn khám lại (XML14) nhưng XML1 không ghi NGAY_TAI_KHAM",
                   detail_en="an appointment paper (XML14) is sent but XML1 has no NGAY_TAI_KHAM")
    if rec.tables.get("XML8") and ep.visit_type not in ("03", "04", "06"):
        yield make("ADVICE", code="HOSO.XML8.CONDITION", table="XML8", field="MA_LOAI_KCB",
                   value=ep.visit_type,
                   detail="tóm tắt hồ sơ bệnh án (XML8) thường chỉ có khi MA_LOAI_KCB là 03, 04, 06",
                   detail_en="a record summary (XML8) is expected only with MA_LOAI_KCB 03, 04 or 06")
    for table in ("XML7", "XML11"):
        for row in rec.tables.get(table, []):
            if row.text("MA_DINH_CHI_THAI") == "1":
                needed = ("NGUYENNHAN_DINHCHI", "THOIGIAN_DINHCHI", "TUOI_THAI") if table == "XML7" \
                    else ("NGUYENNHAN_DINHCHI", "TUOI_THAI")
                for name in needed:
                    if row.values.get(name) is None:
                        yield make("CONDITION", code=f"{table}.{name}.CONDITION", table=table, field=name,
                                   detail="bắt buộc khi MA_DINH_CHI_THAI = 1",
                                   detail_en="required when MA_DINH_CHI_THAI = 1")
    for row in rec.services:
        if not row.text("MA_DICH_VU") and not row.text("MA_VAT_TU"):
            yield make("CONDITION", code="XML3.MA_DICH_VU.CONDITION", table="XML3", field="MA_DICH_VU",
                       stt=row.stt, detail="dòng không có MA_DICH_VU và cũng không có MA_VAT_TU",
                       detail_en="the line has neither MA_DICH_VU nor MA_VAT_TU")


RECORD_RULES: tuple[Rule, ...] = (
    rule_required,
    rule_link,
    rule_sequence,
    rule_codes,
    rule_identifiers,
    rule_diagnoses,
    rule_residence,
    rule_dates,
    rule_days,
    rule_totals,
    rule_line_formulas,
    rule_conditions,
)
