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
