"""Detection over the warehouse: every signal × commune, the documented algorithm per signal.

``current_alarms`` judges the last *complete* ISO week before ``today`` (a week still filling
would read low). Each signal's algorithm comes from ``data/signals.toml``; a Farrington method
needs ``b`` years of history, so ``b`` is lowered to what the warehouse holds (down to 1 year,
which also turns the trend off as R does) and, with less than a year, EARS C2 stands in (it
needs 9 weeks). A commune is judged only when it had at least one case of the signal in the
series, so empty communes cost nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from khoyte.surveillance.algorithms import detect
from khoyte.surveillance.model import Alarm
from khoyte.surveillance.signals import Signal, counts, load_signals, remap_places, series

FREQ = 52
EARS_ALPHA = 0.001  # R earsC's default for C1 and C2
CACHE_SIZE = 200_000  # judged periods kept (≈ 100 bytes each)


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
        # EARS C2 stands in with its own default alpha (0.001), or the signal's if stricter:
        # a Farrington alpha chosen for a model-based bound (0.01 for diarrhoea) would make the
        # short-history stand-in alarm ten times as often as EARS is meant to
        alpha = min(float(params.get("alpha", EARS_ALPHA)), EARS_ALPHA)
        return Choice("ears_c2", {"alpha": repr(alpha)}) if n_periods >= 10 else None
    need = {"ears_c1": 8, "ears_c2": 10, "ears_c3": 12}[signal.algorithm]
    return Choice(signal.algorithm, params) if n_periods >= need else None


def choose_daily(signal: Signal, n_periods: int) -> Choice | None:
    """Daily series: EARS (a daily method by design) — the signal's own EARS method, else C2
    with ``minSigma = 0.5`` (a commune's days are mostly zeros; with σ = 0 one case would
    alarm). Farrington is a weekly method and is not run on days."""
    if signal.algorithm.startswith("ears"):
        return choose(signal, n_periods)
    return Choice("ears_c2", {"minSigma": "0.5"}) if n_periods >= 10 else None


@dataclass(frozen=True, slots=True)
class Judged:
    """One period of one series: what the chosen algorithm says about it."""

    algorithm: str
    observed: float
    expected: float | None
    upperbound: float | None
    alarm: bool | None


_cache: OrderedDict[bytes, Judged] = OrderedDict()
_lock = threading.Lock()


def _key(choice: Choice, head: np.ndarray) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((choice.algorithm, sorted(choice.params.items()))).encode())
    h.update(np.ascontiguousarray(head, dtype=np.float64).tobytes())
    return h.digest()


def judge(
    signal: Signal, y: np.ndarray, periods: Sequence[int], frequency: str = "week"
) -> list[Judged | None]:
    """Judge the 1-based ``periods`` of series ``y``, each with the algorithm chosen for the
    history before it (None: too short). A period's verdict depends only on ``y`` up to it, so
    verdicts are kept (bounded, least recently used first out): the alert cycle, the epidemic
    page and its twin judge the same weeks again and again."""
    pick = choose if frequency == "week" else choose_daily
    out: list[Judged | None] = [None] * len(periods)
    todo: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, int, bytes]]] = {}
    for j, k in enumerate(periods):
        choice = pick(signal, k)
        if choice is None:
            continue
        key = _key(choice, y[:k])
        with _lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
        if hit is not None:
            out[j] = hit
            continue
        todo.setdefault((choice.algorithm, tuple(sorted(choice.params.items()))), []).append(
            (j, k, key)
        )
    for (algorithm, params), items in todo.items():
        # The algorithms take a contiguous range: periods already judged (cached) leave gaps,
        # so each run of consecutive periods is judged on its own (same verdicts: a period
        # depends only on the series up to it).
        for run in _runs(sorted(items, key=lambda item: item[1])):
            last = run[-1][1]
            res = detect(algorithm, y[:last], frequency=FREQ if frequency == "week" else 7,
                         range_=[k for _, k, _ in run], params=dict(params))  # fmt: skip
            for (j, _, key), (_, obs, expected, upper, alarm) in zip(run, res.rows(), strict=True):
                found = Judged(algorithm, obs, expected, upper, alarm)
                out[j] = found
                with _lock:
                    _cache[key] = found
                    if len(_cache) > CACHE_SIZE:
                        _cache.popitem(last=False)
    return out


def _runs(items: list[tuple[int, int, bytes]]) -> list[list[tuple[int, int, bytes]]]:
    """``items`` (sorted by period) cut where the periods stop being consecutive."""
    runs: list[list[tuple[int, int, bytes]]] = []
    for item in items:
        if runs and item[1] == runs[-1][-1][1] + 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def run(signal: Signal, y: np.ndarray, last: int | None = None) -> Judged | None:
    """Judge period ``last`` (1-based; default the series' end) of one weekly series."""
    return judge(signal, y, [len(y) if last is None else last])[0]


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
        if done is None or not done.alarm or done.upperbound is None:
            continue
        obs, expected, upper = done.observed, done.expected, done.upperbound
        alarms.append(
            Alarm(
                signal=code,
                algorithm=done.algorithm,
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
