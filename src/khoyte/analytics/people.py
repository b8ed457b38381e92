"""Counting people rather than visits: persons served, visits per person, re-admissions within
30 days and referral flows between facilities (the KCB dashboard's ``persons`` and
``referrals``). Counting rules: ``docs/warehouse.md`` "Counting people".

A person is a ``person`` of ``fact_episode`` (the first 64 bits of ``person_key``): the keyed
hash of the master person index's health ID once the index has linked the record, else of the
record's own identifiers (CCCD, BHXH number, facility + MA_BN). These measures read the facts (a person is not additive across
days or facilities, so no pre-aggregate can give them).
"""

from __future__ import annotations

from typing import Any

from khoyte.access import Scope
from khoyte.analytics import disclosure
from khoyte.analytics.filters import Filters, where
from khoyte.warehouse.engine import AnalyticsEngine

READMISSION_DAYS = 30
FOLLOWUP_DAYS = 7  # a referral is followed up when the destination sees the person this soon
TRANSFERS = ("2", "5")  # MA_LOAI_RV: chuyển tuyến (professional / on request): not a discharge
FLOWS_LIMIT = 50


def q_persons(eng: AnalyticsEngine, scope: Scope, flt: Filters) -> dict[str, Any]:
    """Persons served (distinct persons among the period's visits) and visits per person."""
    w, p = where(scope, flt, eng=eng)
    served, visits = eng.query(
        "SELECT COUNT(*), COALESCE(SUM(n), 0) FROM (SELECT e.person, COUNT(*) AS n "
        f"FROM fact_episode e WHERE {w} AND e.person IS NOT NULL GROUP BY e.person) x",
        p,
    )[0]
    served, visits = int(served), int(visits)
    return {
        "served": served,
        "visits_per_person": round(visits / served, 2) if served else None,
    }


def q_readmissions(eng: AnalyticsEngine, scope: Scope, flt: Filters) -> dict[str, Any]:
    """Inpatient stays discharged in the period (alive, not transferred) and how many of them
    were followed by an inpatient admission of the same person, at any facility, on the day of
    discharge or in the 30 days after. Episodes are told apart by ``version_id`` (one current
    version per episode); the admissions are read from the period's first day to 30 days after
    its last (the facts are in arrival order: DuckDB skips the other row groups)."""
    w, p = where(scope, flt, date_col="e.ngay_ra", eng=eng)
    # the marks are the transfer codes, fixed here: not user input
    transfers = ", ".join(f"'{c}'" for c in TRANSFERS)
    days = READMISSION_DAYS
    stays, readmitted = eng.query(
        "WITH s AS (SELECT e.version_id, e.person, e.ngay_ra FROM fact_episode e "
        "WHERE e.inpatient AND e.person IS NOT NULL AND e.ngay_ra IS NOT NULL AND NOT e.death "
        f"AND COALESCE(e.ma_loai_rv, '') NOT IN ({transfers}) AND {w}), "
        "a AS (SELECT n.version_id, n.person, n.ngay_vao FROM fact_episode n "
        f"WHERE n.inpatient AND n.ngay_vao BETWEEN ? AND ? + {days} "
        "AND n.person IN (SELECT person FROM s)) "
        "SELECT (SELECT COUNT(*) FROM s), (SELECT COUNT(DISTINCT s.version_id) FROM s "
        "JOIN a ON a.person = s.person AND a.version_id <> s.version_id "
        f"AND a.ngay_vao BETWEEN s.ngay_ra AND s.ngay_ra + {days})",
        [*p, flt.date_from, flt.date_to],
    )[0]
    stays, readmitted = int(stays), int(readmitted)
    return {
        "days": READMISSION_DAYS,
        "discharges": stays,
        "readmitted": readmitted,
        "rate": round(readmitted / stays, 4) if stays else None,
    }


def q_referrals(
    eng: AnalyticsEngine, scope: Scope, flt: Filters, limit: int = FLOWS_LIMIT
) -> dict[str, Any]:
    """Referral papers (XML13) sent by the facilities in scope, dated by the referring visit's
    admission, per sending → receiving facility; ``followed_up``: the receiving facility
    recorded a visit of the same person on the referral's day (its ``NGAY_RA``, else the
    visit's) or in the ``FOLLOWUP_DAYS`` after. A paper joins its visit by ``version_id``."""
    w, p = where(scope, flt, eng=eng)
    rows = eng.query(
        "WITH r AS (SELECT x.version_id, x.line, e.facility AS src, x.ma_noi_den AS dst, "
        "e.person, CAST(COALESCE(x.ngay_ra, e.ngay_ra, e.ngay_vao) AS DATE) AS d "
        "FROM fact_referral x JOIN fact_episode e ON e.version_id = x.version_id "
        f"WHERE x.ma_noi_den IS NOT NULL AND {w}), "
        "seen AS (SELECT DISTINCT r.version_id, r.line FROM r JOIN fact_episode n "
        "ON n.person = r.person AND n.facility = r.dst "
        f"AND n.ngay_vao BETWEEN r.d AND r.d + {FOLLOWUP_DAYS} WHERE n.ngay_vao >= ?) "
        "SELECT r.src, fs.ten, r.dst, fd.ten, COUNT(*), COUNT(seen.version_id) FROM r "
        "LEFT JOIN seen ON seen.version_id = r.version_id AND seen.line = r.line "
        "LEFT JOIN dim_facility fs ON fs.ma_cskcb = r.src "
        "LEFT JOIN dim_facility fd ON fd.ma_cskcb = r.dst "
        "GROUP BY r.src, fs.ten, r.dst, fd.ten ORDER BY 5 DESC, 1, 3",
        [*p, flt.date_from],
    )
    flows = [
        {"from": str(a), "from_name": an or str(a), "to": str(b), "to_name": bn or str(b),
         "count": int(n), "followed_up": int(k)}
        for a, an, b, bn, n, k in rows
    ]  # fmt: skip
    return {
        "followup_days": FOLLOWUP_DAYS,
        "total": sum(f["count"] for f in flows),
        "followed_up": sum(f["followed_up"] for f in flows),
        "flows": flows[:limit],
    }


def people(eng: AnalyticsEngine, scope: Scope, flt: Filters, small: int = 0) -> dict[str, Any]:
    """The twin ``GET /api/v1/dashboards/kcb/people`` (counts below ``small`` suppressed)."""
    persons = {**q_persons(eng, scope, flt), "readmissions": q_readmissions(eng, scope, flt)}
    return {
        "period": {"from": flt.date_from.isoformat(), "to": flt.date_to.isoformat()},
        "filters": flt.as_dict(),
        "persons": disclosure.persons(persons, small),
        "referrals": disclosure.referrals(q_referrals(eng, scope, flt), small),
        "suppressed_below": small if small > 1 else 0,
    }
