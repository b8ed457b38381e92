"""Judging with verdicts already cached: the periods left to judge can have gaps (the
algorithms take a contiguous range), and the verdicts must not depend on what was cached.
Found by CI: the epidemic page answered 500 when earlier tests had warmed the cache."""

from __future__ import annotations

import numpy as np

from khoyte.surveillance import detect
from khoyte.surveillance.signals import load_signals


def test_a_partly_warm_cache_gives_the_same_verdicts() -> None:
    rng = np.random.default_rng(3)
    y = rng.poisson(4.0, size=60).astype(float)
    for signal in load_signals():
        periods = list(range(20, 41))
        detect._cache.clear()
        cold = detect.judge(signal, y, periods, frequency="day")
        detect._cache.clear()
        detect.judge(signal, y, [25, 30, 31], frequency="day")  # warm a few, leaving gaps
        warm = detect.judge(signal, y, periods, frequency="day")
        assert warm == cold, signal.code
        assert any(v is not None for v in cold)


def test_per_signal_alpha_is_data_and_the_short_history_stand_in_keeps_ears_alpha() -> None:
    from khoyte.surveillance.detect import Choice, choose
    from khoyte.surveillance.signals import load_signals

    sig = {s.code: s for s in load_signals()}
    # three years of weeks: the signal's own algorithm with its alpha from signals.toml
    assert choose(sig["diarrhoea"], 160) == Choice(
        "farrington_flexible",
        {"noPeriods": "10", "pastWeeksNotIncluded": "26", "alpha": "0.01", "b": "3"},
    )
    assert choose(sig["ari"], 160).params["alpha"] == "0.001"  # type: ignore[union-attr]
    assert "alpha" not in choose(sig["dengue"], 160).params  # type: ignore[union-attr]
    # under a year: EARS C2 stands in, never less strict than its own default
    for code in ("diarrhoea", "ari", "dengue"):
        assert choose(sig[code], 30) == Choice("ears_c2", {"alpha": "0.001"})
