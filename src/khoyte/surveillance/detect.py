"""Detection over the warehouse: every signal × commune, the documented algorithm per signal.

``current_alarms`` judges the last *complete* ISO week before ``today`` (a week still filling
would read low). Each signal's algorithm comes from ``data/signals.toml``; a Farrington method
needs ``b`` years of history, so ``b`` is lowered to what the warehouse holds (down to 1 year,
which also turns the trend off as R does) and, with less than a year, EARS C2 stands in (it
needs 9 weeks). A commune is judged only when it had at least one case of the signal in the
series, so empty communes cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from khoyte.surveillance.algorithms import Result, detect
from khoyte.surveillance.model import Alarm
from khoyte.surveillance.signals import Signal, counts, load_signals, remap_places, series

FREQ = 52


@dataclass(frozen=True, slots=True)
class Choice:
    algorithm: str
    params: dict[str, str]


def choose(signal: Signal, n_periods: int) -> Choice | None:
    """The algorithm and parameters for a series of ``n_periods`` weeks ending at the period
    to judge (None: too short for anything)."""
    params = dict(signal.params)
    if signal.algorithm.startswith("farrington"):
        w = int(params.get("w", "3"))
        flexible = signal.algorithm == "farrington_flexible"
        b_max = (n_periods - w - 1 if flexible else n_periods - 1) // FREQ
        b = min(int(params.get("b", "5")), b_max)
        if b >= 1:
            params["b"] = str(b)
            return Choice(signal.algorithm, params)
        params = {k: v for k, v in params.items() if k in ("alpha",)}
        return Choice("ears_c2", params) if n_periods >= 10 else None
    need = {"ears_c1": 8, "ears_c2": 10, "ears_c3": 12}[signal.algorithm]
    return Choice(signal.algorithm, params) if n_periods >= need else None


def run(signal: Signal, y: np.ndarray, last: int | None = None) -> tuple[Choice, Result] | None:
    """Judge period ``last`` (1-based; default the series' end) of one series."""
    k = len(y) if last is None else last
    choice = choose(signal, k)
    if choice is None:
        return None
    result = detect(choice.algorithm, y[:k], frequency=FREQ, range_=[k], params=choice.params)
    return choice, result


def commune_map(services: Any) -> dict[str, str]:
    """Pre-2025 commune codes → 2025 communes, from the registry (empty without a store)."""
    sessions = getattr(services, "sessions", None)
    if sessions is None:
        return {}
    from khoyte.registry.facilities import old_commune_map

    with sessions() as session:
        return old_commune_map(session)


def current_alarms(services: Any, *, today: date | None = None) -> list[Alarm]:
    """Alarms for the last complete ISO week before ``today``, every signal × commune."""
    wh = getattr(services, "warehouse", None)
    if wh is None:
        return []
    if today is None:
        today = services.clock().date()
    week = today - timedelta(days=today.weekday() + 7)  # Monday of the last complete week
    signals = load_signals()
    rows = counts(wh.engine, signals, frequency="week", by="commune", end=week + timedelta(days=6))
    rows = remap_places(rows, commune_map(services))
    if not rows:
        return []
    first = min(r[2] for r in rows)
    periods, all_series = series(rows, first, week)
    by_code = {s.code: s for s in signals}
    alarms: list[Alarm] = []
    for (code, place), y in sorted(all_series.items()):
        done = run(by_code[code], y)
        if done is None:
            continue
        choice, res = done
        ((_, obs, expected, upper, alarm),) = res.rows()
        if not alarm or upper is None:
            continue
        alarms.append(
            Alarm(
                signal=code,
                algorithm=choice.algorithm,
                place_kind="commune",
                place=place,
                period_start=periods[-1],
                frequency="week",
                observed=int(obs),
                expected=float(expected if expected is not None else np.nan),
                upperbound=upper,
                score=(obs - upper) / max(upper, 1.0),
            )
        )
    return alarms
