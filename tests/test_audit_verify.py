"""`khoyte audit verify` on a live store (SQLite and PostgreSQL): it reads the chain, its head and
the completeness check in one snapshot, so a server appending meanwhile is never mistaken for
tampering, while real tampering still is; and it names submissions without their audit entry."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text, update
from typer.testing import CliRunner

from khoyte.cli import app as cli
from khoyte.gateway.intake import IntakeService, ensure_schema
from khoyte.security import audit
from khoyte.security.models import AuditEntry, AuditHead
from khoyte.store.db import session_scope
from tests.gateway_helpers import claim, db_url_fixture, settings_for  # noqa: F401  (fixture)
from tests.security_helpers import make_env

runner = CliRunner()


@pytest.fixture
def store(
    tmp_path: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[IntakeService]:
    settings = settings_for(tmp_path, db_url)
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(settings.data_dir))
    if db_url is None:
        monkeypatch.delenv("KHOYTE_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("KHOYTE_DATABASE_URL", db_url)
    monkeypatch.delenv("KHOYTE_AUDIT_SIGNING_KEY", raising=False)
    svc = IntakeService(settings)
    ensure_schema(svc.engine)
    yield svc
    svc.engine.dispose()


def _verify() -> tuple[int, str]:
    res = runner.invoke(cli, ["audit", "verify"])
    return res.exit_code, res.output


def test_verify_while_a_server_appends_never_reports_tampering(store: IntakeService) -> None:
    with session_scope(store.sessions) as s:  # a trail long enough for the walk to take a while
        for i in range(400):
            audit.record(s, "user:seed", "record.view", f"record:{i}", "success", "10.0.0.1")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:  # a server: one entry per committed change, without pause
        try:
            while not stop.is_set():
                with session_scope(store.sessions) as s:
                    audit.record(s, "user:w", "record.view", "record:w", "success", "10.0.0.2")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        verdicts = []
        for _ in range(25):
            with audit.snapshot(store.engine) as s:
                verdicts.append(audit.verify(s))
        cli_runs = [_verify() for _ in range(3)]
        # a real edit, made while the writer carries on, is still caught at its entry
        with session_scope(store.sessions) as s:
            s.execute(text("UPDATE sec_audit_log SET actor = 'user:mallory' WHERE seq = 100"))
        with audit.snapshot(store.engine) as s:
            edited = audit.verify(s)
        edited_cli = _verify()
        with session_scope(store.sessions) as s:
            s.execute(text("UPDATE sec_audit_log SET actor = 'user:seed' WHERE seq = 100"))
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert [v.message() for v in verdicts if not v.ok] == []
    # the writer did commit while the chain was being verified (the race was there to lose)
    assert len({v.entries for v in verdicts}) > 1
    for code, out in cli_runs:
        assert code == 0, out
        assert "audit chain intact" in out
    assert not edited.ok
    assert edited.broken_seq == 100
    assert edited_cli[0] == 1
    assert "#100" in edited_cli[1]
    # deleting the newest entries (the head still records them) is caught as well
    with session_scope(store.sessions) as s:
        s.execute(
            text("DELETE FROM sec_audit_log WHERE seq > (SELECT seq FROM sec_audit_head) - 3")
        )
    code, out = _verify()
    assert code == 1
    assert "các mục cuối bị xoá" in out
    assert "the newest entries were deleted" in out


def test_verify_names_submissions_without_their_audit_entry(store: IntakeService) -> None:
    first = store.submit(claim("C1"), channel="ingest")
    code, out = _verify()
    assert code == 0, out
    assert "every submission has its submission.receive audit entry" in out
    second = store.submit(claim("C2"), channel="ingest")
    # What an older version could leave after a crash between its two commits: the submission
    # stored, its entry never written — the chain itself intact.
    with store.sessions() as s, s.begin():
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.target == f"submission:{second.id}")
        ).one()
        head = s.get(AuditHead, 1)
        assert head is not None
        assert head.seq == entry.seq
        s.execute(delete(AuditEntry).where(AuditEntry.seq == entry.seq))
        s.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(seq=entry.seq - 1, hash=entry.prev_hash)
        )
    code, out = _verify()
    assert code == 1
    assert "audit chain intact" in out
    assert "1 lần gửi không có mục nhật ký tiếp nhận" in out
    assert "1 submissions have no submission.receive audit entry" in out
    assert second.id in out
    assert first.id not in out


def test_verify_api_while_entries_are_appended(
    tmp_path: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GET /api/v1/audit/verify`` (auditors) reads one snapshot as well."""
    env = make_env(tmp_path, monkeypatch, database_url=db_url)
    env.add_user("kt", ["auditor"], ["province"])
    headers = {"Authorization": f"Bearer {env.token('kt')}"}
    sessions = env.sec.factory
    with session_scope(sessions) as s:
        for i in range(400):
            audit.record(s, "user:seed", "record.view", f"record:{i}", "success", "10.0.0.1")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                with session_scope(sessions) as s:
                    audit.record(s, "user:w", "record.view", "record:w", "success", "10.0.0.2")
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        client = env.client()
        bodies = [client.get("/api/v1/audit/verify", headers=headers).json() for _ in range(15)]
    finally:
        stop.set()
        thread.join()
        env.app.state.services.close()
    assert not errors
    assert [b for b in bodies if not b["ok"]] == []
    assert len({b["entries"] for b in bodies}) > 1
    # the head answered is the one the walk ended on
    assert all(b["head"]["seq"] == b["entries"] for b in bodies)
