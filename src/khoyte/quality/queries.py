"""The workspace's numbers: one function per view, each returning what its JSON twin sends.

Definitions (``docs/quality.md``):

- ``records``: records of the period (``quality.store``); ``rejected``: their latest version
  was rejected; ``records_with_findings``: they carry a finding of severity error or warning
  (info notes what khoyte repaired or counted in shadow mode: not a defect).
- ``by_rule``: per (code, severity as judged), the records carrying it at least once.
- **money at risk**: a record whose findings include a code the *payer* profile judges an error
  (``quality.rules.payer_severity``) may see its fund claim refused: its ``T_BHTT`` (else
  ``T_TONGCHI_BH``) is at risk. The period's total counts each record once; a rule's figure is
  the sum over the records it hits (so rules overlap and do not add up to the total).
- ``conventions`` per facility: the share of the facility's records with a finding that names
  the exporter convention (``gw_finding.convention``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Connection, and_, exists, func, select, tuple_

from khoyte.access import Scope
from khoyte.quality.rules import explain, payer_severity
from khoyte.quality.store import (
    AGEING,
    FAC,
    FIND,
    VER,
    Query,
    ageing_band,
    findings_of,
    in_scope,
    money,
    records,
    rejected,
    wanted,
)

WORST = 10


def _share(part: int | None, whole: int | None) -> float | None:
    if part is None or not whole:
        return None
    return round(part / whole, 4)


def _amount(v: Any) -> float:
    return round(float(v or 0), 2)


def names(conn: Connection, codes: list[str]) -> dict[str, str]:
    """Facility names of the registry (a code it does not know keeps no name)."""
    if not codes:
        return {}
    rows = conn.execute(select(FAC.c.code, FAC.c.name).where(FAC.c.code.in_(sorted(codes))))
    return {str(c): str(n) for c, n in rows}


def facilities_in_scope(conn: Connection, scope: Scope) -> list[dict[str, str]]:
    """The facilities a caller may pick in a filter: the registry's, in scope."""
    rows = conn.execute(
        select(FAC.c.code, FAC.c.name).where(in_scope(scope, FAC.c.code)).order_by(FAC.c.code)
    )
    return [{"code": str(c), "name": str(n)} for c, n in rows]


def data_end(conn: Connection, scope: Scope) -> date | None:
    """The day the newest record in scope was received (the default period ends there)."""
    newest = conn.scalar(select(func.max(VER.c.received_at)).where(in_scope(scope, VER.c.facility)))
    return newest.date() if newest is not None else None


