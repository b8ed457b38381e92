"""Signals: counts of visits by notifiable disease or syndrome, from the warehouse.

The ICD-10 → signal mapping is data (``data/signals.toml``, documented in
docs/surveillance.md). Counts are by day or ISO week (Monday start; labels via ``epiweeks``)
and by residence commune (MAXA_CU_TRU, pre-2025 codes mapped to the 2025 commune when the
registry knows the map), facility, age band or the whole province, queried from
``fact_episode`` at request time (one GROUP BY; the warehouse refreshes as records arrive).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
from epiweeks import Week

from khoyte.warehouse.engine import AnalyticsEngine

PLACE_COLUMNS = {
    "commune": "e.ma_xa_cu_tru",
    "facility": "e.facility",
    "age_band": "e.age_band",
    "province": "'province'",
}
_CODE = re.compile(r"^[A-Z][0-9]{2}(\.?[0-9A-Z]{1,2})?$")


@dataclass(frozen=True, slots=True)
class Signal:
    code: str
    name_vi: str
    name_en: str
    icd10: tuple[str, ...]
    algorithm: str
    params: Mapping[str, str] = field(default_factory=dict)

    def sql(self, column: str = "e.ma_benh_chinh") -> tuple[str, list[str]]:
        """A condition on the main diagnosis, with its parameters."""
        norm = f"REPLACE(UPPER(TRIM({column})), '.', '')"
        parts: list[str] = []
        params: list[str] = []
        for item in self.icd10:
            lo, _, hi = item.partition("-")
            if hi:
                parts.append(f"SUBSTR({norm}, 1, 3) BETWEEN ? AND ?")
                params += [lo.strip(), hi.strip()]
            else:
                parts.append(f"{norm} LIKE ?")
                params.append(item.replace(".", "") + "%")
        return "(" + " OR ".join(parts) + ")", params

    def matches(self, code: str) -> bool:
        """Whether a main diagnosis as written (``B08.4``, ``b084``) is the signal's, as
        :meth:`sql` says it in SQL."""
        norm = code.strip().upper().replace(".", "")
        for item in self.icd10:
            lo, _, hi = item.partition("-")
            if hi and lo.strip() <= norm[:3] <= hi.strip():
                return True
            if not hi and norm.startswith(item.replace(".", "")):
                return True
        return False


def _check(item: str) -> str:
    for end in item.split("-"):
        if not _CODE.match(end.strip()):
            raise ValueError(f"not an ICD-10 code or range: {item!r}")
    return item


def packaged_text() -> str:
    """The packaged ``data/signals.toml``."""
    return resources.files("khoyte.surveillance").joinpath("data/signals.toml").read_text("utf-8")


@cache
def load_signals(path: Path | None = None) -> tuple[Signal, ...]:
    """The signals of ``path`` (default: the packaged ``data/signals.toml``)."""
    text = packaged_text() if path is None else path.read_text(encoding="utf-8")
    out = []
    for s in tomllib.loads(text)["signal"]:
        out.append(
            Signal(
                code=s["code"],
                name_vi=s["name_vi"],
                name_en=s["name_en"],
                icd10=tuple(_check(c) for c in s["icd10"]),
                algorithm=s["algorithm"],
                params={k: str(v) for k, v in s.get("params", {}).items()},
            )
        )
    return tuple(out)


def period_start(d: date, frequency: str) -> date:
    return d if frequency == "day" else d - timedelta(days=d.weekday())


def iso_week_label(d: date) -> str:
    """``2025-W07`` for the ISO week containing ``d``."""
    w = Week.fromdate(d, system="iso")
    return f"{w.year}-W{w.week:02d}"


def counts(
    engine: AnalyticsEngine,
    signals: Iterable[Signal],
    *,
    frequency: str = "week",
    by: str = "commune",
    start: date | None = None,
    end: date | None = None,
    places: Iterable[str] | None = None,
) -> list[tuple[str, str, date, int]]:
    """(signal, place, period start, visits) for every non-empty cell."""
    if frequency not in ("day", "week"):
        raise ValueError("frequency must be day or week")
    place = PLACE_COLUMNS[by]
    period = "e.ngay_vao" if frequency == "day" else "CAST(date_trunc('week', e.ngay_vao) AS DATE)"
    cases, params = [], []
    for s in signals:
        cond, p = s.sql()
        cases.append(f"WHEN {cond} THEN ?")
        params += [*p, s.code]
    if not cases:
        return []
    where, wparams = ["e.ngay_vao IS NOT NULL"], []
    if start is not None:
        where.append("e.ngay_vao >= ?")
        wparams.append(start)
    if end is not None:
        where.append("e.ngay_vao <= ?")
        wparams.append(end)
    # only fixed column expressions and placeholders are spliced in
    sql = (
        f"SELECT sig, place, period, COUNT(*) FROM (SELECT CASE {' '.join(cases)} END AS sig, "  # noqa: S608  # nosec B608
        f"{place} AS place, {period} AS period FROM fact_episode e WHERE {' AND '.join(where)}) "
        "WHERE sig IS NOT NULL AND place IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    rows = engine.query(sql, [*params, *wparams])
    wanted = None if places is None else set(places)
    return [
        (str(r[0]), str(r[1]), r[2], int(r[3]))
        for r in rows
        if wanted is None or str(r[1]) in wanted
    ]


def remap_places(
    rows: list[tuple[str, str, date, int]], mapping: Mapping[str, str]
) -> list[tuple[str, str, date, int]]:
    """Old commune codes → 2025 communes, cells merged."""
    acc: dict[tuple[str, str, date], int] = {}
    for sig, place, period, n in rows:
        key = (sig, mapping.get(place, place), period)
        acc[key] = acc.get(key, 0) + n
    return [(s, p, d, n) for (s, p, d), n in sorted(acc.items())]


def series(
    rows: Iterable[tuple[str, str, date, int]], first: date, last: date, frequency: str = "week"
) -> tuple[list[date], dict[tuple[str, str], np.ndarray]]:
    """Zero-filled series over every period from ``first`` to ``last`` per (signal, place)."""
    step = 1 if frequency == "day" else 7
    a, b = period_start(first, frequency), period_start(last, frequency)
    periods = [a + timedelta(days=i) for i in range(0, (b - a).days + 1, step)]
    pos = {d: i for i, d in enumerate(periods)}
    out: dict[tuple[str, str], np.ndarray] = {}
    for sig, place, period, n in rows:
        i = pos.get(period)
        if i is None:
            continue
        out.setdefault((sig, place), np.zeros(len(periods)))[i] += n
    return periods, out
