"""How well detection finds the outbreaks ``khoyte synth --outbreak`` injects (issue 15, "What it
must show" #2): sensitivity, false alarms per 100 commune-weeks and median days from an
outbreak's start to its alert, measured against the manifest.

``python -m benchmarks.surveillance_eval [--quick]`` writes a synthetic province (three years of
history, several diseases, communes, sizes and start dates — :func:`plan`), loads it into a
warehouse and judges every signal × commune × week of the evaluation period with the documented
algorithm per signal (:func:`khoyte.surveillance.detect.judge`, as the alert cycle does).

* An outbreak is **detected** when its signal alarms in its commune in a week overlapping it
  (start to end, plus one week: a triangle-shaped outbreak may cross the bound late);
* the **days to alert** are from its first day to the day after the alarming week ends (the
  Monday the cycle can judge that week);
* a **false alarm** is an alarm in a commune-week of a signal with no injected outbreak there
  (the synthetic background is Poisson noise with seasonality: every alarm outside an outbreak
  is false). The rate is per 100 commune-weeks judged, all signals together.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from khoyte.config import Settings
from khoyte.surveillance.detect import judge
from khoyte.surveillance.signals import Signal, counts, load_signals, series
from khoyte.synth.generate import SynthConfig, run
from khoyte.synth.province import build_province
from khoyte.synth.visits import Outbreak
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource

DISEASES = ("A90", "B08.4", "A09", "B05", "J10")  # dengue, HFMD, diarrhoea, measles, ILI


@dataclass(frozen=True)
class Setup:
    seed: int
    population: int
    start: date  # first day of the history
    end: date  # last day of data
    eval_from: date  # first Monday judged
    outbreaks: int
    diseases: tuple[str, ...] = DISEASES


FULL = Setup(11, 20000, date(2023, 1, 2), date(2025, 12, 28), date(2025, 3, 3), 10)
QUICK = Setup(5, 6000, date(2024, 1, 1), date(2025, 6, 29), date(2025, 1, 6), 6)


def plan(s: Setup) -> tuple[Outbreak, ...]:
    """Outbreaks of several diseases, communes, sizes (factor 3–10) and lengths (2–6 weeks),
    starting on any weekday across the evaluation period (seeded)."""
    r = random.Random(s.seed)
    prov = build_province(s.seed, "82", s.population, s.start)
    communes = r.sample([c.code for c in prov.geo.communes], s.outbreaks)
    last_start = (s.end - timedelta(weeks=7) - s.eval_from).days
    return tuple(
        Outbreak(
            s.diseases[i % len(s.diseases)],
            communes[i],
            s.eval_from + timedelta(days=r.randrange(0, last_start)),
            r.randint(2, 6),
            float(r.randint(3, 10)),
        )
        for i in range(s.outbreaks)
    )


def signal_of(icd: str, signals: tuple[Signal, ...]) -> str:
    code = icd.replace(".", "").upper()
    for s in signals:
        for item in s.icd10:
            lo, _, hi = item.partition("-")
            if (hi and lo.strip() <= code[:3] <= hi.strip()) or code.startswith(
                item.replace(".", "")
            ):
                return s.code
    raise ValueError(f"no signal for {icd}")


def evaluate(
    data_dir: Path, manifest: dict[str, Any], eval_from: date, codes: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Judge every signal (or those of ``codes``) × commune × week from ``eval_from`` to the
    last complete week."""
    signals = tuple(s for s in load_signals() if not codes or s.code in codes)
    by_code = {s.code: s for s in signals}
    wh = Warehouse(Settings(data_dir=data_dir, warehouse_refresh_seconds=0))
    try:
        rows = counts(wh.engine, signals, frequency="week", by="commune")
    finally:
        wh.close()
    last_day = date.fromisoformat(manifest["parameters"]["end"])
    last = last_day - timedelta(days=last_day.weekday() + (0 if last_day.weekday() == 6 else 7))
    first = min(r[2] for r in rows)
    periods, all_series = series(rows, first, last)
    judged = [i + 1 for i, d in enumerate(periods) if d >= eval_from]
    communes = {p for (_, p) in all_series}
    t0 = time.perf_counter()
    alarms: set[tuple[str, str, date]] = set()
    for (code, place), y in all_series.items():
        for k, v in zip(judged, judge(by_code[code], y, judged), strict=True):
            if v is not None and v.alarm:
                alarms.add((code, place, periods[k - 1]))
    seconds = time.perf_counter() - t0
    truth = []
    for ob in manifest["outbreaks"]:
        start = date.fromisoformat(ob["start"])
        end = start + timedelta(weeks=ob["weeks"] + 1)
        sig = signal_of(ob["icd10"], signals)
        hits = sorted(
            d
            for (c, p, d) in alarms
            if c == sig and p == ob["commune"] and start - timedelta(days=6) <= d < end
        )
        truth.append({**{k: ob[k] for k in ("icd10", "commune", "start", "weeks", "factor",
                                             "injected_visits")},
                      "signal": sig, "detected": bool(hits),
                      "days_to_alert": (hits[0] + timedelta(days=7) - start).days if hits else None,
                      "window": (sig, ob["commune"], start - timedelta(days=6), end)})  # fmt: skip
    false = [
        a for a in alarms
        if not any(a[0] == w[0] and a[1] == w[1] and w[2] <= a[2] < w[3]
                   for w in (t["window"] for t in truth))
    ]  # fmt: skip
    commune_weeks = len(communes) * len(judged)
    days = [t["days_to_alert"] for t in truth if t["days_to_alert"] is not None]
    for t in truth:
        del t["window"]
    return {
        "outbreaks": truth,
        "sensitivity": sum(t["detected"] for t in truth) / len(truth),
        "false_alarms": len(false),
        "commune_weeks": commune_weeks,
        "false_per_100_commune_weeks": 100 * len(false) / commune_weeks,
        "median_days_to_alert": statistics.median(days) if days else None,
        "series": len(all_series),
        "weeks": len(judged),
        "detect_seconds": seconds,
    }


