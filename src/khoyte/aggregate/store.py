"""Data values in and out of ``ag_value``: checking a batch against the metadata and the
registry (every problem named by its place in the file), and writing it all-or-nothing.

A batch is a list of :class:`Cell` (a value with where it was read: sheet, row, column). A
value equal to the stored one is *ignored* (DHIS2's word), so the same upload twice changes
nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from khoyte.access import Scope
from khoyte.aggregate import periods
from khoyte.aggregate.metadata import Metadata, load
from khoyte.aggregate.models import AggReport, AggUpload, AggValue
from khoyte.registry import adminunits
from khoyte.registry.models import Facility

Key = tuple[str, str, str, str]  # data element, option combination, period, org unit


@dataclass(frozen=True)
class Cell:
    data_element: str
    coc: str
    period: str
    orgunit: str
    value: str
    sheet: str = ""
    row: int = 0
    column: str = ""
    # where the element, combination, period and org unit were read, when not at (row, column)
    places: tuple[tuple[int, str], ...] = ()

    def at(self, part: int) -> tuple[str, int, str]:
        """(sheet, row, column) of part 0 element, 1 combination, 2 period, 3 org unit, 4 value."""
        if self.places:
            return (self.sheet, *self.places[part])
        return self.sheet, self.row, self.column


@dataclass(frozen=True)
class Problem:
    sheet: str
    row: int
    column: str
    value: str
    code: str
    message_vi: str
    message_en: str


MESSAGES = {
    "unknown_element": ("Chỉ tiêu không có trong danh mục", "unknown data element"),
    "unknown_coc": ("Nhóm phân tổ không thuộc chỉ tiêu", "option combination not in the element's combination"),
    "bad_period": ("Kỳ báo cáo không hợp lệ", "invalid period"),
    "wrong_period_type": ("Kỳ báo cáo khác kỳ của biểu", "period type differs from the data set's"),
    "unknown_orgunit": ("Đơn vị không có trong danh mục", "unknown org unit"),
    "wrong_orgunit_level": ("Đơn vị không thuộc cấp báo cáo biểu này", "org unit is not of the data set's level"),
    "not_a_number": ("Giá trị không phải là số", "value is not a number"),
    "not_an_integer": ("Giá trị phải là số nguyên", "value must be an integer"),
    "negative": ("Giá trị âm", "negative value"),
    "out_of_scope": ("Đơn vị ngoài phạm vi được giao của người gửi", "org unit outside the sender's scope"),
    "duplicate": ("Ô trùng với một ô khác trong tệp", "the same value key appears twice in the file"),
    "empty_file": ("Tệp không có số liệu", "the file holds no values"),
    "unreadable": ("Không đọc được tệp", "the file cannot be read"),
    "bad_header": ("Tiêu đề cột không đúng mẫu", "the header is not the expected one"),
    "locked": ("Báo cáo của đơn vị trong kỳ này đã được duyệt và khóa; cần mở khóa trước khi sửa",
               "this report of the org unit for the period is approved and locked; unlock it first"),
    "unknown_form": ("Không có biểu này", "no such form"),
    "missing_sheet": ("Thiếu trang tính của biểu", "the form's sheet is missing"),
    "layout": ("Dòng không đúng mẫu biểu (tên chỉ tiêu khác)", "the row is not the form's (another label)"),
}  # fmt: skip


def problem(code: str, sheet: str = "", row: int = 0, column: str = "", value: str = "") -> Problem:
    vi, en = MESSAGES[code]
    return Problem(sheet, row, column, value, code, vi, en)


def canonical(raw: str, value_type: str) -> tuple[str | None, str | None]:
    """The value's canonical text, or the problem code. ``1.234,5`` is not guessed at: a
    spreadsheet cell holds a number, a CSV writes a dot."""
    text = raw.strip()
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None, "not_a_number"
    if not d.is_finite():
        return None, "not_a_number"
    if d < 0:
        return None, "negative"
    if value_type == "integer":
        if d != d.to_integral_value():
            return None, "not_an_integer"
        return str(int(d)), None
    return format(d.normalize(), "f"), None


def known_orgunits(session: Session) -> dict[str, tuple[str, str | None]]:
    """Org unit code → (level, commune) from the registry; level: province | commune |
    facility; commune: the commune itself or the facility's."""
    out: dict[str, tuple[str, str | None]] = dict.fromkeys(
        adminunits.provinces(), ("province", None)
    )
    out.update({c: ("commune", c) for c in adminunits.communes()})
    out.update(
        {c: ("facility", x) for c, x in session.execute(select(Facility.code, Facility.commune))}
    )
    return out


