"""Incremental loading: a new record appears, a superseding version replaces the old numbers, a
rejected version replaces nothing, and loading in steps equals a full rebuild."""

from __future__ import annotations

import copy
import shutil
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from khoyte.config import Settings
from khoyte.standards import writer
from khoyte.standards.model import Record
from khoyte.validate.engine import RecordStatus, validate_file
from khoyte.warehouse import schema
from khoyte.warehouse.engine import AnalyticsEngine, DuckDBEngine
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from khoyte.web.app import create_app
from tests.synth_helpers import RECEIVED, generate

PERIOD = {"from": "2025-01-01", "to": "2025-01-31"}


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, seed=11, population=900, start=date(2025, 1, 1), end=date(2025, 1, 20))
    return out


def copy_days(src: Path, dst: Path, last_day: date) -> None:
    """Copy the claim files of the days up to ``last_day`` (and facilities.csv)."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "facilities.csv", dst / "facilities.csv")
    for day_dir in sorted((src / "xml").iterdir()):
        if (
            date.fromisoformat(day_dir.name) <= last_day
            and not (dst / "xml" / day_dir.name).exists()
        ):
            shutil.copytree(day_dir, dst / "xml" / day_dir.name)


def table_rows(eng: AnalyticsEngine) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for t in (*schema.CURRENT_TABLES, "fact_submission", "dim_facility", "dim_icd10"):
        out[t] = sorted(eng.query(f"SELECT * FROM {t}"), key=repr)
    return out


def test_loading_in_steps_equals_a_rebuild(synth: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    step = Warehouse(Settings(data_dir=tmp_path / "a", pseudonym_key="k"))  # type: ignore[arg-type]
    source = FileVersionSource(folder)
    reports = []
    for last in (date(2025, 1, 5), date(2025, 1, 12), date(2025, 1, 20)):
        copy_days(synth, folder, last)
        reports.append(step.refresh(source))
    assert all(r.loaded > 0 for r in reports)
    assert step.refresh(source).versions == 0  # nothing new: nothing loaded twice
    full = Warehouse(Settings(data_dir=tmp_path / "b", pseudonym_key="k"))  # type: ignore[arg-type]
    full.rebuild(FileVersionSource(folder))
    try:
        a, b = table_rows(step.engine), table_rows(full.engine)
        assert a["fact_episode"]
        assert a == b
        assert step.loader.watermark() == full.loader.watermark() == len(a["fact_episode"])
        # and a rebuild of the stepped warehouse gives the same again
        step.rebuild(FileVersionSource(folder))
        assert table_rows(step.engine) == b
    finally:
        step.close()
        full.close()


def test_a_fresh_process_source_resumes_from_the_watermark(synth: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    copy_days(synth, folder, date(2025, 1, 10))
    settings = Settings(data_dir=tmp_path / "d")
    wh = Warehouse(settings)
    first = wh.refresh(FileVersionSource(folder))
    wh.close()
    copy_days(synth, folder, date(2025, 1, 20))
    wh = Warehouse(settings)  # a new process: new engine, new source, same files
    try:
        second = wh.refresh(FileVersionSource(folder))
        assert second.versions == second.loaded > 0
        n = wh.engine.query("SELECT COUNT(*) FROM fact_episode")[0][0]
        assert n == first.loaded + second.loaded
    finally:
        wh.close()


def _records(path: Path) -> list[Record]:
    res = validate_file(path, received_at=RECEIVED)
    return [rr.record for rr in res.records if rr.record and rr.status is not RecordStatus.REJECTED]


def _with_ma_lk(rec: Record, ma_lk: str) -> Record:
    new = copy.deepcopy(rec)
    new.ma_lk = ma_lk
    for rows in new.tables.values():
        for row in rows:
            if "MA_LK" in row.values:
                row.values["MA_LK"] = ma_lk
    return new


def _send(folder: Path, day: str, name: str, facility: str, records: list[Record]) -> None:
    target = folder / "xml" / day / f"{name}.xml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(writer.envelope(records, facility, date(2025, 1, 25)))


@pytest.fixture
def live(synth: Path, tmp_path: Path) -> Iterator[tuple[TestClient, Path, FileVersionSource]]:
    folder = tmp_path / "in"
    copy_days(synth, folder, date(2025, 1, 20))
    settings = Settings(
        data_dir=tmp_path / "data", open_dashboard=True, warehouse_refresh_seconds=0
    )
    app = create_app(settings)
    source = FileVersionSource(folder)
    app.state.services.warehouse.refresh(source)
    with TestClient(app) as client:
        yield client, folder, source
    app.state.services.close()


def twin(client: TestClient, **params: str) -> dict[str, Any]:
    r = client.get("/api/v1/dashboards/kcb", params={**PERIOD, **params})
    assert r.status_code == 200
    body: dict[str, Any] = r.json()
    return body


def test_new_record_and_superseding_versions(
    live: tuple[TestClient, Path, FileVersionSource],
) -> None:
    client, folder, source = live
    wh: Warehouse = client.app.state.services.warehouse  # type: ignore[attr-defined]
    path = sorted((folder / "xml").rglob("*.xml"))[0]
    facility = path.stem
    original = next(r for r in _records(path) if r.episode.sex in ("1", "2"))
    before = twin(client)
    fac_before = twin(client, facility=facility)

    # 1. A new record (a new MA_LK) is counted after a refresh.
    new = _with_ma_lk(original, original.ma_lk[:-5] + "99999")
    _send(folder, "2025-01-21", facility, facility, [new])
    report = wh.refresh(source)
    assert (report.versions, report.loaded) == (1, 1)
    after_new = twin(client)
    assert after_new["visits"]["total"] == before["visits"]["total"] + 1
    assert twin(client, facility=facility)["visits"]["total"] == fac_before["visits"]["total"] + 1
    cost = original.episode.total_cost
    assert cost is not None
    assert round(after_new["costs"]["total"] - before["costs"]["total"], 2) == float(cost)

    # 2. A second version of the original record with the other sex replaces the first.
    v2 = copy.deepcopy(original)
    old_sex = original.episode.sex or ""
    new_sex = "2" if old_sex == "1" else "1"
    v2.episode.values["GIOI_TINH"] = new_sex
    _send(folder, "2025-01-22", f"{facility}-gui-lai", facility, [v2])
    report = wh.refresh(source)
    assert (report.loaded, report.superseded) == (1, 1)
    after_v2 = twin(client)
    assert after_v2["visits"]["total"] == after_new["visits"]["total"]
    assert after_v2["visits"]["by_sex"][old_sex] == after_new["visits"]["by_sex"][old_sex] - 1
    assert after_v2["visits"]["by_sex"][new_sex] == after_new["visits"]["by_sex"][new_sex] + 1
    row = wh.engine.query(
        "SELECT version, gioi_tinh FROM fact_episode WHERE facility = ? AND ma_lk = ?",
        [facility, original.ma_lk],
    )
    assert row == [(2, new_sex)]

    # 3. A third version that the validator rejects replaces nothing.
    v3 = copy.deepcopy(v2)
    v3.episode.values["GIOI_TINH"] = old_sex
    v3.episode.values["T_TONGCHI_BV"] = (cost or 0) + 12345
    _send(folder, "2025-01-23", f"{facility}-lan-3", facility, [v3])
    report = wh.refresh(source)
    assert (report.versions, report.rejected, report.loaded) == (1, 1, 0)
    assert twin(client) == {**after_v2, "as_of": twin(client)["as_of"]}
    comp = client.get(
        "/api/v1/dashboards/completeness", params={**PERIOD, "facility": facility}
    ).json()
    assert comp["facilities"][0]["rejected"] == 1


def test_person_key_is_a_keyed_hash_and_no_identifier_is_stored(
    synth: Path, tmp_path: Path
) -> None:
    wh = Warehouse(Settings(data_dir=tmp_path / "a", pseudonym_key="one"))  # type: ignore[arg-type]
    other = Warehouse(Settings(data_dir=tmp_path / "b", pseudonym_key="two"))  # type: ignore[arg-type]
    try:
        wh.refresh(FileVersionSource(synth))
        other.refresh(FileVersionSource(synth))
        keys = {r[0] for r in wh.engine.query("SELECT person_key FROM fact_episode")}
        keys2 = {r[0] for r in other.engine.query("SELECT person_key FROM fact_episode")}
        assert None not in keys
        assert len(keys) > 100
        assert not keys & keys2  # another key, other pseudonyms
        dump = repr(table_rows(wh.engine))
        persons = (synth / "truth" / "persons.csv").read_text(encoding="utf-8").splitlines()[1:50]
        for line in persons:
            _, name, _, _, _, cccd, card = line.split(",")
            assert name not in dump
            if cccd:
                assert cccd not in dump
            if card:
                assert card[-10:] not in dump
    finally:
        wh.close()
        other.close()


def test_engine_reads_while_loading_in_another_thread(synth: Path, tmp_path: Path) -> None:
    eng = DuckDBEngine(tmp_path / "w.duckdb")
    wh = Warehouse(Settings(data_dir=tmp_path), engine=eng)
    import threading

    seen: list[int] = []

    def read() -> None:
        for _ in range(20):
            seen.append(int(eng.query("SELECT COUNT(*) FROM fact_episode")[0][0]))

    t = threading.Thread(target=read)
    t.start()
    wh.refresh(FileVersionSource(synth))
    t.join()
    try:
        assert seen == sorted(seen)  # counts only grow: each batch is committed whole
        assert eng.query("SELECT COUNT(*) FROM fact_episode")[0][0] > 0
    finally:
        wh.close()


def test_the_app_refreshes_in_the_background(synth: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    copy_days(synth, folder, date(2025, 1, 10))
    settings = Settings(
        data_dir=tmp_path / "data",
        open_dashboard=True,
        warehouse_source=folder,
        warehouse_refresh_seconds=0.2,
    )
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            first = twin(client)["visits"]["total"]  # the first request starts the poller
            copy_days(synth, folder, date(2025, 1, 20))
            full = sum(
                1 for _ in FileVersionSource(folder).iter_versions(0)
            )  # what the folder now holds
            seen = first
            for _ in range(300):  # wait for it (not a timing assertion: up to 60 s)
                seen = twin(client)["visits"]["total"]
                if seen == full:
                    break
                time.sleep(0.2)
            assert first < seen == full
    finally:
        app.state.services.close()
