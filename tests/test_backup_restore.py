"""Backup and restore drills, on SQLite and PostgreSQL.

The drill: clients submit to a running ``khoyte serve`` while ``khoyte backup`` runs; the backup
is restored with ``khoyte restore`` into an empty data folder (and an empty database): every
submission receipted before the backup began is there with the same receipt and byte-identical
raw file, ``khoyte audit verify`` passes, and — after a second, incremental backup taken once the
clients stopped — a restored warehouse gives the dashboard the same numbers as the original.
Restore refuses a partial or damaged backup, and a target that is not empty, and writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from khoyte.access import Scope
from khoyte.analytics import kcb
from khoyte.analytics.filters import Filters
from khoyte.backup import MANIFEST, BackupError, backup, restore
from khoyte.config import Settings
from khoyte.gateway.archive import PACKS, Archive, pack_members
from khoyte.gateway.bulk import BulkIntake
from khoyte.gateway.intake import IntakeService, ensure_schema
from khoyte.gateway.models import Submission
from khoyte.services import build_services
from khoyte.warehouse.engine import DuckDBEngine
from tests.gateway_helpers import (  # noqa: F401  (fixture)
    FAC_A,
    FAC_B,
    Server,
    claim,
    claims,
    db_url_fixture,
    fresh_pg_database,
    register_facilities,
)

DRILL_PORTS = {"sqlite": 8115, "postgresql": 8116}  # this helper's ports for drills


def _settings(data_dir: Path, db_url: str | None) -> Settings:
    return Settings(data_dir=data_dir, database_url=db_url)


def _env(settings: Settings) -> dict[str, str]:
    env = {**os.environ, "KHOYTE_DATA_DIR": str(settings.data_dir)}
    env.pop("KHOYTE_DATABASE_URL", None)
    if settings.database_url:
        env["KHOYTE_DATABASE_URL"] = settings.database_url
    return env


def _khoyte(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "khoyte.cli", *args],
        env=_env(settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def _dashboard(settings: Settings) -> dict[str, Any]:
    eng = DuckDBEngine(settings.duckdb_path, read_only=True)
    try:
        flt = Filters(date_from=date(2025, 1, 1), date_to=date(2025, 12, 31))
        out = kcb.kcb(eng, Scope.whole_province(), flt)
        out.pop("as_of")  # when the warehouse was loaded: not one of the numbers
        return out
    finally:
        eng.close()


def _empty_target(tmp_path: Path, name: str, db_url: str | None) -> tuple[Settings, Any]:
    """An empty data folder, and for PostgreSQL an empty database (with its clean-up)."""
    if db_url is None:
        return _settings(tmp_path / name, None), None
    gen = fresh_pg_database()
    return _settings(tmp_path / name, next(gen)), gen


@pytest.mark.slow  # clients submit while the backup runs: half a minute per store
def test_restore_drill_while_clients_submit(
    tmp_path: Path, db_url: str | None, request: pytest.FixtureRequest
) -> None:
    original = _settings(tmp_path / "original", db_url)
    svc = IntakeService(original)
    ensure_schema(svc.engine)
    tokens = register_facilities(svc)
    svc.engine.dispose()
    server = Server(original.data_dir, db_url)
    server.port = DRILL_PORTS[request.node.callspec.params["db_url"]]
    server.url = f"http://127.0.0.1:{server.port}"
    sent: list[tuple[float, bytes, dict[str, Any]]] = []  # (when receipted, bytes, receipt)
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[str] = []

    def client(fac: str) -> None:
        headers = {"Authorization": f"Bearer {tokens[fac]}", "Content-Type": "application/xml"}
        with httpx.Client(timeout=60) as http:
            for i in range(10_000):
                if stop.is_set():
                    return
                # new records and new versions of earlier ones (every fifth file)
                data = claim(f"D{fac}{i // 5}", facility=fac, day=1 + i % 5)
                r = http.post(server.url + "/api/v1/submissions", content=data, headers=headers)
                with lock:
                    if r.status_code in (200, 201):
                        sent.append((time.monotonic(), data, r.json()))
                    else:
                        failures.append(f"{r.status_code} {r.text[:200]}")

    try:
        server.start(timeout=600)  # start-up alone takes minutes on a loaded shared machine
    except RuntimeError:
        server.kill()
        raise
    threads = [threading.Thread(target=client, args=(f,)) for f in (FAC_A, FAC_B, FAC_A)]
    pg_targets: list[Any] = []
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 300
        while len(sent) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        began = time.monotonic()
        with lock:
            before = [(data, receipt) for when, data, receipt in sent if when < began]
        dest = tmp_path / "backups"
        done = _khoyte(original, "backup", str(dest))  # while the clients go on submitting
        n_at_end = len(sent)
        deadline = time.monotonic() + 120
        while len(sent) < n_at_end + 5 and time.monotonic() < deadline:
            time.sleep(0.05)  # some submissions after the backup too: they are not in it
    finally:
        stop.set()
        for t in threads:
            t.join()
        server.stop()
    assert failures == []
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(before) >= 15

    try:
        # 1. restore the live backup into an empty place
        target, gen = _empty_target(tmp_path, "restored", db_url)
        pg_targets.append(gen)
        got = _khoyte(target, "restore", str(dest))
        assert got.returncode == 0, got.stdout + got.stderr
        restored = IntakeService(target)
        with restored.sessions() as s:
            stored = {x.id: x.receipt for x in s.scalars(select(Submission))}
        for data, receipt in before:
            assert json.loads(stored[receipt["id"]]) == receipt
            assert restored.archive.get(receipt["sha256"]) == data  # byte-identical
            assert hashlib.sha256(data).hexdigest() == receipt["sha256"]
        assert len(stored) < len(sent)  # the ones sent after the snapshot are not in it
        restored.engine.dispose()
        verified = _khoyte(target, "audit", "verify")
        assert verified.returncode == 0, verified.stdout + verified.stderr

        # 2. once the clients stopped: an incremental backup, restored, gives the same dashboard
        second = backup(original, dest)
        assert second.submissions == len({r["id"] for _, _, r in sent})
        assert 0 < second.archive_copied < second.archive_files  # only the new files copied
        services = build_services(original)
        try:
            assert services.warehouse is not None
            services.warehouse.rebuild()
        finally:
            services.close()
        target2, gen2 = _empty_target(tmp_path, "restored2", db_url)
        pg_targets.append(gen2)
        report = restore(target2, second.snapshot)
        assert report.warnings == []
        assert report.submissions == second.submissions
        numbers = _dashboard(original)
        assert numbers["visits"]["total"] > 0
        assert _dashboard(target2) == numbers
    finally:
        for gen in pg_targets:
            if gen is not None:
                next(gen, None)


def _small_backup(tmp_path: Path) -> tuple[Settings, Path]:
    settings = _settings(tmp_path / "data", None)
    svc = IntakeService(settings)
    ensure_schema(svc.engine)
    for i in range(3):
        svc.submit(claims([f"S{i}", f"T{i}"]), channel="ingest")
    svc.engine.dispose()
    return settings, backup(settings, tmp_path / "backups").snapshot


def _assert_refused(target: Settings, src: Path, *words: str) -> None:
    with pytest.raises(BackupError) as err:
        restore(target, src)
    for w in words:
        assert w in err.value.vi
        assert w in err.value.en
    assert "Không" in err.value.vi or "không" in err.value.vi  # Vietnamese first, then English
    assert not target.sqlite_path.exists()  # nothing written


def test_restore_refuses_a_partial_backup(tmp_path: Path) -> None:
    _, snap = _small_backup(tmp_path)
    (snap / MANIFEST).unlink()  # as if the backup had been interrupted before its last step
    target = _settings(tmp_path / "target", None)
    _assert_refused(target, snap, MANIFEST)
    _assert_refused(target, tmp_path / "backups", MANIFEST)  # no complete snapshot to pick


def test_restore_refuses_a_damaged_backup(tmp_path: Path) -> None:
    settings, snap = _small_backup(tmp_path)
    target = _settings(tmp_path / "target", None)
    # one archived file altered
    sha = next(iter(_archive_list(snap)))
    path = tmp_path / "backups" / "archive" / sha[:2] / sha[2:4] / f"{sha}.xml"
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one bit flipped
    _assert_refused(target, snap, sha, "sha256")
    path.write_bytes(good)
    # the store copy cut short
    store = snap / "store.sqlite3"
    whole = store.read_bytes()
    store.write_bytes(whole[: len(whole) // 2])
    _assert_refused(target, snap, "store.sqlite3")
    store.write_bytes(whole)
    assert restore(target, snap).submissions == 3  # the repaired backup restores
    assert settings.sqlite_path.exists()


def test_restore_refuses_a_target_that_is_not_empty(tmp_path: Path) -> None:
    settings, snap = _small_backup(tmp_path)
    before = settings.sqlite_path.read_bytes()
    with pytest.raises(BackupError) as err:
        restore(settings, snap)  # into the live data folder
    assert str(settings.sqlite_path) in err.value.en
    assert settings.sqlite_path.read_bytes() == before


def _archive_list(snap: Path) -> list[str]:
    return [line.split()[0] for line in (snap / "archive.list").read_text().splitlines() if line]


def test_packs_from_bulk_intake_are_backed_up_whole_and_restored(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "data", None)
    svc = IntakeService(settings)
    ensure_schema(svc.engine)
    files = [(claims([f"P{i}", f"Q{i}"]), f"p{i}.xml") for i in range(7)]
    with BulkIntake(svc, jobs=0, chunk=4) as bulk:  # two groups: two packs
        receipts = list(bulk.submit_many(files))
    loose = svc.submit(claims(["L1"]), channel="ingest")  # one file sent alone: loose
    svc.engine.dispose()
    shas = [r.data["sha256"] for r in receipts if not isinstance(r, Exception)]
    shas.append(loose.data["sha256"])
    assert len(shas) == 8
    packs = Archive(settings.archive_dir).packs()
    assert len(packs) == 2
    first = backup(settings, tmp_path / "backups")
    assert first.archive_files == 8
    assert first.archive_copied == 8
    copied = sorted((tmp_path / "backups" / "archive" / PACKS).rglob("*.zip"))
    assert [p.read_bytes() for p in copied] == [p.read_bytes() for p in packs]  # whole
    again = backup(settings, tmp_path / "backups")  # incremental: nothing copied twice
    assert again.archive_files == 8
    assert again.archive_copied == 0
    assert sorted(_archive_list(again.snapshot)) == sorted(shas)
    # a member of a copied pack damaged: restore refuses, naming it
    victim = copied[0]
    good = victim.read_bytes()
    member = pack_members(victim)[0].sha256
    with zipfile.ZipFile(victim) as z:
        info = z.getinfo(f"{member}.xml")
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 5  # inside the data
    victim.write_bytes(good[:at] + bytes([good[at] ^ 1]) + good[at + 1 :])
    target = _settings(tmp_path / "target", None)
    _assert_refused(target, again.snapshot, member)
    victim.write_bytes(good)
    restored = restore(target, again.snapshot)
    assert restored.archive_files == 8
    back = Archive(target.archive_dir)
    original = Archive(settings.archive_dir)
    for sha in shas:
        assert back.get(sha) == original.get(sha)  # byte-identical
    # and a pack damaged in the live archive stops the backup (no manifest)
    live = packs[0]
    whole = live.read_bytes()
    live.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BackupError) as err:
        backup(settings, tmp_path / "other")
    assert str(live) in err.value.en
    live.write_bytes(whole)