def summary(conn: Connection, scope: Scope, q: Query, today: date) -> dict[str, Any]:
    """The specialists' twin (``GET /api/v1/quality``)."""
    dialect = conn.dialect.name
    rec = records(dialect, scope, q)
    per_fac = conn.execute(
        select(
            rec.c.facility,
            func.count(),
            func.sum(rec.c.flagged),
            func.sum(rejected(rec)),
        )
        .group_by(rec.c.facility)
        .order_by(rec.c.facility)
    ).all()
    hits = (
        select(rec.c.facility, rec.c.ma_lk, FIND.c.code, FIND.c.severity, rec.c.amount)
        .distinct()
        .select_from(rec.join(FIND, findings_of(rec)))
        .subquery()
    )
    rule_rows = conn.execute(
        select(hits.c.code, hits.c.severity, func.count(), func.sum(money(hits.c.amount)))
        .group_by(hits.c.code, hits.c.severity)
        .order_by(func.count().desc(), hits.c.code, hits.c.severity)
    ).all()
    conv = (
        select(rec.c.facility, rec.c.ma_lk, FIND.c.convention)
        .distinct()
        .select_from(rec.join(FIND, findings_of(rec)))
        .where(FIND.c.convention.is_not(None))
        .subquery()
    )
    conv_rows = conn.execute(
        select(conv.c.facility, conv.c.convention, func.count())
        .group_by(conv.c.facility, conv.c.convention)
        .order_by(conv.c.facility, func.count().desc(), conv.c.convention)
    ).all()
    payer_errors = sorted({str(r[0]) for r in rule_rows if payer_severity(str(r[0])) == "error"})
    risk_n, risk_amount = 0, 0.0
    if payer_errors:
        got = conn.execute(
            select(func.count(), func.sum(money(rec.c.amount))).where(
                exists().where(findings_of(rec), FIND.c.code.in_(payer_errors))
            )
        ).one()
        risk_n, risk_amount = int(got[0] or 0), _amount(got[1])
    named = names(conn, [str(r[0]) for r in per_fac])
    totals = {str(r[0]): int(r[1]) for r in per_fac}
    conventions: dict[str, list[dict[str, Any]]] = {}
    for fac, code, n in conv_rows:
        conventions.setdefault(str(fac), []).append(
            {"code": str(code), "records": int(n), "share": _share(int(n), totals[str(fac)])}
        )
    by_facility: list[dict[str, Any]] = [
        {
            "facility": str(fac),
            "name": named.get(str(fac)),
            "records": int(n),
            "with_findings": int(flagged or 0),
            "rejected": int(rej or 0),
            "share_with_findings": _share(int(flagged or 0), int(n)),
            "conventions": conventions.get(str(fac), []),
        }
        for fac, n, flagged, rej in per_fac
    ]
    by_rule = []
    for code, severity, n, amount in rule_rows:
        info = explain(str(code))
        at_risk = info["payer_severity"] == "error"
        by_rule.append(
            {
                "code": str(code),
                "severity": str(severity),
                "records": int(n),
                "payer_severity": info["payer_severity"],
                "amount_at_risk": _amount(amount) if at_risk else 0.0,
                **{k: info[k] for k in ("meaning_vi", "meaning_en", "fix_vi", "fix_en")},
                "conventions": info["conventions"],
            }
        )
    worst = sorted(
        (f for f in by_facility if f["records"]),
        key=lambda f: (-float(f["share_with_findings"] or 0), -int(f["records"]), f["facility"]),
    )[:WORST]
    return {
        "period": {"from": q.date_from.isoformat(), "to": q.date_to.isoformat()},
        "filters": {"facility": q.facility},
        "records": sum(totals.values()),
        "records_with_findings": sum(f["with_findings"] for f in by_facility),
        "rejected": sum(f["rejected"] for f in by_facility),
        "records_at_risk": risk_n,
        "amount_at_risk": risk_amount,
        "by_rule": by_rule,
        "by_facility": by_facility,
        "worst_facilities": [f["facility"] for f in worst],
        "ageing": ageing(conn, scope, q, today),
    }


def ageing(conn: Connection, scope: Scope, q: Query, today: date) -> dict[str, Any]:
    """Records with findings, and rejected records, by days since discharge (``NGAY_RA``)
    as of ``today``."""
    rec = records(conn.dialect.name, scope, q)
    banded = (
        select(
            ageing_band(rec.c.discharge, today).label("band"),
            rec.c.flagged,
            rejected(rec).label("rejected"),
        )
        .where(wanted(rec, Query(q.date_from, q.date_to)))
        .subquery()
    )
    got = {
        str(b): (int(f or 0), int(r or 0))
        for b, f, r in conn.execute(
            select(banded.c.band, func.sum(banded.c.flagged), func.sum(banded.c.rejected))
            .group_by(banded.c.band)
        )
    }  # fmt: skip
    return {
        "as_of": today.isoformat(),
        "bands": [
            {
                "band": code,
                "name_vi": vi,
                "name_en": en,
                "with_findings": got.get(code, (0, 0))[0],
                "rejected": got.get(code, (0, 0))[1],
            }
            for code, _, vi, en in AGEING
        ],
    }


