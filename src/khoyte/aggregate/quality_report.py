"""The data-quality report of one data set × period (``GET /api/v1/aggregate/quality``): the
store and the registry read, :mod:`khoyte.aggregate.quality` applied, within the caller's scope.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.access import Scope
from khoyte.aggregate import periods, quality, store
from khoyte.aggregate.approval import states
from khoyte.aggregate.metadata import Metadata
from khoyte.aggregate.models import AggReport
from khoyte.aggregate.schemas import (
    CompletenessOut,
    OutlierOut,
    QualityOut,
    ReportStatusOut,
    ViolationOut,
)
from khoyte.registry import adminunits
from khoyte.registry.models import Facility

SILENT_LOOKBACK = 3  # earlier periods in which a unit must have reported to be "silent"


def expected_units(session: Session, level: str, province: str) -> list[str]:
    """The org units that must report a data set of ``level``."""
    if level == "province":
        return [province]
    if level == "commune":
        return [code for code, _ in adminunits.communes_of(province)]
    q = select(Facility.code).where(Facility.active.is_(True))
    return sorted(session.scalars(q.where(Facility.province == province)))


def previous(period: periods.Period, n: int) -> list[str]:
    """The ``n`` periods of the same type before ``period``."""
    out, p = [], period
    for _ in range(n):
        if p.kind == "month":
            y, m = (
                (p.start.year, p.start.month - 1) if p.start.month > 1 else (p.start.year - 1, 12)
            )
            p = periods.month(y, m)
        elif p.kind == "quarter":
            q = (p.start.month - 1) // 3 + 1
            p = periods.parse(f"{p.start.year}Q{q - 1}" if q > 1 else f"{p.start.year - 1}Q4")
        else:
            p = periods.parse(str(p.start.year - 1))
        out.append(p.iso)
    return out


def _values(
    session: Session, elements: set[str], period_list: list[str], units: set[str]
) -> dict[quality.Key, float]:
    rows = store.read(session, elements=elements, period_list=period_list, orgunits=units)
    return {(v.data_element, v.coc, v.period, v.orgunit): float(v.value) for v in rows}


def build(
    session: Session,
    md: Metadata,
    dataset: str,
    period: periods.Period,
    province: str,
    scope: Scope,
    with_holidays: bool = False,
) -> QualityOut:
    ds = md.datasets[dataset]
    units = store.known_orgunits(session)
    expected = [
        u for u in expected_units(session, ds.orgunit_level, province)
        if u in units and store.allowed(scope, u, units[u])
    ]  # fmt: skip
    mine = set(expected)
    iso = period.iso
    earlier = previous(period, SILENT_LOOKBACK)
    q = select(AggReport).where(AggReport.dataset == dataset, AggReport.period.in_([iso, *earlier]))
    reported: dict[str, set[str]] = {}
    first: dict[str, datetime] = {}
    for r in session.scalars(q):
        if r.orgunit in mine and r.first_received_at is not None:
            reported.setdefault(r.period, set()).add(r.orgunit)
            if r.period == iso:
                first[r.orgunit] = r.first_received_at
    status = quality.completeness(md, dataset, iso, expected, first, with_holidays)
    approvals = states(session, dataset, [iso])
    # rules: every rule touching the data set, with the other elements it needs
    rules = [
        r for r in md.rules.values()
        if (quality.refs(r.left) | quality.refs(r.right)) & set(ds.elements)
    ]  # fmt: skip
    needed = set(ds.elements).union(*(quality.refs(r.left) | quality.refs(r.right) for r in rules))
    current = _values(session, needed, [iso], mine)
    violations = quality.check_rules(current, rules)
    history = quality.seasonal_history(iso) if period.kind == "month" else []
    series = _values(session, set(ds.elements), [iso, *history], mine)
    found = quality.outliers(series, [iso], per_day=quality.per_day_elements(md))
    received = sum(s.received for s in status)
    on_time = sum(s.on_time for s in status)
    return QualityOut(
        dataSet=dataset,
        period=iso,
        due=status[0].due if status else quality.due_date(iso, ds.due_days, with_holidays),
        expected=len(status),
        received=received,
        onTime=on_time,
        completeness=round(100 * received / len(status), 1) if status else None,
        timeliness=round(100 * on_time / len(status), 1) if status else None,
        reports=[
            CompletenessOut(
                orgUnit=s.orgunit,
                received=s.received,
                onTime=s.on_time,
                firstReceived=s.first_received,
                approvalLevel=approvals[k].level
                if (k := (dataset, iso, s.orgunit)) in approvals
                else None,
            )
            for s in status
        ],
        silent=quality.silent(reported, iso, earlier),
        violations=[
            ViolationOut(
                rule=v.rule,
                orgUnit=v.orgunit,
                left=v.left,
                operator=v.operator,
                right=v.right,
                name_vi=v.name_vi,
                name_en=v.name_en,
            )
            for v in violations
        ],
        outliers=[
            OutlierOut(
                dataElement=o.data_element,
                categoryOptionCombo=o.coc,
                orgUnit=o.orgunit,
                value=o.value,
                median=o.median,
                mad=o.mad,
                score=o.score,
                history=o.history,
            )
            for o in found
        ],
    )


def report_status(state_key: tuple[str, str, str], level: str | None) -> ReportStatusOut:
    return ReportStatusOut(
        dataSet=state_key[0], period=state_key[1], orgUnit=state_key[2], approvalLevel=level,
        locked=level is not None,
    )  # fmt: skip


def registry_province(session: Session) -> str:
    """The province the registry serves: the one most of its facilities are in."""
    got = Counter(p for p in session.scalars(select(Facility.province)) if p)
    return got.most_common(1)[0][0] if got else ""
