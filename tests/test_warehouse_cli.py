"""``khoyte warehouse rebuild|refresh|stats|facilities import`` and the services' source."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from khoyte.cli import app
from khoyte.config import Settings
from khoyte.services import build_services
from tests.synth_helpers import generate

runner = CliRunner()


def test_rebuild_refresh_stats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synth = tmp_path / "synth"
    m = generate(synth, seed=2, population=500, start=date(2025, 1, 1), end=date(2025, 1, 10))
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path / "data"))
    r = runner.invoke(app, ["warehouse", "rebuild", "--from", str(synth)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["loaded"] == m["totals"]["visits"]  # type: ignore[index]
    r = runner.invoke(app, ["warehouse", "refresh", "--from", str(synth)])
    assert json.loads(r.output)["versions"] == 0
    r = runner.invoke(app, ["warehouse", "stats"])
    stats = json.loads(r.output)
    assert stats["fact_episode"] == m["totals"]["visits"]  # type: ignore[index]
    # the facilities and the assessment council (facilities.csv's last line, synth/assessments.py)
    assert stats["dim_facility"] == m["province"]["facilities"] + 1  # type: ignore[index]
    assert (
        runner.invoke(app, ["warehouse", "refresh", "--from", str(tmp_path / "no")]).exit_code == 2
    )
    # without --from, the gateway's operational store is the source (empty here: nothing new)
    r = runner.invoke(app, ["warehouse", "refresh"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["versions"] == 0
    # the source folder from the settings, as the demo and the app use it
    monkeypatch.setenv("KHOYTE_WAREHOUSE_SOURCE", str(synth))
    assert runner.invoke(app, ["warehouse", "refresh"]).exit_code == 0
    services = build_services(Settings())  # the app's wiring hands the folder to the warehouse
    assert services.warehouse is not None
    assert services.warehouse.refresh().versions == 0  # already loaded above
    services.close()


def test_the_warehouse_has_no_facility_importer_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One registry (F21): the old command points at `khoyte facility import`, writes nothing."""
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path / "data"))
    r = runner.invoke(app, ["warehouse", "facilities", "import", "f.csv"])
    assert r.exit_code == 2
    assert "khoyte facility import f.csv" in r.output