def check(
    cells: list[Cell],
    units: dict[str, tuple[str, str | None]],
    md: Metadata | None = None,
    scope: Scope | None = None,
) -> tuple[list[Cell], list[Problem]]:
    """The cells with canonical values, and every problem (empty: the batch may be stored)."""
    md = md or load()
    good: list[Cell] = []
    problems: list[Problem] = []
    seen: dict[Key, Cell] = {}
    for c in cells:
        where = (c.sheet, c.row, c.column)
        el = md.elements.get(c.data_element)
        if el is None:
            problems.append(problem("unknown_element", *c.at(0), c.data_element))
            continue
        if c.coc not in md.combinations(el.code):
            problems.append(problem("unknown_coc", *c.at(1), c.coc))
        ds = md.datasets[el.dataset]
        try:
            p = periods.parse(c.period)
            if p.kind != ds.period_type:
                problems.append(problem("wrong_period_type", *c.at(2), c.period))
        except periods.PeriodError:
            problems.append(problem("bad_period", *c.at(2), c.period))
            p = None
        unit = units.get(c.orgunit)
        if unit is None:
            problems.append(problem("unknown_orgunit", *c.at(3), c.orgunit))
        elif unit[0] != ds.orgunit_level:
            problems.append(problem("wrong_orgunit_level", *c.at(3), c.orgunit))
        elif scope is not None and not allowed(scope, c.orgunit, unit):
            problems.append(problem("out_of_scope", *c.at(3), c.orgunit))
        value, bad = canonical(c.value, el.value_type)
        if bad:
            problems.append(problem(bad, *where, c.value))
        if p is None or value is None:
            continue
        key = (c.data_element, c.coc, p.iso, c.orgunit)
        if key in seen:
            problems.append(problem("duplicate", *where, c.value))
            continue
        fixed = Cell(c.data_element, c.coc, p.iso, c.orgunit, value, *where, c.places)
        seen[key] = fixed
        good.append(fixed)
    return good, problems


def allowed(scope: Scope, code: str, unit: tuple[str, str | None]) -> bool:
    """Whether a caller with ``scope`` may see or write values of org unit ``code``."""
    level, commune = unit
    if level == "province":
        return scope.province
    return scope.allows(code if level == "facility" else None, commune)


def write(
    session: Session, cells: list[Cell], upload_id: int | None, who: str, now: datetime
) -> tuple[int, int, int]:
    """Insert new values, update changed ones, ignore equal ones: (imported, updated, ignored)."""
    existing: dict[Key, AggValue] = {}
    keys = [(c.data_element, c.coc, c.period, c.orgunit) for c in cells]
    cols = tuple_(AggValue.data_element, AggValue.coc, AggValue.period, AggValue.orgunit)
    for i in range(0, len(keys), 500):
        for v in session.scalars(select(AggValue).where(cols.in_(keys[i : i + 500]))):
            existing[(v.data_element, v.coc, v.period, v.orgunit)] = v
    imported = updated = ignored = 0
    arrived = {(md_dataset(c.data_element), c.period, c.orgunit) for c in cells}
    _mark_received(session, arrived, now)
    for c, key in zip(cells, keys, strict=True):
        old = existing.get(key)
        if old is None:
            session.add(AggValue(data_element=c.data_element, coc=c.coc, period=c.period,
                                 orgunit=c.orgunit, value=c.value, upload_id=upload_id,
                                 stored_by=who, updated_at=now))  # fmt: skip
            imported += 1
        elif old.value != c.value:
            old.value, old.upload_id, old.stored_by, old.updated_at = c.value, upload_id, who, now
            updated += 1
        else:
            ignored += 1
    return imported, updated, ignored


