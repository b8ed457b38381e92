"""Durable intake on SQLite and PostgreSQL: commits survive a power cut (SQLite
``synchronous=FULL``), concurrent submissions share one commit (group commit) without one bad
file sinking the others, and a submission is never stored without its audit entry (F16)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
from khoyte.web.app import create_app
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


def _submit_together(svc: IntakeService, files: list[bytes]) -> list[Receipt | BaseException]:
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
        for t in threads[1:]:
            t.start()
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
