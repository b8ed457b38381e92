"""Durable intake on SQLite and PostgreSQL: commits survive a power cut (SQLite
``synchronous=FULL``), concurrent submissions share one commit (group commit) without one bad
file sinking the others, and a submission is never stored without its audit entry (F16)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, insert, select, text

from khoyte.gateway.batch import GroupWrite, Pending
from khoyte.gateway.intake import (
    _PG_LOCK,
    IntakeService,
    Receipt,
    ensure_schema,
    submissions_without_audit,
)
from khoyte.gateway.models import RecordHead, RecordVersionRow, Submission
from khoyte.security import audit
from khoyte.security.models import AuditEntry, AuditHead
from khoyte.standards.reader import DocumentKind
from khoyte.standards.writer import envelope
from khoyte.web.app import create_app
from tests.factories import record
from tests.gateway_helpers import (  # noqa: F401  (fixture)
    FAC_A,
    claim,
    claims,
    db_url_fixture,
    register_facilities,
    settings_for,
)


def _service(tmp_path: Path, db_url: str | None, cls: type[IntakeService] = IntakeService) -> Any:
    svc = cls(settings_for(tmp_path, db_url))
    ensure_schema(svc.engine)
    return svc


@contextmanager
def _store_lock_held(svc: IntakeService) -> Iterator[None]:
    """Hold intake's store-wide write lock from outside (as another process would), so that
    writers pile up in the group-commit queue."""
    if svc.engine.dialect.name == "postgresql":
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK})
                conn.commit()
        return
    raw = sqlite3.connect(svc.settings.sqlite_path, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        raw.execute("ROLLBACK")
        raw.close()


def _until(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 120  # a guard against hanging, not a timing assertion
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _submit_together(
    svc: IntakeService, files: list[bytes], *, ordered: bool = False
) -> list[Receipt | BaseException]:
    """Submit ``files`` from one thread each while the store lock is held elsewhere: the first
    leads a batch of one and waits for the lock; the rest queue behind it and share one batch."""
    out: list[Receipt | BaseException] = [RuntimeError("not run")] * len(files)

    def run(i: int) -> None:
        try:
            out[i] = svc.submit(files[i], channel="ingest")
        except Exception as exc:
            out[i] = exc

    with _store_lock_held(svc):
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(files))]
        threads[0].start()
        _until(lambda: svc.group.waiting == 1, "the first writer never queued")
        for i, t in enumerate(threads[1:], 2):
            t.start()
            if ordered:  # each queued before the next starts: the queue order is the list's
                _until(lambda i=i: svc.group.waiting == i, "a writer never queued")  # type: ignore[misc]
        _until(lambda: svc.group.waiting == len(files), "the writers never queued")
    for t in threads:
        t.join()
    return out


def test_sqlite_commits_are_flushed_to_disk(tmp_path: Path) -> None:
    svc = _service(tmp_path, None)
    with svc.engine.connect() as conn:
        # 2 = FULL: the WAL is synced at every commit; NORMAL (1) may lose the last commits
        # (and so receipted submissions) on a power cut
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    svc.engine.dispose()


def test_concurrent_submissions_share_one_commit(tmp_path: Path, db_url: str | None) -> None:
    svc = _service(tmp_path, db_url)
    # six files, two of them touching the same record (LK2): versions stay 1, 2 in commit order
    files = [claims([f"G{i}", "LK2"] if i in (2, 4) else [f"G{i}"]) for i in range(6)]
    files.append(files[1])  # the same bytes twice in one batch: one submission
    got = _submit_together(svc, files)
    assert all(isinstance(r, Receipt) for r in got), got
    receipts = [r for r in got if isinstance(r, Receipt)]
    # the first writer committed alone; everyone who queued behind it shared the second commit
    assert (svc.group.batches, svc.group.items) == (2, len(files))
    assert all(receipts[i].created for i in (0, 2, 3, 4, 5))
    # the same bytes twice: whichever queued first stored them, the other got that receipt
    assert sorted([receipts[1].created, receipts[6].created]) == [False, True]
    assert receipts[6].data == receipts[1].data
    with svc.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 6
        lk2 = s.execute(
            select(RecordVersionRow.version, RecordVersionRow.submission_id)
            .where(RecordVersionRow.ma_lk == "LK2")
            .order_by(RecordVersionRow.id)
        ).all()
        head = s.get(RecordHead, (FAC_A, "LK2"))
    changes = [
        rec["change"]
        for r in (receipts[2], receipts[4])
        for rec in r.data["records"]
        if rec["ma_lk"] == "LK2"
    ]
    # same content of LK2 in both: whichever queued first made version 1, the other "unchanged"
    assert sorted(changes) == ["new", "unchanged"]
    assert [v for v, _ in lk2] == [1]
    assert head is not None
    assert head.latest_version == 1
    # each submission and each resend has its audit entry, in one unbroken chain
    with svc.engine.connect() as conn:
        assert submissions_without_audit(conn) == []
    with svc.sessions() as s:
        assert audit.verify(s).ok
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "submission.receive")
        ).all()
    assert len(entries) == 7
    assert {e.actor for e in entries} == {"system:ingest"}
    svc.engine.dispose()


class _FailsOn(IntakeService):
    """A store that fails writing one given file (fault injection, not a mock)."""

    fail_sha = ""

    def _add(self, group: GroupWrite, p: Pending) -> Receipt:
        out = super()._add(group, p)
        if p.sha == self.fail_sha:
            raise RuntimeError(f"injected failure for {p.sha}")
        return out


def test_one_failing_file_does_not_sink_its_batch(tmp_path: Path, db_url: str | None) -> None:
    import hashlib

    svc = _service(tmp_path, db_url, _FailsOn)
    files = [claim(f"F{i}") for i in range(5)]
    svc.fail_sha = hashlib.sha256(files[2]).hexdigest()
    got = _submit_together(svc, files)
    assert isinstance(got[2], RuntimeError)
    assert "injected failure" in str(got[2])
    assert all(isinstance(got[i], Receipt) for i in (0, 1, 3, 4)), got
    with svc.sessions() as s:
        stored = set(s.scalars(select(Submission.sha256)))
        assert svc.fail_sha not in stored
        assert len(stored) == 4
        assert s.scalar(select(func.count()).select_from(RecordVersionRow)) == 4
        assert audit.verify(s).ok
    with svc.engine.connect() as conn:
        assert submissions_without_audit(conn) == []
    svc.engine.dispose()


def test_a_submission_is_never_stored_without_its_audit_entry(
    tmp_path: Path, db_url: str | None
) -> None:
    """F16: the entry is written in the submission's own transaction. If it cannot be written,
    the submission is not stored (no receipt; the sender retries) — it used to be stored anyway,
    and a crash between the two commits left it without an entry."""
    settings = settings_for(tmp_path, db_url)
    app = create_app(settings)
    service: IntakeService = app.state.services.intake
    tokens = register_facilities(service)
    headers = {"Authorization": f"Bearer {tokens[FAC_A]}", "Content-Type": "application/xml"}
    with TestClient(app, raise_server_exceptions=False) as client:
        ok = client.post("/api/v1/submissions", content=claim("A1"), headers=headers)
        assert ok.status_code == 201, ok.text
        # break the audit trail's append (its head row is gone): the next submission must fail
        with service.sessions() as s, s.begin():
            saved = s.execute(select(AuditHead.seq, AuditHead.hash)).one()
            s.execute(delete(AuditHead))
        failed = client.post("/api/v1/submissions", content=claim("A2"), headers=headers)
        assert failed.status_code == 500
        with service.sessions() as s:
            assert s.scalar(select(func.count()).select_from(Submission)) == 1
        with service.sessions() as s, s.begin():
            s.execute(insert(AuditHead).values(id=1, seq=saved.seq, hash=saved.hash))
        again = client.post("/api/v1/submissions", content=claim("A2"), headers=headers)
        assert again.status_code == 201, again.text
    with service.engine.connect() as conn:
        assert submissions_without_audit(conn) == []
    with service.sessions() as s:
        assert audit.verify(s).ok
        actors = s.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "submission.receive")
        ).all()
    assert actors == [f"facility:{FAC_A}"] * 2
    service.engine.dispose()


def test_completeness_check_finds_a_submission_without_entry(
    tmp_path: Path, db_url: str | None
) -> None:
    """The check itself: a submission whose entry is missing (as the old two-commit intake could
    leave after a crash) is named."""
    svc = _service(tmp_path, db_url)
    first = svc.submit(claim("C1"), channel="ingest")
    second = svc.submit(claim("C2"), channel="ingest", expect=DocumentKind.CLAIMS)
    with svc.sessions() as s, s.begin():
        s.execute(delete(AuditEntry).where(AuditEntry.target == f"submission:{second.id}"))
    with svc.engine.connect() as conn:
        assert submissions_without_audit(conn) == [second.id]
    assert first.id != second.id
    svc.engine.dispose()


def _changed(day: int, *, rejected: bool = False) -> bytes:
    """A file with record LKX (content differing by ``day``) and one record of its own."""
    recs = [record("LKX", facility=FAC_A, start=datetime(2025, 8, day, 8, 0)),
            record(f"OWN{day}", facility=FAC_A)]  # fmt: skip
    if rejected:
        for row in recs[0].drugs:
            row.values["MA_LK"] = "LK_KHAC"  # lines pointing at another visit: rejected
    return envelope(recs, FAC_A, date(2025, 8, 28))


def test_a_group_keeps_queue_order_in_versions_heads_receipts_and_audit(
    tmp_path: Path, db_url: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """One group, written with one statement per table, reads as if each file had been
    committed alone in queue order: the versions of a record sent by several files of the group
    are numbered in that order, the head ends at the last one (current at the last accepted
    one), each receipt names the version rows really stored, and the audit entries follow the
    same order in one unbroken chain."""
    svc = _service(tmp_path, db_url)
    files = [claim("LEAD")] + [_changed(d, rejected=d == 6) for d in range(1, 8)]
    got = _submit_together(svc, files, ordered=True)
    assert "storing each alone" not in caplog.text  # the group was written as one
    assert all(isinstance(r, Receipt) and r.created for r in got), got
    assert (svc.group.batches, svc.group.items) == (2, len(files))  # the seven shared one
    receipts = [r for r in got if isinstance(r, Receipt)][1:]
    lkx = {r.id: next(x for x in r.data["records"] if x["ma_lk"] == "LKX") for r in receipts}
    with svc.sessions() as s:
        rows = s.execute(
            select(RecordVersionRow.id, RecordVersionRow.version, RecordVersionRow.submission_id,
                   RecordVersionRow.status)
            .where(RecordVersionRow.ma_lk == "LKX").order_by(RecordVersionRow.id)
        ).all()  # fmt: skip
        seq = dict(
            s.execute(
                select(AuditEntry.target, AuditEntry.seq).where(
                    AuditEntry.action == "submission.receive"
                )
            ).all()
        )
        head = s.get(RecordHead, (FAC_A, "LKX"))
        assert audit.verify(s).ok
    # versions 1..7 in queue order, one per file, and each receipt names its own row
    assert [r.version for r in rows] == list(range(1, 8))
    assert [r.submission_id for r in rows] == [r.id for r in receipts]
    for row in rows:
        item = lkx[row.submission_id]
        assert (item["version"], item["version_id"]) == (row.version, row.id)
        assert item["change"] == ("new" if row.version == 1 else "updated")
        assert item["status"] == row.status
    # the audit entries in the same order as the versions (the queue order)
    order = [seq[f"submission:{row.submission_id}"] for row in rows]
    assert order == sorted(order)
    assert len(set(order)) == len(order)
    assert seq["submission:" + got[0].id] < min(order)  # type: ignore[union-attr]
    # the head: latest is version 7; current too (version 6 was rejected, 7 accepted)
    assert head is not None
    assert (head.latest_version, head.latest_version_id) == (7, rows[-1].id)
    assert head.current_version_id == rows[-1].id
    assert [r.status for r in rows][5] == "rejected"
    svc.engine.dispose()


def test_a_rejected_last_version_in_a_group_leaves_current_at_the_groups_accepted_one(
    tmp_path: Path, db_url: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """Current may point at a version stored earlier in the same group (its id known only after
    the group's insert)."""
    svc = _service(tmp_path, db_url)
    files = [claim("LEAD"), _changed(1), _changed(2), _changed(3, rejected=True)]
    got = _submit_together(svc, files, ordered=True)
    assert "storing each alone" not in caplog.text  # the group was written as one
    assert all(isinstance(r, Receipt) for r in got), got
    with svc.sessions() as s:
        rows = s.execute(
            select(RecordVersionRow.id, RecordVersionRow.status)
            .where(RecordVersionRow.ma_lk == "LKX")
            .order_by(RecordVersionRow.id)
        ).all()
        head = s.get(RecordHead, (FAC_A, "LKX"))
    assert [r.status for r in rows][2] == "rejected"
    assert head is not None
    assert (head.latest_version, head.latest_version_id) == (3, rows[2].id)
    assert head.current_version_id == rows[1].id
    svc.engine.dispose()