def md_dataset(element: str) -> str:
    return load().elements[element].dataset


def _reports(
    session: Session, keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], AggReport]:
    cols = tuple_(AggReport.dataset, AggReport.period, AggReport.orgunit)
    out: dict[tuple[str, str, str], AggReport] = {}
    ordered = sorted(keys)
    for i in range(0, len(ordered), 500):
        for r in session.scalars(select(AggReport).where(cols.in_(ordered[i : i + 500]))):
            out[(r.dataset, r.period, r.orgunit)] = r
    return out


def _mark_received(session: Session, keys: set[tuple[str, str, str]], now: datetime) -> None:
    """Remember when each report first arrived (timeliness)."""
    known = _reports(session, keys)
    for k in sorted(keys - known.keys()):
        session.add(AggReport(dataset=k[0], period=k[1], orgunit=k[2], first_received_at=now))
    for r in known.values():
        if r.first_received_at is None:
            r.first_received_at = now


def locked_problems(session: Session, cells: list[Cell]) -> list[Problem]:
    """A problem for every value of an approved (locked) report."""
    keys = {(md_dataset(c.data_element), c.period, c.orgunit) for c in cells}
    locked = {k for k, r in _reports(session, keys).items() if r.level is not None}
    return [
        problem("locked", c.sheet, c.row, c.column, c.value)
        for c in cells
        if (md_dataset(c.data_element), c.period, c.orgunit) in locked
    ]


def store(
    session: Session,
    cells: list[Cell],
    problems: list[Problem],
    *,
    data: bytes,
    filename: str,
    fmt: str,
    who: str,
    now: datetime,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Check and store one upload all-or-nothing; record it and answer its receipt. With a
    ``scope``, every org unit must be in it."""
    good, more = check(cells, known_orgunits(session), scope=scope)
    problems = problems + more + locked_problems(session, good)
    if not cells and not problems:
        problems.append(problem("empty_file", filename))
    up = AggUpload(sha256=hashlib.sha256(data).hexdigest(), filename=filename[:255], fmt=fmt,
                   received_at=now, stored_by=who, status="rejected", imported=0, updated=0,
                   ignored=0, receipt="{}")  # fmt: skip
    session.add(up)
    session.flush()
    counts = (0, 0, 0)
    if not problems:
        counts = write(session, good, up.id, who, now)
        up.status = "loaded" if counts[0] + counts[1] else "unchanged"
    up.imported, up.updated, up.ignored = counts
    receipt = {
        "upload": up.id,
        "file": filename,
        "sha256": up.sha256,
        "format": fmt,
        "status": up.status,
        "values": len(cells),
        "importCount": {"imported": counts[0], "updated": counts[1], "ignored": counts[2],
                        "deleted": 0},
        "problems": [asdict(p) for p in problems],
    }  # fmt: skip
    up.receipt = json.dumps(receipt, ensure_ascii=False)
    return receipt


def read(
    session: Session,
    *,
    elements: set[str] | None = None,
    period_list: list[str] | None = None,
    orgunits: set[str] | None = None,
) -> list[AggValue]:
    q = select(AggValue)
    if elements is not None:
        q = q.where(AggValue.data_element.in_(sorted(elements)))
    if period_list is not None:
        q = q.where(AggValue.period.in_(period_list))
    if orgunits is not None:
        q = q.where(AggValue.orgunit.in_(sorted(orgunits)))
    return list(
        session.scalars(
            q.order_by(AggValue.period, AggValue.orgunit, AggValue.data_element, AggValue.coc)
        )
    )
