"""Our detection algorithms against R ``surveillance`` run live (the oracle, tests/r/oracle.R).

On the package's own example data sets and on seeded synthetic series, per algorithm: alarm
decisions agree on ≥ 99 % of periods, expected values and upper bounds agree within 1e-6
relative wherever R gives a number, and NA falls where R's NA falls.
"""

from __future__ import annotations

import csv
import io
import subprocess  # nosec B404
from pathlib import Path

import numpy as np
import pytest

from khoyte.surveillance.algorithms import Result, detect

ORACLE = Path(__file__).parent / "r" / "oracle.R"
ALL = ("ears_c1", "ears_c2", "ears_c3", "farrington", "farrington_flexible")
pytestmark = pytest.mark.slow


def _parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.strip())))


def _run(rscript: str, *args: str) -> list[dict[str, str]]:
    proc = subprocess.run(  # nosec B603
        [rscript, str(ORACLE), *args], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _parse(proc.stdout)


def _run_jobs(rscript: str, jobs: list[list[str]], tmp: Path) -> list[list[dict[str, str]]]:
    """One R process for many jobs (R takes seconds to start)."""
    path = tmp / "jobs.tsv"
    path.write_text("".join("\t".join(j) + "\n" for j in jobs), encoding="utf-8")
    proc = subprocess.run(  # nosec B603
        [rscript, str(ORACLE), "--jobs", str(path)], capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    parts = proc.stdout.split("#job ")[1:]
    assert len(parts) == len(jobs)
    return [_parse(p.split("\n", 1)[1]) for p in parts]


def _num(v: str) -> float:
    return float("nan") if v == "" else (1.0 if v == "TRUE" else 0.0 if v == "FALSE" else float(v))


def _synthetic(seed: int, years: int = 7, base: float = 4.0, sparse: bool = False) -> np.ndarray:
    """Weekly negative binomial counts with seasonality, a trend and three outbreaks."""
    rng = np.random.default_rng(seed)
    t = np.arange(52 * years)
    mu = base * np.exp(0.6 * np.sin(2 * np.pi * t / 52) + 0.002 * t)
    if sparse:
        mu = mu / 8
    for start in rng.integers(60, len(t) - 10, size=3):
        mu[start : start + 4] *= 4
    size = 3.0
    return rng.negative_binomial(size, size / (size + mu)).astype(np.float64)


class _Tally:
    def __init__(self) -> None:
        self.agree = self.total = 0

    def add(self, ours: Result, theirs: list[dict[str, str]], label: str) -> None:
        assert [int(r["idx"]) for r in theirs] == ours.idx.tolist(), label
        for name, mine in (("upperbound", ours.upperbound), ("expected", ours.expected)):
            ref = np.array([_num(r[name]) for r in theirs])
            if name == "expected" and np.all(np.isnan(ref)):
                continue  # earsC reports no expected value
            both = ~np.isnan(ref) & ~np.isnan(mine)
            na_differs = np.count_nonzero(np.isnan(ref) != np.isnan(mine))
            assert na_differs <= 0.01 * len(ref), f"{label} {name}: NA at {na_differs} periods"
            rel = np.abs(mine[both] - ref[both]) / np.maximum(np.abs(ref[both]), 1e-9)
            assert rel.max(initial=0.0) < 1e-6, f"{label} {name}: max rel diff {rel.max()}"
        ref_alarm = np.array([_num(r["alarm"]) for r in theirs])
        same = (ref_alarm == ours.alarm) | (np.isnan(ref_alarm) & np.isnan(ours.alarm))
        self.agree += int(np.count_nonzero(same))
        self.total += len(same)
        assert np.mean(same) >= 0.95, f"{label}: alarms agree on {np.mean(same):.3f}"


class _Batch:
    """Comparisons collected, then R run once for all of them."""

    def __init__(self) -> None:
        self.jobs: list[list[str]] = []
        self.ours: list[tuple[str, Result, str]] = []

    def add(
        self,
        algorithm: str,
        source: str,
        y: np.ndarray,
        freq: int = 52,
        rng: tuple[int, int] | None = None,
        **params: str,
    ) -> None:
        bounds = [str(rng[0]), str(rng[1])] if rng else ["NA", "NA"]
        self.jobs.append(
            [algorithm, source, str(freq), *bounds, *(f"{k}={v}" for k, v in params.items())]
        )
        ours = detect(
            algorithm,
            y,
            frequency=freq,
            range_=list(range(rng[0], rng[1] + 1)) if rng else None,
            params={k: v.strip('"') for k, v in params.items()},
        )
        self.ours.append((algorithm, ours, f"{algorithm} {source} {params}"))

    def check(self, rscript: str, tmp: Path) -> dict[str, _Tally]:
        tallies: dict[str, _Tally] = {}
        for (algorithm, ours, label), theirs in zip(
            self.ours, _run_jobs(rscript, self.jobs, tmp), strict=True
        ):
            tallies.setdefault(algorithm, _Tally()).add(ours, theirs, label)
        for algorithm, t in tallies.items():
            assert t.agree / t.total >= 0.99, f"{algorithm}: {t.agree}/{t.total}"
        return tallies


# data set, frequency, b for the Farrington methods (short series need fewer years)
DATASETS = [
    ("data:salmonella.agona", 52, 5),
    ("data:shadar", 52, 5),
    ("data:salmNewport:1", 52, 5),
    ("data:salmHospitalized", 52, 5),
    ("data:influMen:2", 52, 5),
    ("data:momo:3", 52, 5),
    ("data:k1", 52, 3),
    ("data:s1", 52, 3),
    ("data:hepatitisA", 52, 3),
    ("data:ha.sts:5", 52, 4),
    ("data:rotaBB:1", 12, 5),
]


def test_example_data_sets_agree_with_r(rscript: str, tmp_path: Path) -> None:
    series = _run_jobs(rscript, [["series", s, "52", "NA", "NA"] for s, _, _ in DATASETS], tmp_path)
    batch = _Batch()
    for (source, freq, b), rows in zip(DATASETS, series, strict=True):
        y = np.array([float(r["observed"]) for r in rows])
        for algorithm in ALL:
            params = {} if algorithm.startswith("ears") or b == 5 else {"b": str(b)}
            batch.add(algorithm, source, y, freq, **params)
    tallies = batch.check(rscript, tmp_path)
    assert all(t.total > 500 for t in tallies.values())


VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("ears_c1", {"alpha": "0.05", "baseline": "10"}),
    ("ears_c2", {"minSigma": "0.5"}),
    ("ears_c3", {"alpha": "0.001", "minSigma": "1"}),
    ("farrington", {"reweight": "FALSE", "powertrans": '"none"'}),
    ("farrington", {"trend": "FALSE", "alpha": "0.01", "w": "2"}),
    ("farrington", {"powertrans": '"1/2"', "b": "4", "limit54": "c(3,2)"}),
    ("farrington_flexible", {"noPeriods": "10", "pastWeeksNotIncluded": "26"}),
    ("farrington_flexible", {"thresholdMethod": '"nbPlugin"', "noPeriods": "10"}),
    ("farrington_flexible", {"thresholdMethod": '"muan"', "powertrans": '"1/2"'}),
    ("farrington_flexible", {"reweight": "FALSE", "pThresholdTrend": "1", "alpha": "0.01"}),
    ("farrington_flexible", {"weightsThreshold": "1", "b": "3", "w": "2", "trend": "FALSE"}),
]


def test_synthetic_series_and_parameters_agree_with_r(rscript: str, tmp_path: Path) -> None:
    batch = _Batch()
    for seed in (1, 2):
        for sparse in (False, True):
            y = _synthetic(seed, sparse=sparse)
            path = tmp_path / f"series-{seed}-{sparse}.csv"
            path.write_text(
                "idx,observed\n" + "".join(f"{i},{v:g}\n" for i, v in enumerate(y, 1)),
                encoding="utf-8",
            )
            for algorithm in ALL:
                batch.add(algorithm, str(path), y)
            for algorithm, params in VARIANTS:
                batch.add(algorithm, str(path), y, **params)
            # an explicit range, as the CLI passes it
            batch.add("farrington_flexible", str(path), y, rng=(300, 320))
    batch.check(rscript, tmp_path)


def test_the_oracle_can_disagree(rscript: str) -> None:
    """The comparison is not vacuous: a perturbed implementation is caught."""
    y = np.array(
        [
            float(r["observed"])
            for r in _run(rscript, "series", "data:salmonella.agona", "52", "NA", "NA")
        ]
    )
    theirs = _run(rscript, "farrington", "data:salmonella.agona", "52", "NA", "NA")
    ours = detect("farrington", y, params={"alpha": "0.0501"})
    with pytest.raises(AssertionError, match="upperbound"):
        _Tally().add(ours, theirs, "perturbed")
