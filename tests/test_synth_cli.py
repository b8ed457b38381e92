"""The ``khoyte synth`` command: options reach the generator, errors are reported in both
languages with a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from khoyte.cli import app

runner = CliRunner()


def test_cli_per_visit_and_outbreak(tmp_path: Path) -> None:
    out = tmp_path / "o"
    res = runner.invoke(
        app,
        [
            "synth",
            "--out",
            str(out),
            "--seed",
            "2",
            "--population",
            "600",
            "--start",
            "2025-08-01",
            "--end",
            "2025-08-03",
            "--per-visit",
            "--outbreak",
            "A97.0,28249,2025-08-01,1,6",
        ],
    )
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert m["parameters"]["per_visit"] is True
    assert m["files"]["count"] == m["totals"]["visits"]  # one file per visit
    assert m["outbreaks"][0]["icd10"] == "A97.0"
    files = list((out / "xml").rglob("*.xml"))
    assert all(p.stem.startswith(p.parent.name) for p in files)  # xml/DATE/FACILITY/MA_LK.xml


def test_cli_rejects_bad_input(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "synth",
            "--out",
            str(tmp_path),
            "--province",
            "99",
            "--population",
            "100",
            "--end",
            "2025-01-02",
        ],
    )
    assert res.exit_code == 2
    assert "province code" in res.output
    res = runner.invoke(app, ["synth", "--out", str(tmp_path), "--outbreak", "A97.0,28249"])
    assert res.exit_code != 0
    assert "ICD,COMMUNE,START,WEEKS,FACTOR" in res.output
