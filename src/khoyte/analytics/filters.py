"""The filters of a dashboard and the caller's scope, turned into one SQL condition.

This is the ONE place where :class:`khoyte.access.Scope` becomes SQL: every query of the
dashboards builds its ``WHERE`` here, over ``fact_episode e`` / ``fact_submission e`` joined
with ``dim_facility f``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from khoyte.access import Scope
from khoyte.dates import add_years

TIERS = ("tinh", "khu_vuc", "xa", "tu_nhan")


@dataclass(frozen=True)
class Filters:
    date_from: date
    date_to: date
    commune: str | None = None  # commune where the facility is (2025 code)
    facility: str | None = None  # MA_CSKCB
    tier: str | None = None  # tinh | khu_vuc | xa | tu_nhan
    loai_kcb: str | None = None  # MA_LOAI_KCB

    def as_dict(self) -> dict[str, str | None]:
        return {
            "commune": self.commune,
            "facility": self.facility,
            "tier": self.tier,
            "loai_kcb": self.loai_kcb,
        }

    def shifted_year(self, years: int) -> Filters:
        return Filters(
            _minus_years(self.date_from, years),
            _minus_years(self.date_to, years),
            self.commune,
            self.facility,
            self.tier,
            self.loai_kcb,
        )


def _minus_years(d: date, years: int) -> date:
    return add_years(d, -years)


def scope_sql(
    scope: Scope, fac: str = "e.facility", commune: str = "f.ma_xa"
) -> tuple[str, list[Any]]:
    """What the caller may see. An empty scope sees nothing."""
    if scope.province:
        return "TRUE", []
    parts: list[str] = []
    params: list[Any] = []
    if scope.facilities:
        parts.append(f"{fac} IN ({', '.join('?' * len(scope.facilities))})")
        params += sorted(scope.facilities)
    if scope.communes:
        parts.append(f"{commune} IN ({', '.join('?' * len(scope.communes))})")
        params += sorted(scope.communes)
    if not parts:
        return "FALSE", []
    return "(" + " OR ".join(parts) + ")", params


def needs_facility(scope: Scope, flt: Filters | None) -> bool:
    """Whether the condition reads ``dim_facility f`` (a commune or a tier): only then is the
    fact table joined with it (the join halves the speed of a scan)."""
    return (bool(scope.communes) and not scope.province) or (
        flt is not None and bool(flt.commune or flt.tier)
    )


def source(table: str, scope: Scope, flt: Filters | None, eng: Any = None) -> str:
    """``FROM`` of a fact table as ``e``, joined with ``dim_facility f`` when the filters need it
    and cannot be resolved to facility codes (no engine given)."""
    if eng is None and needs_facility(scope, flt):
        return f"{table} e LEFT JOIN dim_facility f ON f.ma_cskcb = e.facility"
    return f"{table} e"


def where(
    scope: Scope,
    flt: Filters | None,
    *,
    date_col: str = "e.ngay_vao",
    fac: str = "e.facility",
    with_visit_type: bool = True,
    eng: Any = None,
) -> tuple[str, list[Any]]:
    """``WHERE`` clause (without the keyword) and its parameters. With ``eng``, communes and
    tiers (of the scope and of the filters) are first turned into the facility codes they hold,
    so the fact table is filtered on its own column (a pushed-down list, no join)."""
    if eng is not None and scope.communes and not scope.province:
        held = set(scope.facilities) | {
            c for commune in sorted(scope.communes) for c in _facilities(eng, "ma_xa", commune)
        }
        scope = Scope(facilities=frozenset(held))
    clause, params = scope_sql(scope, fac)
    parts = [clause]
    if flt is not None:
        parts.append(f"{date_col} BETWEEN ? AND ?")
        params += [flt.date_from, flt.date_to]
        for column, value in (("ma_xa", flt.commune), ("tuyen", flt.tier)):
            if not value:
                continue
            if eng is None:
                parts.append(f"f.{column} = ?")
                params.append(value)
                continue
            codes = _facilities(eng, column, value)
            parts.append(f"{fac} IN ({', '.join('?' * len(codes))})" if codes else "FALSE")
            params += codes
        if flt.facility:
            parts.append(f"{fac} = ?")
            params.append(flt.facility)
        if flt.loai_kcb and with_visit_type:
            parts.append("e.ma_loai_kcb = ?")
            params.append(flt.loai_kcb)
    return " AND ".join(parts), params


def _facilities(eng: Any, column: str, value: str) -> list[str]:
    """Facility codes of the registry with ``column`` = ``value`` (commune or tier)."""
    rows = eng.query(
        f"SELECT ma_cskcb FROM dim_facility WHERE {column} = ? ORDER BY ma_cskcb", [value]
    )
    return [str(r[0]) for r in rows]