def months(conn: Connection, scope: Scope, q: Query) -> dict[str, Any]:
    """The trend (per month) and the facility × rule × month grid with its denominators."""
    rec = records(conn.dialect.name, scope, q)
    trend = conn.execute(
        select(rec.c.month, func.count(), func.sum(rec.c.flagged), func.sum(rejected(rec)))
        .group_by(rec.c.month)
        .order_by(rec.c.month)
    ).all()
    denominators = conn.execute(
        select(
            rec.c.facility,
            rec.c.month,
            func.count(),
            func.sum(rec.c.flagged),
            func.sum(rejected(rec)),
        )
        .group_by(rec.c.facility, rec.c.month)
        .order_by(rec.c.facility, rec.c.month)
    ).all()
    hits = (
        select(rec.c.facility, rec.c.ma_lk, rec.c.month, FIND.c.code)
        .distinct()
        .select_from(rec.join(FIND, findings_of(rec)))
        .where(FIND.c.severity.in_(("error", "warning")))
        .subquery()
    )
    cells = conn.execute(
        select(hits.c.facility, hits.c.month, hits.c.code, func.count())
        .group_by(hits.c.facility, hits.c.month, hits.c.code)
        .order_by(hits.c.facility, hits.c.month, hits.c.code)
    ).all()
    return {
        "period": {"from": q.date_from.isoformat(), "to": q.date_to.isoformat()},
        "filters": {"facility": q.facility},
        "months": [
            {
                "month": str(m),
                "records": int(n),
                "with_findings": int(f or 0),
                "rejected": int(r or 0),
                "share_with_findings": _share(int(f or 0), int(n)),
            }
            for m, n, f, r in trend
        ],
        "facility_months": [
            {
                "facility": str(fac),
                "month": str(m),
                "records": int(n),
                "with_findings": int(f or 0),
                "rejected": int(r or 0),
            }
            for fac, m, n, f, r in denominators
        ],
        "cells": [
            {"facility": str(fac), "month": str(m), "code": str(c), "records": int(n)}
            for fac, m, c, n in cells
        ],
    }


def record_list(
    conn: Connection, scope: Scope, q: Query, limit: int, offset: int = 0
) -> dict[str, Any]:
    """The records with findings (or rejected), newest visit first, one page of them, each
    with its finding codes and conventions; and the rule counts over all of them."""
    rec = records(conn.dialect.name, scope, q)
    keep = wanted(rec, q)
    total = int(conn.scalar(select(func.count()).select_from(rec).where(keep)) or 0)
    rows = conn.execute(
        select(rec)
        .where(keep)
        .order_by(rec.c.day.desc(), rec.c.facility, rec.c.ma_lk)
        .limit(limit)
        .offset(offset)
    ).all()
    found = _findings(conn, [(str(r.submission_id), str(r.ma_lk)) for r in rows])
    hits = (
        select(rec.c.facility, rec.c.ma_lk, FIND.c.code, FIND.c.severity)
        .distinct()
        .select_from(rec.join(FIND, findings_of(rec)))
        .where(keep)
        .subquery()
    )
    rule_rows = conn.execute(
        select(hits.c.code, hits.c.severity, func.count())
        .group_by(hits.c.code, hits.c.severity)
        .order_by(func.count().desc(), hits.c.code)
    ).all()
    out = []
    for r in rows:
        mine = found.get((str(r.submission_id), str(r.ma_lk)), [])
        out.append(
            {
                "facility": str(r.facility),
                "ma_lk": str(r.ma_lk),
                "day": r.day,
                "month": r.month,
                "discharge": r.discharge,
                "status": str(r.status),
                "submission_id": str(r.submission_id),
                "received_at": r.received_at.isoformat(timespec="seconds")[:19],
                "amount": _amount(r.amount) if r.amount is not None else None,
                "codes": sorted({f["code"] for f in mine}),
                "conventions": sorted({f["convention"] for f in mine if f["convention"]}),
                "findings": mine,
            }
        )
    return {
        "period": {"from": q.date_from.isoformat(), "to": q.date_to.isoformat()},
        "filters": {"facility": q.facility, "code": q.code, "month": q.month, "status": q.status},
        "total": total,
        "offset": offset,
        "limit": limit,
        "rows": out,
        "by_rule": [
            {"code": str(c), "severity": str(s), "records": int(n)} for c, s, n in rule_rows
        ],
    }


def _findings(
    conn: Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The findings of each (submission, MA_LK), in a stable order."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i in range(0, len(keys), 400):
        chunk = keys[i : i + 400]
        rows = conn.execute(
            select(
                FIND.c.submission_id,
                FIND.c.ma_lk,
                FIND.c.code,
                FIND.c.severity,
                FIND.c.table_name,
                FIND.c.stt,
                FIND.c.field,
                FIND.c.value,
                FIND.c.convention,
            )
            .where(and_(tuple_(FIND.c.submission_id, FIND.c.ma_lk).in_(chunk)))
            .order_by(FIND.c.submission_id, FIND.c.ma_lk, FIND.c.id)
        )
        for sid, ma_lk, code, sev, table, stt, field, value, conv in rows:
            out.setdefault((str(sid), str(ma_lk)), []).append(
                {
                    "code": str(code),
                    "severity": str(sev),
                    "table": table,
                    "stt": stt,
                    "field": field,
                    "value": value,
                    "convention": conv,
                }
            )
    return out
