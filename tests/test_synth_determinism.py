"""Same seed → byte-identical output (XML, manifest, truth files, XLSX), whatever the number of
worker processes; another seed → other data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from tests.synth_helpers import generate, tree

ARGS = {"population": 1500, "start": date(2025, 2, 25), "end": date(2025, 3, 4), "dirty": 0.1}


def test_same_seed_byte_identical_and_jobs_do_not_matter(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=21, **ARGS)
    generate(tmp_path / "b", seed=21, jobs=2, **ARGS)
    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert any(k.endswith(".xlsx") for k in a)


def test_different_seed_different_data(tmp_path: Path) -> None:
    generate(tmp_path / "a", seed=21, **ARGS)
    generate(tmp_path / "c", seed=22, **ARGS)
    a, c = tree(tmp_path / "a"), tree(tmp_path / "c")
    assert a["manifest.json"] != c["manifest.json"]
    assert a["truth/visits.csv"] != c["truth/visits.csv"]
