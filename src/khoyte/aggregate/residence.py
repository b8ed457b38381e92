"""Papers placed by where the person lives, not by who sent them: the medical assessments of
XML12 (``fact_assessment``) come from the province's assessment council, one sender for the whole
province, so the IOC's group 7 panel and the forms' cells on them count each paper in the
assessed person's commune of residence (``MAXA_CU_TRU``).

The code is read as the other residence fields are (``persons.index.commune_map``,
``surveillance``'s ``remap_places``): a 2025 commune code as it is; a pre-07/2025 code through the
registry's map (``rg_commune_map``, ``khoyte place import-map``) to the 2025 commune it became — a
code that is also a 2025 commune stays as it is. A paper whose code is missing, unknown, or a
commune of another province has no commune of the province: the province counts it (the panel's
row :data:`UNKNOWN_VI` / :data:`UNKNOWN_EN`), a commune never does.

A caller's scope reads the same way: its communes see the papers of their residents, its
facilities the papers they sent (``analytics.filters.scope_sql``'s OR of the two).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from khoyte.access import Scope
from khoyte.analytics.filters import Filters, where
from khoyte.registry import adminunits

UNKNOWN_VI = "Không rõ xã cư trú (thiếu, sai mã hoặc ngoài tỉnh)"
UNKNOWN_EN = "Commune of residence unknown (missing, invalid or outside the province)"


@dataclass(frozen=True, slots=True)
class Residence:
    """How a residence code becomes a 2025 commune: ``old`` maps the pre-07/2025 codes that
    are not 2025 communes themselves (empty: 2025 codes only)."""

    old: Mapping[str, str] = field(default_factory=dict)

    def commune(self, code: object, province: str | None = None) -> str | None:
        """The 2025 commune of ``code`` (of ``province`` when given), else None."""
        if not isinstance(code, str) or not code.strip():
            return None
        c = code.strip()
        c = self.old.get(c, c)
        hit = adminunits.communes().get(c)
        if hit is None or (province is not None and hit[1] != province):
            return None
        return c

    def codes(self, communes: Iterable[str]) -> list[str]:
        """Every code that means one of ``communes``: the commune's own and its old ones."""
        want = set(communes)
        return sorted(want | {old for old, new in self.old.items() if new in want})


def load(session: Session) -> Residence:
    """The registry's map of old commune codes (``rg_commune_map``), as a :class:`Residence`."""
    from khoyte.registry.facilities import old_commune_map

    current = adminunits.communes()
    return Residence({o: n for o, n in old_commune_map(session).items() if o not in current})


def _in(column: str, values: list[str]) -> tuple[str, list[Any]]:
    if not values:
        return "FALSE", []
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


def where_resident(
    scope: Scope,
    flt: Filters,
    residence: Residence,
    *,
    date_col: str,
    place_col: str,
    fac: str = "p.facility",
    eng: Any = None,
) -> tuple[str, list[Any]]:
    """``WHERE`` (without the keyword) for papers placed by residence: the period, the sender
    (``flt.facility``, ``flt.tier``) as :func:`analytics.filters.where` says it, and the commune
    (``flt.commune``) and the scope's communes by ``place_col`` read through ``residence``."""
    base, params = where(Scope.whole_province(), replace(flt, commune=None), date_col=date_col,
                         fac=fac, with_visit_type=False, eng=eng)  # fmt: skip
    parts = [base]
    if not scope.province:
        seen: list[str] = []
        if scope.facilities:
            sql, p = _in(fac, sorted(scope.facilities))
            seen.append(sql)
            params += p
        if scope.communes:
            sql, p = _in(place_col, residence.codes(scope.communes))
            seen.append(sql)
            params += p
        parts.append("(" + " OR ".join(seen) + ")" if seen else "FALSE")
    if flt.commune:
        sql, p = _in(place_col, residence.codes([flt.commune]))
        parts.append(sql)
        params += p
    return " AND ".join(parts), params
