"""The records of a period, as one SQL common table expression over the operational store.

**One record** is one (facility, ``MA_LK``) at its **latest version** (``gw_record``
→ ``gw_record_version``): a record sent three times counts once, as last sent. Its
**findings** are the ``gw_finding`` rows of the submission that brought that version, for that
``MA_LK`` (a resend of identical content makes no new version; its findings are the same).
Records that could not be read at all (no ``MA_LK``, unreadable XML1) have no version: they
are counted by the completeness page and the receipts, not here.

**The period** is the visit's: the record's day is ``NGAY_VAO`` (XML1), as on the dashboards;
a medical assessment's (XML12 sent as its own document, no XML1) is its meeting day
``NGAY_HOP``, as ``fact_submission`` dates it; a record whose day is unreadable is placed on the
day it was received (UTC), so it is never lost from the page that should show it. The month is
that day's ``YYYY-MM``.

Values are read from the stored record JSON (``standards/serialize.py``: ``{"t": …}``
datetimes, ``{"d": …}`` dates, ``{"n": …}`` decimals) with the database's own JSON functions
(SQLite ``json_extract``, PostgreSQL ``#>>``), so the same query runs on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy import (
    CTE,
    JSON,
    ColumnElement,
    Numeric,
    String,
    Table,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy import cast as sql_cast

from khoyte.access import Scope, scope_filter
from khoyte.gateway.models import FindingRow, RecordHead, RecordVersionRow
from khoyte.registry.models import Facility

FIND = cast(Table, FindingRow.__table__)
VER = cast(Table, RecordVersionRow.__table__)
HEAD = cast(Table, RecordHead.__table__)
FAC = cast(Table, Facility.__table__)
FLAGGING = ("error", "warning")  # a record "with findings" has one of these (info: a note)
MONEY = Numeric(18, 2)


@dataclass(frozen=True)
class Query:
    """What the caller asks for: a period of visit days, optionally one facility, one finding
    code, one month (``YYYY-MM``) and, for record lists, a status."""

    date_from: date
    date_to: date
    facility: str | None = None
    code: str | None = None
    month: str | None = None
    status: str | None = None  # "rejected" | "flagged" | None (both)


def _json_text(dialect: str, col: Any, *path: str | int) -> ColumnElement[str]:
    doc = sql_cast(col, JSON) if dialect == "postgresql" else type_coerce(col, JSON)
    return cast(ColumnElement[str], doc[path].as_string())


def _xml1(dialect: str, field: str, tag: str, table: str = "XML1") -> ColumnElement[str]:
    return _json_text(dialect, VER.c.record, "tables", table, 0, field, tag)


def _day_of(dialect: str, field: str, table: str = "XML1") -> ColumnElement[str]:
    """``YYYY-MM-DD`` of a date or datetime field of the table's first row (XML1: the
    episode; ``None`` when unreadable)."""
    return func.coalesce(
        func.substr(_xml1(dialect, field, "t", table), 1, 10),
        func.substr(_xml1(dialect, field, "d", table), 1, 10),
    )


def _received_day(dialect: str) -> ColumnElement[str]:
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", VER.c.received_at), "YYYY-MM-DD")
    return func.substr(sql_cast(VER.c.received_at, String), 1, 10)


def in_scope(scope: Scope, facility_col: Any) -> ColumnElement[bool]:
    """Rows of facilities in ``scope`` (a commune scope: the registry's facilities there)."""
    commune = select(FAC.c.commune).where(FAC.c.code == facility_col).scalar_subquery()
    return scope_filter(scope, facility_col, commune)


def findings_of(rec: Any) -> Any:
    """The join condition of ``gw_finding`` with the records of :func:`records`."""
    return and_(FIND.c.submission_id == rec.c.submission_id, FIND.c.ma_lk == rec.c.ma_lk)


def records(dialect: str, scope: Scope, q: Query) -> CTE:
    """The records of the period in ``scope``: facility, ma_lk, submission_id, version_id,
    status, received_at, day, month, discharge (day of ``NGAY_RA``), amount (the fund's claim:
    ``T_BHTT``, else ``T_TONGCHI_BH``, as text), flagged (1: a finding error or warning)."""
    day = func.coalesce(
        _day_of(dialect, "NGAY_VAO"), _day_of(dialect, "NGAY_HOP", "XML12"), _received_day(dialect)
    )
    amount = func.coalesce(_xml1(dialect, "T_BHTT", "n"), _xml1(dialect, "T_TONGCHI_BH", "n"))
    flagged = exists().where(
        FIND.c.submission_id == VER.c.submission_id,
        FIND.c.ma_lk == VER.c.ma_lk,
        FIND.c.severity.in_(FLAGGING),
    )
    conds: list[ColumnElement[bool]] = [
        in_scope(scope, HEAD.c.facility),
        day.between(q.date_from.isoformat(), q.date_to.isoformat()),
    ]
    if q.facility:
        conds.append(HEAD.c.facility == q.facility)
    inner = (
        select(
            HEAD.c.facility,
            HEAD.c.ma_lk,
            VER.c.submission_id,
            VER.c.id.label("version_id"),
            VER.c.status,
            VER.c.received_at,
            day.label("day"),
            _day_of(dialect, "NGAY_RA").label("discharge"),
            amount.label("amount"),
            case((flagged, 1), else_=0).label("flagged"),
        )
        .select_from(HEAD.join(VER, VER.c.id == HEAD.c.latest_version_id))
        .where(*conds)
        .subquery("r0")
    )
    month = func.substr(inner.c.day, 1, 7)
    outer = select(*inner.c, month.label("month"))
    if q.month:
        outer = outer.where(month == q.month)
    return outer.cte("rec")


def rejected(rec: Any) -> ColumnElement[int]:
    return case((rec.c.status == "rejected", 1), else_=0)


def money(col: Any) -> ColumnElement[Any]:
    return sql_cast(col, MONEY)


AGEING = (  # (code, upper bound in days since discharge, Vietnamese, English)
    ("0-30", 30, "≤ 30 ngày", "≤ 30 days"),
    ("31-60", 60, "31–60 ngày", "31–60 days"),
    ("61-90", 90, "61–90 ngày", "61–90 days"),
    ("91-180", 180, "91–180 ngày", "91–180 days"),
    ("181+", None, "> 180 ngày", "> 180 days"),
    ("unknown", None, "chưa có NGAY_RA", "no NGAY_RA"),
)


def ageing_band(discharge: Any, today: date) -> ColumnElement[str]:
    """The ageing band of a discharge day (``YYYY-MM-DD`` text compared as text: portable)."""
    whens: list[tuple[ColumnElement[bool], str]] = [(discharge.is_(None), "unknown")]
    for code, days, _, _ in AGEING:
        if days is not None:
            whens.append((discharge >= (today - timedelta(days=days)).isoformat(), code))
    return case(*whens, else_=literal("181+"))


def wanted(rec: Any, q: Query) -> ColumnElement[bool]:
    """The records a list shows: those with the finding ``q.code`` (any severity), else those
    with findings or rejected (``q.status`` narrows to one of the two)."""
    conds: list[ColumnElement[bool]] = []
    if q.code:  # an alias: the list's own queries join gw_finding too
        f = FIND.alias("fc")
        conds.append(
            exists().where(
                f.c.submission_id == rec.c.submission_id,
                f.c.ma_lk == rec.c.ma_lk,
                f.c.code == q.code,
            )
        )
    if q.status == "rejected":
        conds.append(rec.c.status == "rejected")
    elif q.status == "flagged":
        conds.append(rec.c.flagged == 1)
    elif not q.code:
        conds.append(or_(rec.c.flagged == 1, rec.c.status == "rejected"))
    return and_(*conds)
