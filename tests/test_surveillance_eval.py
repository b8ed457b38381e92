"""Detection against the outbreaks ``khoyte synth --outbreak`` injects (issue 15, "What it must
show" #2), on a small province so that it runs in a test: dengue, HFMD and measles outbreaks of
several sizes, lengths, communes and start dates; every commune × week of those signals judged
as the alert cycle judges it. Bounds are the measured values with a margin (docs/surveillance.md
has the numbers of the full evaluation, ``python -m benchmarks.surveillance_eval``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from benchmarks.surveillance_eval import Setup, build, evaluate, signal_of

from khoyte.surveillance.signals import load_signals

pytestmark = pytest.mark.slow
SETUP = Setup(5, 4000, date(2024, 1, 1), date(2025, 6, 29), date(2025, 1, 6), 6,
              ("A90", "B08.4", "B05"))  # fmt: skip


def test_outbreaks_are_found_early_with_few_false_alarms(tmp_path: Path) -> None:
    data, manifest = build(SETUP, tmp_path)
    assert len(manifest["outbreaks"]) == 6
    assert all(o["injected_visits"] > 0 for o in manifest["outbreaks"])
    res = evaluate(data, manifest, SETUP.eval_from, ("dengue", "hfmd", "measles"))
    # measured (2026-12): 6 of 6 found; 3 false alarms in 1,900 commune-weeks = 0.16 per 100;
    # median 8 days to alert. Margins: one outbreak missed; 6× the false alarms; 6 days more.
    assert res["sensitivity"] >= 5 / 6
    assert res["false_per_100_commune_weeks"] <= 1.0
    assert res["median_days_to_alert"] is not None
    assert res["median_days_to_alert"] <= 14
    # an alarm can only come once the week is complete: never before 1 day after the start
    assert all(t["days_to_alert"] >= 1 for t in res["outbreaks"] if t["detected"])


def test_an_outbreak_is_scored_on_its_signal() -> None:
    assert signal_of("A97.0", load_signals()) == "dengue"
    assert signal_of("B08.4", load_signals()) == "hfmd"
    assert signal_of("J10.1", load_signals()) == "ili"
    with pytest.raises(ValueError, match="no signal"):
        signal_of("Z00", load_signals())
