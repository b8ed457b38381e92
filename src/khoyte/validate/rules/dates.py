"""Treatment days and the order of dates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from khoyte.findings import Finding, Severity
from khoyte.standards.model import BirthDate, Record, Row
from khoyte.validate.rules.base import (  # shared helpers
    Context,
    _f,
    _fmt,
)

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
        yield _f(
            ctx,
            "RULE",
            ep,
            "SO_NGAY_DTRI",
            days,
            loai=loai,
            expected=0,
            delta=Decimal(days),
            why="khám bệnh/nhận thuốc không tính ngày điều trị",
            why_en="visits without treatment days count 0",
        )
    elif loai in _DAYS_SPAN and ep.admitted and ep.discharged:
        expected = (ep.discharged.date() - ep.admitted.date()).days + 1
        if days != expected and expected > 0:
            yield _f(
                ctx,
                "RULE",
                ep,
                "SO_NGAY_DTRI",
                days,
                loai=loai,
                expected=expected,
                delta=Decimal(days - expected),
                why="NGAY_RA − NGAY_VAO + 1",
                why_en="NGAY_RA − NGAY_VAO + 1",
            )


def _order(
    ctx: Context, row: Row, earlier: str, later: str, *, severity: Severity | None = None
) -> Iterator[Finding]:
    a, b = row.values.get(earlier), row.values.get(later)
    if isinstance(a, date) and isinstance(b, date):
        a_dt = a if isinstance(a, datetime) else datetime.combine(a, datetime.min.time())
        b_dt = b if isinstance(b, datetime) else datetime.combine(b, datetime.min.time())
        # A date without time (8 digits) is compared by day only.
        if (a_dt.date() > b_dt.date()) or (
            a_dt > b_dt
            and a_dt.time() != datetime.min.time()
            and b_dt.time() != datetime.min.time()
        ):
            f = _f(
                ctx,
                "ORDER",
                row,
                later,
                _fmt(b),
                other=ctx.sent(row.table, earlier),
                other_value=_fmt(a),
            )
            if severity is not None:
                f = replace(f, severity=severity)
            yield f


def _born_after(birth: BirthDate, when: datetime) -> bool:
    return (birth.year, birth.month or 1, birth.day or 1) > (when.year, when.month, when.day)


_ONE_DAY = timedelta(days=1)
_TIMESTAMPS = (
    "NGAY_VAO",
    "NGAY_RA",
    "NGAY_YL",
    "NGAY_TH_YL",
    "NGAY_KQ",
    "NGAY_TTOAN",
    "THOI_DIEM_DBLS",
)


def _surely_in_order(a: object, b: object) -> bool:
    """True when ``_order`` has nothing to say about ``a`` then ``b``: one is missing, or both
    are timestamps (naive, as read) with ``a`` not after ``b``."""
    if a is None or b is None:
        return True
    return (
        type(a) is datetime
        and type(b) is datetime
        and a.tzinfo is None
        and b.tzinfo is None
        and a <= b
    )


def rule_dates(rec: Record, ctx: Context) -> Iterator[Finding]:
    limit = ctx.received_at + _ONE_DAY
    for table, rows in rec.tables.items():
        is_episode, is_line = table == "XML1", table in ("XML2", "XML3")
        for row in rows:
            get = row.values.get
            for v in map(get, _TIMESTAMPS):
                if v is not None and isinstance(v, datetime) and v > limit:
                    break
            else:
                v = None
            if v is not None:  # some timestamp is in the future: report them in field order
                for name in _TIMESTAMPS:
                    v = get(name)
                    if isinstance(v, datetime) and v > limit:
                        yield _f(ctx, "FUTURE", row, name, _fmt(v))
            if is_episode:
                vao, vao_nt, ra = get("NGAY_VAO"), get("NGAY_VAO_NOI_TRU"), get("NGAY_RA")
                if not _surely_in_order(vao, ra):
                    yield from _order(ctx, row, "NGAY_VAO", "NGAY_RA")
                if not _surely_in_order(vao, vao_nt):
                    yield from _order(ctx, row, "NGAY_VAO", "NGAY_VAO_NOI_TRU")
                if not _surely_in_order(vao_nt, ra):
                    yield from _order(ctx, row, "NGAY_VAO_NOI_TRU", "NGAY_RA")
                ttoan = get("NGAY_TTOAN")
                if ttoan is not None and not _surely_in_order(ra, ttoan):
                    # A shadow rule (policy.toml): counted, never blocking, until measured.
                    yield from _order(ctx, row, "NGAY_RA", "NGAY_TTOAN", severity=Severity.WARNING)
                birth = get("NGAY_SINH")
                if (
                    isinstance(birth, BirthDate)
                    and isinstance(vao, datetime)
                    and _born_after(birth, vao)
                ):
                    yield _f(
                        ctx,
                        "ORDER",
                        row,
                        "NGAY_VAO",
                        _fmt(vao),
                        other="NGAY_SINH",
                        other_value=birth.as_text(),
                    )
            elif is_line:
                th_yl = get("NGAY_TH_YL")
                if th_yl is None:
                    continue  # both orders need it
                yl, kq = get("NGAY_YL"), get("NGAY_KQ")
                if yl is not None and not _surely_in_order(yl, th_yl):
                    yield from _order(ctx, row, "NGAY_YL", "NGAY_TH_YL", severity=Severity.WARNING)
                if kq is not None and not _surely_in_order(th_yl, kq):
                    yield from _order(ctx, row, "NGAY_TH_YL", "NGAY_KQ", severity=Severity.WARNING)
