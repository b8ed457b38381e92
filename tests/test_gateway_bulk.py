"""Bulk intake (``khoyte ingest``): worker processes read, a group of files is stored per
transaction — and the store ends exactly as one file after another would leave it: the same
receipts, versions in the files' order, the same heads and audit entries."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from khoyte.config import Settings
from khoyte.gateway.bulk import BulkIntake
from khoyte.gateway.ingest import IngestSummary, bulk_submitter, ingest, local_submitter
from khoyte.gateway.intake import IntakeService, ensure_schema, parse_file
from khoyte.gateway.models import RecordHead, RecordVersionRow, Submission
from khoyte.security.models import AuditEntry
from khoyte.standards.serialize import record_from_json, record_to_json
from khoyte.standards.writer import envelope
from khoyte.store.crypto import keyring
from khoyte.store.db import session_scope
from tests.factories import record
from tests.gateway_helpers import db_url_fixture  # noqa: F401  (fixture)
from tests.xmlkit import hoso_files, raw_envelope


def _folder(root: Path) -> Path:
    """Files with what bulk intake must keep in order: one record sent again, changed, in a
    later file (versions 1, 2, 3 across groups); the same bytes twice; a file with nothing
    usable; a file too large; a file of another facility."""
    root.mkdir()
    for i in range(23):
        recs = [record(f"B{i:03d}{k}", facility="82001", start=datetime(2025, 8, 1 + i % 28, 8))
                for k in range(2)]  # fmt: skip
        if i in (3, 9, 17):  # LKSAME again, each time with another cost
            again = record("LKSAME", facility="82001", start=datetime(2025, 8, 2, 8))
            again.episode.values["LY_DO_VV"] = f"Sốt, ho (lần gửi {i})"
            recs.append(again)
        (root / f"f{i:03d}.xml").write_bytes(envelope(recs, "82001", date(2025, 8, 28)))
    # a portal download's table sent alone, right after its record (same group): joined to it
    drugs = record("B0210", facility="82001", start=datetime(2025, 8, 22, 8))
    drugs.tables["XML2"][0].values["LIEU_DUNG"] = "1 viên * 3 lần/ngày * 5 ngày"
    (root / "f021_drugs.xml").write_bytes(
        raw_envelope([[("XML2", dict(hoso_files(drugs))["XML2"])]])
    )
    (root / "f005_copy.xml").write_bytes((root / "f005.xml").read_bytes())
    (root / "f010_bad.xml").write_bytes(b"<GIAMDINHHS><THONGTINDONVI>")  # breaks off
    (root / "f011_big.xml").write_bytes(b"<x>" + b" " * 3000000 + b"</x>")
    other = [record("OTHER01", facility="82002")]
    (root / "f012_other.xml").write_bytes(envelope(other, "82002", date(2025, 8, 28)))
    return root


def _state(svc: IntakeService) -> dict[str, Any]:
    with session_scope(svc.sessions) as s:
        subs = sorted((r.sha256, r.status, r.facility) for r in s.scalars(select(Submission)))
        unseal = keyring(svc.engine).unseal
        versions = [  # the record as stored, opened (sealed where it was read, with bulk)
            (v.facility, v.ma_lk, v.version, v.content_sha,
             record_to_json(record_from_json(v.record, unseal)))
            for v in s.scalars(select(RecordVersionRow).order_by(RecordVersionRow.id))
        ]  # fmt: skip
        heads = sorted(
            (h.facility, h.ma_lk, h.latest_version) for h in s.scalars(select(RecordHead))
        )
        audit = sorted(
            (a.action, a.outcome)
            for a in s.scalars(select(AuditEntry))
            if a.action == "submission.receive"
        )
    return {"subs": subs, "versions": versions, "heads": heads, "audit": audit}


def _run(
    tmp: Path, folder: Path, jobs: int | None, chunk: int = 4
) -> tuple[IngestSummary, dict[str, Any]]:
    svc = IntakeService(Settings(data_dir=tmp, max_file_bytes=2_000_000))
    ensure_schema(svc.engine)
    try:
        if jobs is None:
            summary = ingest([folder], local_submitter(svc))
        else:
            with BulkIntake(svc, jobs=jobs, chunk=chunk) as bulk:
                summary = ingest([folder], bulk_submitter(bulk, [folder]))
        return summary, _state(svc)
    finally:
        svc.engine.dispose()


# chunk 4: the table sent alone (f021_drugs) is in its record's group; chunk 2: it starts the
# next group, while its record's group may still be being stored
@pytest.mark.parametrize(("jobs", "chunk"), [(0, 4), (1, 4), (1, 2)])
def test_bulk_intake_leaves_the_store_as_one_file_after_another(
    tmp_path: Path, jobs: int, chunk: int
) -> None:
    folder = _folder(tmp_path / "in")
    one, one_state = _run(tmp_path / "one", folder, None)
    bulk, bulk_state = _run(tmp_path / "bulk", folder, jobs, chunk)
    assert one.files == 28
    assert (one.new, one.duplicates, one.refused, one.rejected_files) == (26, 1, 1, 1)
    for field in ("files", "new", "duplicates", "refused", "rejected_files", "records",
                  "accepted", "warnings", "rejected"):  # fmt: skip
        assert getattr(bulk, field) == getattr(one, field), field
    assert [e[0] for e in bulk.errors] == [e[0] for e in one.errors]  # the too-large file
    assert bulk_state["subs"] == one_state["subs"]
    assert bulk_state["heads"] == one_state["heads"]
    assert bulk_state["audit"] == one_state["audit"]
    # versions in the files' order: LKSAME's three versions carry files 3, 9, 17's contents
    same = [v for v in bulk_state["versions"] if v[1] == "LKSAME"]
    assert [v[2] for v in same] == [1, 2, 3]
    assert same == [v for v in one_state["versions"] if v[1] == "LKSAME"]
    assert sorted(bulk_state["versions"]) == sorted(one_state["versions"])


def test_ingesting_the_same_folder_again_stores_nothing_new(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "in")
    svc = IntakeService(Settings(data_dir=tmp_path / "s", max_file_bytes=2_000_000))
    ensure_schema(svc.engine)
    try:
        with BulkIntake(svc, jobs=1, chunk=5) as bulk:
            first = ingest([folder], bulk_submitter(bulk, [folder]))
            before = _state(svc)
            again = ingest([folder], bulk_submitter(bulk, [folder]))
        after = _state(svc)
    finally:
        svc.engine.dispose()
    assert first.new == 26
    assert (again.new, again.duplicates) == (0, 27)
    assert after["subs"] == before["subs"]
    assert after["versions"] == before["versions"]


def test_a_worker_that_dies_only_costs_reading_in_this_process(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "in")
    svc = IntakeService(Settings(data_dir=tmp_path / "s"))
    files = [(p.read_bytes(), p.name) for p in sorted(folder.glob("f00*.xml"))[:3]]
    with BulkIntake(svc, jobs=1) as bulk:
        pool = bulk._workers()
        assert pool is not None
        dying = pool.submit(os._exit, 3)  # as a reader crashing on a hostile file would
        got = bulk._read(files, dying)  # type: ignore[arg-type]
        assert bulk._pool is None  # a new pool for the next group
        assert bulk._workers() is not None
    want = [parse_file(d, n, svc.policy) for d, n in files]
    assert [(r.kind, len(recs)) for r, recs, _ in got] == [(r.kind, len(recs)) for r, recs in want]
    assert [[rr.ma_lk for rr in recs] for _, recs, _ in got] == [
        [rr.ma_lk for rr in recs] for _, recs in want
    ]
    svc.engine.dispose()


def test_after_a_store_error_nothing_more_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path / "in")
    svc = IntakeService(Settings(data_dir=tmp_path / "s", max_file_bytes=2_000_000))
    ensure_schema(svc.engine)
    files = [(p.read_bytes(), p.name) for p in sorted(folder.glob("f0*.xml"))]
    culprit = hashlib.sha256(files[4][0]).hexdigest()  # in the second group of three
    real, calls = svc.store_in_order, []

    def failing(batch: list[Any]) -> list[Any]:
        calls.append([p.sha for p in batch])
        if culprit in calls[-1]:  # a store error the retries could not get past
            time.sleep(0.5)  # slow to fail: later groups are queued behind it meanwhile
            return [OSError("disk gone")] * len(batch)
        return real(batch)

    monkeypatch.setattr(svc, "store_in_order", failing)
    got: list[Any] = []
    try:
        with BulkIntake(svc, jobs=0, chunk=3) as bulk, pytest.raises(OSError, match="disk gone"):
            got.extend(bulk.submit_many(files))
        with session_scope(svc.sessions) as s:
            stored = {r.sha256 for r in s.scalars(select(Submission))}
    finally:
        svc.engine.dispose()
    assert culprit in calls[-1]  # no transaction after the failed one
    assert len(got) in (0, 3)  # the first group's receipts (unless stored with the second)
    assert stored == {r.data["sha256"] for r in got}  # nothing queued behind it was stored


def test_receipts_and_heads_point_at_their_own_versions(tmp_path: Path, db_url: str | None) -> None:
    """The ids of a group's new versions (taken before the insert: SQLite's next ids under the
    write lock, PostgreSQL's sequence) reach each receipt and head: each points at its own
    row, and a second run (versions 2) continues after them."""
    folder = _folder(tmp_path / "in")
    svc = IntakeService(
        Settings(data_dir=tmp_path / "s", max_file_bytes=2_000_000, database_url=db_url)
    )
    ensure_schema(svc.engine)
    try:
        with BulkIntake(svc, jobs=0, chunk=8) as bulk:
            receipts = [o for o in bulk.submit_many(
                [(p.read_bytes(), p.name) for p in sorted(folder.glob("*.xml"))]
            ) if not isinstance(o, Exception)]  # fmt: skip
        changed = record("B0010", facility="82001", start=datetime(2025, 8, 3, 8))
        changed.episode.values["LY_DO_VV"] = "Đau bụng (gửi lại)"
        receipts.append(
            svc.submit(envelope([changed], "82001", date(2025, 8, 28)), channel="ingest")
        )
        with session_scope(svc.sessions) as s:
            rows = {v.id: v for v in s.scalars(select(RecordVersionRow))}
            heads = list(s.scalars(select(RecordHead)))
    finally:
        svc.engine.dispose()
    pointed = 0
    for r in receipts:
        for item in r.data["records"]:
            if item["version_id"] is not None:
                row = rows[item["version_id"]]
                assert (row.ma_lk, row.version) == (item["ma_lk"], item["version"])
                assert row.submission_id == r.data["id"] or item["change"] == "unchanged"
                pointed += 1
    assert pointed >= 40
    assert receipts[-1].data["records"][0]["version"] == 2  # after the group's ids
    for h in heads:
        assert (rows[h.latest_version_id].ma_lk, rows[h.latest_version_id].version) == (
            h.ma_lk,
            h.latest_version,
        )
