"""Precision and recall of the aggregate data-quality checks against the synth's manifest."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from khoyte.aggregate import importer, periods, quality
from khoyte.aggregate.metadata import load


def read_values(folder: Path) -> dict[quality.Key, float]:
    out: dict[quality.Key, float] = {}
    for path in sorted(folder.glob("*.csv")):
        cells, problems = importer.read_csv(path.read_bytes(), path.name)
        assert not problems
        for c in cells:
            out[(c.data_element, c.coc, periods.parse(c.period).iso, c.orgunit)] = float(c.value)
    return out


def _pr(found: set[Any], expected: set[Any]) -> tuple[float, float, int, int]:
    hit = len(found & expected)
    return (hit / len(found) if found else 1.0, hit / len(expected) if expected else 1.0,
            len(found), len(expected))  # fmt: skip


def measure(
    folder: Path, anomalies: list[dict[str, Any]], before: str
) -> dict[str, tuple[float, float, int, int]]:
    """(precision, recall, found, expected) of the rules, the outliers and completeness, over
    the months before ``before`` (``YYYYMM``: where the claims start, the bed-days switch from
    the history's model to the claims' count, a real break the detector rightly flags)."""
    anomalies = [a for a in anomalies if periods.parse(a["month"]).iso < before]
    md = load()
    values = {k: v for k, v in read_values(folder).items() if k[2] < before}
    months = sorted({k[2] for k in values})
    # outliers: recall over the anomalies that have a seasonal history to be judged against
    series: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for de, coc, p, ou in values:
        series[(de, coc, ou)].add(p)
    expected_out = set()
    for a in anomalies:
        if a["expected"] != "outlier":
            continue
        key = (a["element"], a["coc"], periods.parse(a["month"]).iso, a["orgunit"])
        hist = series[(key[0], key[1], key[3])] & set(quality.seasonal_history(key[2]))
        if len(hist) >= quality.MIN_HISTORY:
            expected_out.add(key)
    found_out = {
        (o.data_element, o.coc, o.period, o.orgunit)
        for o in quality.outliers(values, per_day=quality.per_day_elements(md))
    }
    expected_rules = {
        (a["expected"][5:], periods.parse(a["month"]).iso, a["orgunit"])
        for a in anomalies
        if a["expected"].startswith("rule:")
    }
    found_rules = {
        (v.rule, v.period, v.orgunit) for v in quality.check_rules(values, md.rules.values())
    }
    # completeness: every unit that reports a data set in some month is expected every month
    units: dict[str, set[str]] = defaultdict(set)
    present: set[tuple[str, str, str]] = set()
    for de, _, p, ou in values:
        ds = md.elements[de].dataset
        units[ds].add(ou)
        present.add((ds, p, ou))
    found_missing = {(ds, p, ou) for ds, us in units.items() for p in months for ou in us} - present
    expected_missing = {
        (a["report"], periods.parse(a["month"]).iso, a["orgunit"])
        for a in anomalies
        if a["expected"] == "missing"
    }
    return {
        "rules": _pr(found_rules, expected_rules),
        "outliers": _pr(found_out, expected_out),
        "completeness": _pr(found_missing, expected_missing),
    }
