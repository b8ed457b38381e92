"""Counting people rather than visits: persons served, visits per person, re-admissions within
30 days and referral flows between facilities (the KCB dashboard's ``persons`` and
``referrals``). Counting rules: ``docs/warehouse.md`` "Counting people".

A person is a ``person_key`` of ``fact_episode``: the keyed hash of the master person index's
health ID once the index has linked the record, else of the record's own identifiers (CCCD,
BHXH number, facility + MA_BN). These measures read the facts (a person is not additive across
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
        f"SELECT COUNT(DISTINCT e.person_key), COUNT(e.person_key) FROM fact_episode e WHERE {w}",
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
    discharge or in the 30 days after."""
    w, p = where(scope, flt, date_col="e.ngay_ra", eng=eng)
    # the marks are the transfer codes, fixed here: not user input
    transfers = ", ".join(f"'{c}'" for c in TRANSFERS)
    stays, readmitted = eng.query(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE EXISTS (SELECT 1 FROM fact_episode n "
        "WHERE n.person_key = e.person_key AND n.inpatient "
        "AND NOT (n.facility = e.facility AND n.ma_lk = e.ma_lk) "
        f"AND n.ngay_vao BETWEEN e.ngay_ra AND e.ngay_ra + {READMISSION_DAYS})) "
        "FROM fact_episode e WHERE e.inpatient AND e.person_key IS NOT NULL "
        f"AND e.ngay_ra IS NOT NULL AND NOT e.death AND COALESCE(e.ma_loai_rv, '') NOT IN "
        f"({transfers}) AND {w}",
        p,
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
    visit's) or in the ``FOLLOWUP_DAYS`` after."""
    w, p = where(scope, flt, eng=eng)
    rows = eng.query(
        "SELECT x.src, fs.ten, x.dst, fd.ten, COUNT(*), COUNT(*) FILTER (WHERE x.seen) FROM ("
        "SELECT e.facility AS src, r.ma_noi_den AS dst, EXISTS (SELECT 1 FROM fact_episode n "
        "WHERE n.person_key = e.person_key AND n.facility = r.ma_noi_den "
        "AND n.ngay_vao BETWEEN CAST(COALESCE(r.ngay_ra, e.ngay_ra, e.ngay_vao) AS DATE) "
        f"AND CAST(COALESCE(r.ngay_ra, e.ngay_ra, e.ngay_vao) AS DATE) + {FOLLOWUP_DAYS}) AS seen "
        "FROM fact_referral r JOIN fact_episode e ON e.facility = r.facility "
        f"AND e.ma_lk = r.ma_lk WHERE r.ma_noi_den IS NOT NULL AND {w}) x "
        "LEFT JOIN dim_facility fs ON fs.ma_cskcb = x.src "
        "LEFT JOIN dim_facility fd ON fd.ma_cskcb = x.dst "
        "GROUP BY x.src, fs.ten, x.dst, fd.ten ORDER BY 5 DESC, 1, 3",
        p,
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
    """The twin's ``persons`` and ``referrals`` (counts below ``small`` suppressed)."""
    persons = {**q_persons(eng, scope, flt), "readmissions": q_readmissions(eng, scope, flt)}
    return {
        "persons": disclosure.persons(persons, small),
        "referrals": disclosure.referrals(q_referrals(eng, scope, flt), small),
    }