def build(s: Setup, where: Path) -> tuple[Path, dict[str, Any]]:
    synth, data = where / "synth", where / "data"
    cfg = SynthConfig(seed=s.seed, population=s.population, start=s.start, end=s.end,
                      outbreaks=plan(s), aggregates=False)  # fmt: skip
    run(cfg, synth)
    data.mkdir(exist_ok=True)
    wh = Warehouse(Settings(data_dir=data, warehouse_refresh_seconds=0))
    try:
        wh.rebuild(FileVersionSource(synth))
    finally:
        wh.close()
    manifest: dict[str, Any] = json.loads((synth / "manifest.json").read_text(encoding="utf-8"))
    return data, manifest


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    s = QUICK if "--quick" in args else FULL
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        data, manifest = build(s, Path(tmp))
        built = time.perf_counter() - t0
        res = evaluate(data, manifest, s.eval_from)
    print(f"province: seed {s.seed}, population {s.population}, {s.start} → {s.end} "
          f"(built in {built:.0f} s); judged {res['weeks']} weeks × {res['series']} series "
          f"in {res['detect_seconds']:.0f} s")  # fmt: skip
    for t in res["outbreaks"]:
        print(f"  {t['icd10']:6} {t['signal']:10} {t['commune']} {t['start']} {t['weeks']} wk "
              f"×{t['factor']:.0f} ({t['injected_visits']} visits): "
              f"{'detected after ' + str(t['days_to_alert']) + ' d' if t['detected'] else 'missed'}")  # fmt: skip
    print(f"sensitivity {res['sensitivity']:.2f}; false alarms {res['false_alarms']} in "
          f"{res['commune_weeks']} commune-weeks = {res['false_per_100_commune_weeks']:.2f} per "
          f"100; median days to alert {res['median_days_to_alert']}")  # fmt: skip


if __name__ == "__main__":
    main()
