"""The order findings come out in, and the check of a file's date against its visits.

Order (stable, whatever the hash seed): a file's own findings first (``FileResult.findings``),
then the records in file order; within a record, by table (``HOSO``-level findings without a
table first, then XML0 … XML15), by line (``STT``; none first), by field (the standard's field
order; no field first, fields the standard does not have last, by name), and where all of these
are equal in the order khoyte found them: reading, then typing, then the rules.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from khoyte.findings import Finding
from khoyte.standards.convert import table_spec
from khoyte.standards.model import Record, Standard
from khoyte.validate.catalog import make

_UNKNOWN_FIELD = 1 << 20


@cache
def _field_ranks(standard: Standard, table: str) -> dict[str, int]:
    try:
        return {name: i for i, name in enumerate(table_spec(standard, table).names)}
    except KeyError:
        return {}


def _key(standard: Standard, f: Finding) -> tuple[int, int, int, str]:
    table = f.table
    rank = int(table[3:]) if table and table[:3] == "XML" and table[3:].isdigit() else -1
    stt = -1 if f.stt is None else f.stt
    if f.field is None:
        return rank, stt, -1, ""
    pos = _field_ranks(standard, table).get(f.field) if rank >= 0 and table else None
    return (rank, stt, pos, "") if pos is not None else (rank, stt, _UNKNOWN_FIELD, f.field)


def order_findings(findings: list[Finding], standard: Standard) -> None:
    """Sort one record's findings in place (see the module's docstring)."""
    findings.sort(key=lambda f: _key(standard, f))


# A file cannot be made before the visit it reports (a day's grace for clocks), and claims are
# settled month by month: a file made more than a quarter after the discharge is worth a look.
_BEFORE = timedelta(days=1)
_AFTER = timedelta(days=92)


def _created(text: str | None) -> date | None:
    if not text or len(text) < 8 or not text[:8].isascii() or not text[:8].isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def distant(created: str | None, record: Record) -> Finding | None:
    """``HOSO.NGAYLAP.DISTANT`` when the file's date (``NGAYLAP``) lies before the visit began
    or long after it ended; ``None`` otherwise or when a date is unknown."""
    made = _created(created)
    ep = record.episode
    start = ep.admitted
    if made is None or start is None:
        return None
    end = (ep.discharged or start).date()
    if made < start.date() - _BEFORE:
        days, when, when_en = (start.date() - made).days, "trước NGAY_VAO", "before NGAY_VAO"
    elif made > end + _AFTER:
        days, when, when_en = (made - end).days, "sau NGAY_RA", "after NGAY_RA"
    else:
        return None
    return make(
        "DISTANT",
        code="HOSO.NGAYLAP.DISTANT",
        field="NGAYLAP",
        value=created,
        days=days,
        when=when,
        when_en=when_en,
    )
