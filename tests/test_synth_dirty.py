"""Dirty mode: the validator reports exactly the defects the manifest lists — nothing missed,
nothing extra — compared one by one (file, MA_LK, finding code)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

from tests.synth_helpers import findings, generate


def test_dirty_findings_equal_manifest_both_ways(tmp_path: Path) -> None:
    generate(
        tmp_path,
        seed=11,
        population=3000,
        start=date(2025, 5, 5),
        end=date(2025, 5, 25),
        dirty=0.35,
    )
    m = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    expected: Counter[tuple[str, str | None, str]] = Counter()
    for d in m["defects"]:
        for code in d["expected"]:
            expected[(d["file"], None if code.startswith("FILE.") else d["ma_lk"], code)] += 1
    got = findings(tmp_path)
    assert expected - got == Counter(), "defects the validator missed"
    assert got - expected == Counter(), "findings the manifest does not list"
    kinds = Counter(d["kind"] for d in m["defects"])
    # Tolerated quirks are listed with no expected finding, errors with theirs.
    assert kinds["bom"] > 0
    assert kinds["wrong_xsi"] > 0
    assert kinds["duplicate_file"] > 0
    assert len(kinds) >= 15, kinds


def test_clean_is_clean_when_rate_is_zero(tmp_path: Path) -> None:
    m = generate(
        tmp_path, seed=11, population=800, start=date(2025, 5, 5), end=date(2025, 5, 8), dirty=0.0
    )
    assert m["defects"] == []
