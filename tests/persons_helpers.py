"""A synthetic province's identities and their truth, for the master person index's tests."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from khoyte.persons.identity import Identity, identity_of
from khoyte.synth.generate import SynthConfig, run
from khoyte.warehouse.sources import FileVersionSource


@dataclass
class Province:
    root: Path
    identities: list[tuple[int, Identity]]  # (version id, identity)
    truth: dict[str, int]  # "MA_CSKCB|MA_LK" → person

    @property
    def communes(self) -> list[str]:
        return sorted({i.commune for _, i in self.identities if i.commune})


def province(out: Path, population: int, end: date, seed: int = 3) -> Province:
    run(SynthConfig(seed=seed, population=population, end=end, aggregates=False), out)
    ids = [
        (v.version_id, identity_of(v.facility, v.record))
        for v in FileVersionSource(out).iter_versions()
        if "XML1" in v.record.tables  # as store_identities: assessments (XML12) are not linked
    ]
    with (out / "truth" / "visits.csv").open(encoding="utf-8") as fh:
        truth = {f"{r['ma_cskcb']}|{r['ma_lk']}": int(r["person_id"]) for r in csv.DictReader(fh)}
    return Province(out, ids, truth)


def _pairs(counts: Counter[object]) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def pairwise(found: Mapping[str, object], truth: Mapping[str, int]) -> tuple[float, float]:
    """Precision and recall over record pairs (same person?)."""
    keys = list(found)
    tp = _pairs(Counter((found[k], truth[k]) for k in keys))
    predicted, actual = (
        _pairs(Counter(found[k] for k in keys)),
        _pairs(Counter(truth[k] for k in keys)),
    )
    return (tp / predicted if predicted else 1.0), (tp / actual if actual else 1.0)


def by_cluster(found: Mapping[str, object], truth: Mapping[str, int]) -> tuple[float, float]:
    """Cluster precision: share of found persons whose records are all one true person;
    cluster recall: share of true persons found exactly (one cluster, nobody else in it)."""
    found_sets: dict[object, set[str]] = {}
    true_sets: dict[int, set[str]] = {}
    for k in found:
        found_sets.setdefault(found[k], set()).add(k)
        true_sets.setdefault(truth[k], set()).add(k)
    pure = sum(1 for ks in found_sets.values() if len({truth[k] for k in ks}) == 1)
    exact = {frozenset(ks) for ks in found_sets.values()}
    whole = sum(1 for ks in true_sets.values() if frozenset(ks) in exact)
    return pure / len(found_sets), whole / len(true_sets)
