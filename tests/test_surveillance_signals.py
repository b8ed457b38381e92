"""Signals from the warehouse and current_alarms over every commune (issue 15 items 1 and 6)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

from khoyte.cli import app
from khoyte.surveillance.detect import current_alarms
from khoyte.surveillance.signals import counts, iso_week_label, load_signals
from khoyte.warehouse import schema
from khoyte.warehouse.engine import DuckDBEngine

TODAY = date(2025, 6, 18)  # a Wednesday: the last complete week starts Monday 2025-06-09
JUDGED = date(2025, 6, 9)


def _engine(episodes: list[tuple[str, str, date]]) -> DuckDBEngine:
    eng = DuckDBEngine(":memory:")
    schema.create(eng)
    for i, (icd, commune, day) in enumerate(episodes):
        eng.execute(
            "INSERT INTO fact_episode (facility, ma_lk, ngay_vao, ma_xa_cu_tru, ma_benh_chinh, "
            "age_band) VALUES (?, ?, ?, ?, ?, ?)",
            ["79001", f"LK{i}", day, commune, icd, "15-59"],
        )
    return eng


def _province(seed: int, outbreak_in: str | None) -> list[tuple[str, str, date]]:
    rng = np.random.default_rng(seed)
    out: list[tuple[str, str, date]] = []
    start = JUDGED - timedelta(weeks=52 * 3)
    for week in range(52 * 3 + 1):
        monday = start + timedelta(weeks=week)
        for commune in ("26734", "26737"):
            n = rng.poisson(6)
            if commune == outbreak_in and monday == JUDGED:
                n += 30
            out += [
                ("A90", commune, monday + timedelta(days=int(d))) for d in rng.integers(0, 7, n)
            ]
    return out


def test_icd_mapping_is_the_documented_one() -> None:
    eng = _engine(
        [
            ("B08.4", "1", JUDGED),
            ("B084", "1", JUDGED),
            ("B08.2", "1", JUDGED),  # not HFMD
            ("A09", "1", JUDGED),
            ("a00.1", "1", JUDGED),
            ("J06.9", "1", JUDGED),  # not ILI (docs/surveillance.md)
            ("J10.1", "1", JUDGED),
            ("A97.0", "1", JUDGED),
            ("Z00", "1", JUDGED),
        ]
    )
    got = {(s, n) for s, _, _, n in counts(eng, load_signals())}
    assert got == {("hfmd", 2), ("diarrhoea", 2), ("ari", 1), ("ili", 1), ("dengue", 1)}
    assert iso_week_label(date(2025, 1, 1)) == "2025-W01"
    assert iso_week_label(date(2024, 12, 30)) == "2025-W01"


@pytest.mark.parametrize("by", ["facility", "age_band", "province"])
def test_counts_by_other_places_and_days(by: str) -> None:
    eng = _engine([("A90", "1", JUDGED), ("A91", "2", JUDGED + timedelta(days=2))])
    week = counts(eng, load_signals(), by=by)
    assert [(s, p, n) for s, p, _, n in week] == [
        ("dengue", {"facility": "79001", "age_band": "15-59", "province": "province"}[by], 2)
    ]
    assert len(counts(eng, load_signals(), by=by, frequency="day")) == 2


def test_current_alarms_names_the_commune_with_the_outbreak() -> None:
    eng = _engine(_province(7, outbreak_in="26737"))
    services = SimpleNamespace(
        warehouse=SimpleNamespace(engine=eng), sessions=None, clock=lambda: datetime(2025, 6, 18)
    )
    alarms = current_alarms(services, today=TODAY)
    assert [(a.signal, a.place, a.period_start) for a in alarms] == [("dengue", "26737", JUDGED)]
    a = alarms[0]
    assert a.algorithm == "farrington_flexible"
    assert a.observed > a.upperbound > a.expected > 0
    quiet = _engine(_province(7, outbreak_in=None))
    services.warehouse = SimpleNamespace(engine=quiet)
    assert current_alarms(services, today=TODAY) == []


def test_cli_detect_prints_the_documented_csv(tmp_path: Path) -> None:
    y = np.random.default_rng(3).poisson(4, 300)
    y[-1] = 40
    src = tmp_path / "s.csv"
    src.write_text("idx,observed\n" + "".join(f"{i},{v}\n" for i, v in enumerate(y, 1)))
    res = CliRunner().invoke(
        app,
        ["surveillance", "detect", "--algorithm", "farrington_flexible", "--input", str(src),
         "--range", "290:300", "--param", "noPeriods=10", "--param", "thresholdMethod=nbPlugin"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "idx,observed,expected,upperbound,alarm"
    assert len(lines) == 12
    assert lines[-1].startswith("300,40,")
    assert lines[-1].endswith(",TRUE")
    bad = CliRunner().invoke(
        app, ["surveillance", "detect", "--algorithm", "cusum", "--input", str(src)]
    )
    assert bad.exit_code == 2
