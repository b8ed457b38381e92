"""Who sees what in the workspace.

- Counts are exact for callers who may read the receipts in their scope
  (``view_submissions``: a receipt already lists every record's findings) or the records
  (``view_records``). A caller holding only aggregates (``data_quality`` without either, e.g.
  the demo's open dashboard) gets small counts suppressed as on the dashboards
  (``analytics.disclosure``): the records of a facility, of a facility-month, of a rule.
- Finding values that identify a person are masked for callers who may not see record content
  (``gateway.receipts.redact_finding``, the receipts' own rule).
"""

from __future__ import annotations

from typing import Any

from khoyte.access import Permission, Principal
from khoyte.analytics import disclosure
from khoyte.config import Settings
from khoyte.gateway.receipts import is_identifying, may_see_identifiers, redact_finding


def threshold(principal: Principal, settings: Settings) -> int:
    if Permission.VIEW_SUBMISSIONS in principal.permissions:
        return 0
    return disclosure.small_for(principal, settings)


def may_drill(principal: Principal) -> bool:
    """Whether the caller may open the record lists (they show each record's findings)."""
    return Permission.VIEW_SUBMISSIONS in principal.permissions


def _hide_columns(rows: list[dict[str, Any]], names: tuple[str, ...], t: int) -> None:
    for name in names:
        cells = {i: r[name] for i, r in enumerate(rows) if isinstance(r.get(name), int)}
        for i, v in disclosure.group(cells, t).items():
            rows[i][name] = v


def summary(data: dict[str, Any], t: int) -> dict[str, Any]:
    """The specialists' twin for an aggregates-only caller."""
    if t <= 1:
        return data
    out = dict(data)
    facs = [dict(f) for f in data["by_facility"]]
    _hide_columns(facs, ("records", "with_findings", "rejected"), t)
    for f in facs:
        if f["records"] is None or f["with_findings"] is None:
            f["share_with_findings"] = None
        f["conventions"] = [
            {**c, "records": disclosure.one(c["records"], t),
             "share": c["share"] if not disclosure.small(c["records"], t) else None}
            for c in f["conventions"]
        ]  # fmt: skip
    out["by_facility"] = facs
    out["by_rule"] = [
        {**r, "records": disclosure.one(r["records"], t),
         "amount_at_risk": None if disclosure.small(r["records"], t) else r["amount_at_risk"]}
        for r in data["by_rule"]
    ]  # fmt: skip
    for key in ("records", "records_with_findings", "rejected", "records_at_risk"):
        out[key] = disclosure.one(data[key], t)
    if out["records_at_risk"] is None:
        out["amount_at_risk"] = None
    bands = [dict(b) for b in data["ageing"]["bands"]]
    _hide_columns(bands, ("with_findings", "rejected"), t)
    out["ageing"] = {**data["ageing"], "bands": bands}
    out["suppressed_below"] = t
    return out


def months(data: dict[str, Any], t: int) -> dict[str, Any]:
    if t <= 1:
        return data
    out = dict(data)
    trend = [dict(m) for m in data["months"]]
    _hide_columns(trend, ("records", "with_findings", "rejected"), t)
    for m in trend:
        if m["records"] is None or m["with_findings"] is None:
            m["share_with_findings"] = None
    out["months"] = trend
    fm = [dict(r) for r in data["facility_months"]]
    _hide_columns(fm, ("records", "with_findings", "rejected"), t)
    out["facility_months"] = fm
    out["cells"] = [{**c, "records": disclosure.one(c["records"], t)} for c in data["cells"]]
    out["suppressed_below"] = t
    return out


def findings(principal: Principal, rows: list[dict[str, Any]]) -> int:
    """Mask identifying values in the listed findings (in place) for callers who may not see
    them; return how many identifying values stay shown (the caller audits the view)."""
    if not may_see_identifiers(principal):
        for r in rows:
            r["findings"] = [
                {k: v for k, v in redact_finding(f).items() if k in f} for f in r["findings"]
            ]
        return 0
    return sum(
        1
        for r in rows
        for f in r["findings"]
        if f["value"] is not None and is_identifying(f["field"])
    )
