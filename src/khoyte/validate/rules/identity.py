"""Presence, linkage, codes, identifiers, diagnoses and residence."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache, lru_cache

from khoyte.findings import Finding
from khoyte.registry import adminunits, icd10
from khoyte.standards.model import BirthDate, Record, Row
from khoyte.validate.catalog import make
from khoyte.validate.codelists import CODE_LISTS
from khoyte.validate.rules.base import (  # shared helpers
    _CARD,
    _CCCD,
    _FACILITY,
    Context,
    _f,
    _fmt,
)

# ---- required fields -------------------------------------------------------------------------

REQUIRED: dict[str, tuple[str, ...]] = {
    "XML0": (
        "MA_LK",
        "MA_BN",
        "HO_TEN",
        "NGAY_SINH",
        "GIOI_TINH",
        "MA_LOAI_KCB",
        "MA_CSKCB",
        "NGAY_VAO",
    ),
    "XML1": (
        "MA_LK",
        "MA_BN",
        "HO_TEN",
        "NGAY_SINH",
        "GIOI_TINH",
        "MA_BENH_CHINH",
        "NGAY_VAO",
        "NGAY_RA",
        "KET_QUA_DTRI",
        "MA_LOAI_RV",
        "MA_LOAI_KCB",
        "MA_CSKCB",
        "T_TONGCHI_BV",
        "T_TONGCHI_BH",
        "T_BNTT",
        "T_BNCCT",
        "T_BHTT",
    ),
    "XML2": (
        "MA_LK",
        "MA_THUOC",
        "TEN_THUOC",
        "MA_NHOM",
        "PHAM_VI",
        "TYLE_TT_BH",
        "SO_LUONG",
        "DON_GIA",
        "THANH_TIEN_BV",
        "THANH_TIEN_BH",
        "MUC_HUONG",
    ),
    "XML3": (
        "MA_LK",
        "MA_NHOM",
        "PHAM_VI",
        "TYLE_TT_BH",
        "SO_LUONG",
        "DON_GIA_BV",
        "DON_GIA_BH",
        "THANH_TIEN_BV",
        "THANH_TIEN_BH",
    ),
    "XML4": ("MA_LK", "MA_DICH_VU"),
    "XML5": ("MA_LK", "DIEN_BIEN_LS"),
    "XML12": ("HO_TEN",),
}


def rule_required(rec: Record, ctx: Context) -> Iterator[Finding]:
    for table, rows in rec.tables.items():
        names = REQUIRED.get(table, ("MA_LK",))
        for row in rows:
            get = row.values.get
            for name in names:
                if get(name) is None and not ctx.bad(row, name):
                    yield _f(ctx, "REQUIRED", row, name, None)


# ---- linkage, identity, uniqueness -------------------------------------------------------------


def rule_link(rec: Record, ctx: Context) -> Iterator[Finding]:
    key = rec.ma_lk
    for table, rows in rec.tables.items():
        if table in ("XML1", "XML0", "XML12"):
            continue
        for row in rows:
            v = row.values.get("MA_LK")
            if v != key and isinstance(v, str):
                yield _f(ctx, "LINK", row, "MA_LK", v, expected=key)


def rule_sequence(rec: Record, ctx: Context) -> Iterator[Finding]:
    for table, rows in rec.tables.items():
        if table in ("XML1", "XML0", "XML12") or len(rows) < 1:
            continue
        for expected, row in enumerate(rows, start=1):
            stt = row.values.get("STT")
            if stt != expected and isinstance(stt, int):
                yield make(
                    "SEQUENCE",
                    code=f"{table}.STT.SEQUENCE",
                    table=table,
                    field="STT",
                    value=stt,
                    stt=stt,
                    expected=expected,
                )
                break


# ---- codes, identifiers, diagnoses -------------------------------------------------------------


# Per table: the fields with a code list, and the combinations of their values already seen to
# pass. Lines repeat the same few codes, so most rows cost one set lookup. Only strings can fail a
# code list and a string equals only the same string, so a combination that passed once passes
# again.
_CODE_FIELDS: dict[str, tuple[str, ...]] = {
    table: tuple(lists) for table, lists in CODE_LISTS.items()
}
_CODES_OK: dict[str, set[tuple[object, ...]]] = {table: set() for table in CODE_LISTS}
_CODES_OK_MAX = 4096


def rule_codes(rec: Record, ctx: Context) -> Iterator[Finding]:
    for table, rows in rec.tables.items():
        lists = CODE_LISTS.get(table)
        if not lists:
            continue
        fields = _CODE_FIELDS[table]
        ok = _CODES_OK[table]
        for row in rows:
            values = row.values
            key = tuple(map(values.get, fields))
            try:
                known = key in ok
            except TypeError:  # an unhashable value (a list): check it the long way
                known, key = False, ()
            if not known:
                bad = False
                for name, allowed in lists.items():
                    v = values.get(name)
                    if isinstance(v, str) and v not in allowed:
                        bad = True
                        yield _f(ctx, "CODE", row, name, v, allowed=_show(allowed))
                if not bad and key:
                    if len(ok) >= _CODES_OK_MAX:
                        ok.clear()
                    ok.add(key)
            month = values.get("THANG_QT")
            if isinstance(month, int) and not 1 <= month <= 12:
                yield _f(ctx, "CODE", row, "THANG_QT", month, allowed="1–12")


@cache
def _show(allowed: frozenset[str]) -> str:
    items = sorted(allowed, key=lambda s: (len(s), s))
    return ", ".join(items) if len(items) <= 12 else f"{items[0]}–{items[-1]}"


def rule_identifiers(rec: Record, ctx: Context) -> Iterator[Finding]:
    if "XML1" not in rec.tables:
        return
    ep = rec.episode
    get = ep.values.get
    cards = ep.cards
    for card in cards:
        if not _CARD.fullmatch(card):
            yield _f(
                ctx,
                "FORMAT",
                ep,
                "MA_THE_BHYT",
                card,
                expected="15 ký tự: 2 chữ in hoa + 13 chữ số",
                expected_en="15 characters: 2 capital letters + 13 digits",
            )
    fac = get("MA_CSKCB")
    if isinstance(fac, str):
        if not _FACILITY.fullmatch(fac):
            yield _f(
                ctx, "FORMAT", ep, "MA_CSKCB", fac, expected="5 chữ số", expected_en="5 digits"
            )
        elif ctx.facility and fac != ctx.facility:
            yield _f(ctx, "FACILITY", ep, "MA_CSKCB", fac, expected=ctx.facility)
    for name in ("MA_DKBD",):
        for code in ep.items(name):
            if not _FACILITY.fullmatch(code):
                yield _f(ctx, "SHAPE", ep, name, code, expected="5 chữ số", expected_en="5 digits")
    for name in ("MA_NOI_DI", "MA_NOI_DEN"):
        place = get(name)
        if place and isinstance(place, str) and not _FACILITY.fullmatch(place):
            yield _f(ctx, "SHAPE", ep, name, place, expected="5 chữ số", expected_en="5 digits")
    cccd = get("SO_CCCD")
    if isinstance(cccd, str):
        if not _CCCD.fullmatch(cccd):
            yield _f(
                ctx,
                "SHAPE",
                ep,
                "SO_CCCD",
                cccd,
                expected="9 hoặc 12 chữ số, hoặc 1 chữ in hoa + 7 chữ số (hộ chiếu)",
                expected_en="9 or 12 digits, or a capital letter + 7 digits (passport)",
            )
        elif len(cccd) == 12:
            yield from _cccd_agrees(ctx, ep, cccd)
    froms, tos = get("GT_THE_TU"), get("GT_THE_DEN")
    if (
        cards
        and isinstance(froms, list)
        and isinstance(tos, list)
        and not len(cards) == len(froms) == len(tos)
    ):
        yield _f(
            ctx,
            "MISMATCH",
            ep,
            "GT_THE_TU",
            ";".join(_fmt(d) for d in froms),
            other="MA_THE_BHYT",
            detail=f"{len(cards)} thẻ nhưng {len(froms)}/{len(tos)} ngày",
            detail_en=f"{len(cards)} cards but {len(froms)}/{len(tos)} dates",
        )


@lru_cache(maxsize=1024)
def _not_a_province(prefix: str) -> bool:
    """The first 3 digits of a CCCD name no province (``000`` is allowed)."""
    return (
        prefix != "000"
        and f"{int(prefix) % 100:02d}" not in adminunits.OLD_PROVINCE_CODES
        and prefix not in {"0" + p for p in adminunits.OLD_PROVINCE_CODES}
    )


def _cccd_agrees(ctx: Context, ep: Row, cccd: str) -> Iterator[Finding]:
    # CCCD: 3 digits province of birth registration, 1 digit century+sex, 2 digits year of birth.
    if _not_a_province(cccd[:3]):
        yield _f(
            ctx,
            "MISMATCH",
            ep,
            "SO_CCCD",
            cccd,
            other="mã tỉnh",
            detail=f"3 số đầu {cccd[:3]} không phải mã tỉnh",
            detail_en=f"first 3 digits {cccd[:3]} are not a province code",
        )
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
            yield _f(
                ctx,
                "MISMATCH",
                ep,
                "SO_CCCD",
                cccd,
                other="NGAY_SINH",
                detail=f"CCCD mã hóa năm sinh {year}, NGAY_SINH là {birth.year}",
                detail_en=f"the CCCD encodes birth year {year}, NGAY_SINH says {birth.year}",
            )
            return
    if sex in ("1", "2") and sex != cccd_sex:
        yield _f(
            ctx,
            "MISMATCH",
            ep,
            "SO_CCCD",
            cccd,
            other="GIOI_TINH",
            detail=f"CCCD mã hóa giới tính {cccd_sex}, GIOI_TINH là {sex}",
            detail_en=f"the CCCD encodes sex {cccd_sex}, GIOI_TINH says {sex}",
        )


@lru_cache(maxsize=8192)
def _icd_rule(code: str) -> str | None:
    """The rule an ICD-10 code breaks, if any (codes repeat from line to line)."""
    if icd10.normalize(code) is None:
        return "ICD10_FORMAT"
    if not icd10.is_known(code):
        return "ICD10_UNKNOWN"
    return None


def _icd(ctx: Context, row: Row, name: str, code: str) -> Iterator[Finding]:
    rule = _icd_rule(code)
    if rule is not None:
        yield _f(ctx, rule, row, name, code)


def rule_diagnoses(rec: Record, ctx: Context) -> Iterator[Finding]:
    tables = rec.tables
    for table in ("XML1", "XML14", "XML13"):
        if table not in tables:
            continue
        for row in tables[table]:
            main = row.text("MA_BENH_CHINH")
            if main is not None:
                if ";" in main:
                    yield _f(
                        ctx, "COUNT", row, "MA_BENH_CHINH", main, count=len(main.split(";")), max=1
                    )
                elif _icd_rule(main) is not None:
                    yield from _icd(ctx, row, "MA_BENH_CHINH", main)
            extra = row.items("MA_BENH_KT")
            if len(extra) > 12:
                yield _f(ctx, "COUNT", row, "MA_BENH_KT", ";".join(extra), count=len(extra), max=12)
            for code in extra:
                if _icd_rule(code) is not None:
                    yield from _icd(ctx, row, "MA_BENH_KT", code)
    for row in rec.services + rec.drugs:
        if row.values.get("MA_BENH") is None:
            continue
        for code in row.items("MA_BENH"):
            if _icd_rule(code) is not None:
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
