"""What the epidemic page and ``GET /api/v1/signals`` show: every signal over time with its
expected value, upper bound and alarms, and the communes ranked by excess.

The numbers are :func:`khoyte.surveillance.detect.judge`'s — the same algorithm per signal, the
same choice of ``b`` and the same verdict cache as the alert cycle — over the signals'
counts (:func:`khoyte.surveillance.signals.counts`). Scope: signals are counted by residence
commune, so a caller sees the communes of their scope (a province scope: the whole province,
visits without a residence commune included); a facility-only scope sees no commune.

*Area series* (``series``): the caller's area (or one commune) summed per period, judged
period by period over ``[from, to]`` with the history before ``from`` as baseline.
*Ranking* (``ranking``): every visible commune × signal with at least one case, judged at the
last period of the range (what is happening now), sorted by excess = observed − upper bound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from khoyte.access import Scope
from khoyte.registry.facilities import commune_name
from khoyte.surveillance.detect import Judged, choose_daily, judge
from khoyte.surveillance.signals import (
    Signal,
    counts,
    iso_week_label,
    load_signals,
    period_start,
    remap_places,
    series,
)
from khoyte.warehouse.engine import AnalyticsEngine

DEFAULT_PERIODS = {"week": 52, "day": 90}
MAX_PERIODS = {"week": 5 * 53, "day": 366}
EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)  # no date arithmetic overflows


class RangeError(ValueError):
    """The asked range is empty or too long."""


@dataclass(frozen=True, slots=True)
class Window:
    frequency: str  # day | week
    first: date  # first judged period (its start)
    last: date  # last judged period (its start)

    @property
    def step(self) -> timedelta:
        return timedelta(days=1 if self.frequency == "day" else 7)

    @property
    def end(self) -> date:
        """The last day of the last period."""
        return self.last + self.step - timedelta(days=1)


def window(
    frequency: str, d_from: date | None, d_to: date | None, data_end: date | None, today: date
) -> Window:
    """The periods to judge. Default end: the last *complete* period before today and not
    after the data's last day (a period still filling would read low); default length: 52
    weeks or 90 days."""
    for d in (d_from, d_to):
        if d is not None and not EARLIEST <= d <= LATEST:
            raise RangeError(f"dates between {EARLIEST} and {LATEST}")
    if d_to is None:
        end = min(today - timedelta(days=1), data_end or today)
        nxt = period_start(end + timedelta(days=1), frequency)
        last = nxt - timedelta(days=1 if frequency == "day" else 7)
    else:
        last = period_start(d_to, frequency)
    step = 1 if frequency == "day" else 7
    first = (
        period_start(d_from, frequency)
        if d_from is not None
        else last - timedelta(days=step * (DEFAULT_PERIODS[frequency] - 1))
    )
    if first > last:
        raise RangeError("from is after to")
    if (last - first).days // step + 1 > MAX_PERIODS[frequency]:
        raise RangeError(f"at most {MAX_PERIODS[frequency]} periods")
    return Window(frequency, first, last)


def visible(place: str, scope: Scope) -> bool:
    return scope.province or place in scope.communes


def label(d: date, frequency: str) -> str:
    return iso_week_label(d) if frequency == "week" else d.isoformat()


def _points(
    periods: list[date], y: np.ndarray, verdicts: list[Judged | None], offset: int, freq: str
) -> list[dict[str, Any]]:
    out = []
    for i, v in enumerate(verdicts):
        d = periods[offset + i]
        out.append(
            {
                "period": d,
                "label": label(d, freq),
                "observed": int(y[offset + i]),
                "expected": None if v is None else v.expected,
                "upperbound": None if v is None else v.upperbound,
                "alarm": None if v is None else v.alarm,
                "algorithm": None if v is None else v.algorithm,
            }
        )
    return out


def overview(
    engine: AnalyticsEngine,
    scope: Scope,
    win: Window,
    *,
    signal: str | None = None,
    commune: str | None = None,
    commune_map: Mapping[str, str] | None = None,
    signals: tuple[Signal, ...] | None = None,
) -> dict[str, Any]:
    """The twin's body (see :class:`khoyte.surveillance.epidemic.SignalsTwin`)."""
    every = signals or load_signals()
    chosen = [s for s in every if signal is None or s.code == signal]
    freq = win.frequency
    # all signals counted, whatever is asked: the series start where the alert cycle's do
    # (the first period of any signal), so a week reads the same here and in an alert
    rows = counts(engine, every, frequency=freq, by="commune", end=win.end)
    rows = remap_places(rows, commune_map or {})
    first = min([r[2] for r in rows] + [win.first])
    wanted = {s.code for s in chosen}
    rows = [r for r in rows if r[0] in wanted]
    whole = scope.province and commune is None
    area_rows = (
        counts(engine, chosen, frequency=freq, by="province", start=first, end=win.end)
        if whole
        else []
    )
    periods, by_place = series(rows, first, win.last, freq)
    if whole:
        _, area = series(area_rows, first, win.last, freq)
    else:
        area = {}
        for (code, place), y in by_place.items():
            if visible(place, scope) and (commune is None or place == commune):
                area[(code, "area")] = area.get((code, "area"), np.zeros(len(periods))) + y
    offset = periods.index(win.first)
    judged = list(range(offset + 1, len(periods) + 1))  # 1-based periods in the window
    out_signals = []
    for s in chosen:
        y = next((v for (c, _), v in area.items() if c == s.code), np.zeros(len(periods)))
        # a signal without a single case in the area is not judged (as the alert cycle skips
        # communes without cases): its points have no bound and no alarm
        verdicts: list[Judged | None] = (
            judge(s, y, judged, freq) if y.any() else [None] * len(judged)
        )
        points = _points(periods, y, verdicts, offset, freq)
        out_signals.append(
            {
                "code": s.code,
                "name_vi": s.name_vi,
                "name_en": s.name_en,
                "algorithm": _documented(s, freq),
                "params": dict(s.params),
                "points": points,
                "alarms": sum(1 for p in points if p["alarm"]),
            }
        )
    ranking: list[dict[str, Any]] = []
    by_code = {s.code: s for s in chosen}
    for (code, place), y in sorted(by_place.items()):
        if not visible(place, scope) or (commune is not None and place != commune):
            continue
        (v,) = judge(by_code[code], y, [len(periods)], freq)
        if v is None or v.upperbound is None:
            continue
        ranking.append(
            {
                "signal": code,
                "commune": place,
                "commune_name": commune_name(place),
                "period": periods[-1],
                "label": label(periods[-1], freq),
                "observed": int(v.observed),
                "expected": v.expected,
                "upperbound": v.upperbound,
                "excess": v.observed - v.upperbound,
                "alarm": bool(v.alarm),
                "algorithm": v.algorithm,
            }
        )
    ranking.sort(key=lambda r: (-r["excess"], r["signal"], r["commune"]))
    return {
        "frequency": freq,
        "period": {"from": win.first, "to": win.end},
        "commune": commune,
        "signals": out_signals,
        "ranking": ranking,
    }


def _documented(s: Signal, frequency: str) -> str:
    """The signal's algorithm for a long enough series (``choose`` lowers ``b`` or falls back
    to EARS on a short history: each point names what actually ran)."""
    if frequency == "week":
        return s.algorithm
    c = choose_daily(s, 10**6)
    return c.algorithm if c else s.algorithm
