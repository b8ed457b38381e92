"""Errors with two axes: a busy store is "not now" (transient), never a rejection.

The drop folder under a locked store leaves its files in place and takes them in once the store
is free; ``khoyte ingest`` counts a wholly rejected file the same way in-process and over HTTP;
the web layer, not intake, decides the HTTP status."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, func, select, text

from khoyte.errors import TerminalError, TransientError
from khoyte.gateway.ingest import ingest, local_submitter, remote_submitter
from khoyte.gateway.intake import IntakeRefused, IntakeService, StoreBusy
from khoyte.gateway.models import Submission
from khoyte.gateway.watch import DropFolder
from khoyte.services import build_services
from khoyte.web.app import create_app
from tests.gateway_helpers import FAC_A, FAC_B, claim, db_url_fixture, register_facilities

assert db_url_fixture  # the fixture `db_url` (SQLite and PostgreSQL)

NOT_XML = b"PK\x03\x04 not xml"  # read as a ZIP: the whole file is rejected (FILE.CONTENT.ZIP)


def _impatient_engine(url: str) -> Engine:
    """The same store, but a writer gives up after 0.2 s instead of 30 s (so the test does not
    wait out intake's retries)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 0.2})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi: Any, _rec: Any) -> None:
            dbapi.execute("PRAGMA journal_mode=WAL")
            dbapi.execute("PRAGMA busy_timeout=200")

        return engine
    return create_engine(url, connect_args={"options": "-c lock_timeout=200"})


@contextmanager
def _store_locked(url: str) -> Iterator[None]:
    """Another process's exclusive lock on the store, held until the block ends."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    other = create_engine(url)
    with other.connect() as conn:
        conn.execute(text("LOCK TABLE gw_submission IN ACCESS EXCLUSIVE MODE"))
        try:
            yield
        finally:
            conn.rollback()
    other.dispose()


def test_drop_folder_waits_for_a_busy_store_and_rejects_nothing(
    tmp_path: Path, db_url: str | None
) -> None:
    services = build_services(
        _settings(tmp_path, db_url), warehouse=False
    )  # migrated, as `khoyte watch` does
    url = services.engine.url.render_as_string(hide_password=False)
    intake = IntakeService(services.settings, _impatient_engine(url))
    drop = DropFolder(tmp_path / "drop", intake)
    inbox = tmp_path / "drop" / "inbox"
    files = {"a.xml": claim("LK1"), "b.xml": claim("LK2"), "bad.xml": NOT_XML}
    for name, data in files.items():
        (inbox / name).write_bytes(data)
    assert drop.scan() == []  # first sight: not yet known to be stable

    with _store_locked(url):
        for _ in range(3):  # the watcher keeps running while the store is locked
            outcomes = drop.scan()
            assert [o.folder for o in outcomes] == ["processing"]
            assert outcomes[0].receipt["error"]["kind"] == "transient"
            assert outcomes[0].receipt["error"]["code"] == "store_busy"
        waiting = {p.name for p in (tmp_path / "drop").rglob("*.xml")}
        assert waiting == set(files)  # nothing lost
        assert not list((tmp_path / "drop" / "rejected").iterdir())
        assert not list((tmp_path / "drop" / "done").iterdir())
        # the bytes were archived before the store was tried
        assert intake.archive.root.exists()

    outcomes = drop.scan() + drop.scan()
    assert {o.name: o.folder for o in outcomes} == {
        "a.xml": "done",
        "b.xml": "done",
        "bad.xml": "rejected",  # rejected for its content, once the store could say so
    }
    with services.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 3  # receipted once each
    assert not list((tmp_path / "drop" / "processing").iterdir())
    intake.engine.dispose()
    services.close()


def test_intake_says_not_now_when_the_store_is_busy(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path, None), warehouse=False)
    url = services.engine.url.render_as_string(hide_password=False)
    intake = IntakeService(services.settings, _impatient_engine(url))
    with _store_locked(url), pytest.raises(StoreBusy) as caught:
        intake.submit(claim("LK1"))
    assert isinstance(caught.value, TransientError)
    assert caught.value.details["sha256"]
    assert caught.value.message_vi.endswith("hãy gửi lại sau ít phút.")
    # and over HTTP the web layer answers 503 with Retry-After (the domain named no status)
    services.intake = intake
    app = create_app(services=services)
    token = register_facilities(services.intake)[FAC_A]
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    with _store_locked(url):
        r = client.post("/api/v1/submissions", content=claim("LK2"), headers=headers)
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"]
    assert r.json()["error"]["code"] == "store_busy"
    intake.engine.dispose()
    services.close()


def test_a_refusal_is_terminal_and_keeps_its_http_status(tmp_path: Path) -> None:
    services = build_services(_settings(tmp_path, None), warehouse=False)
    with pytest.raises(IntakeRefused) as caught:
        services.intake.submit(claim("LK1", facility=FAC_B), facility=FAC_A)
    assert isinstance(caught.value, TerminalError)
    assert caught.value.details == {"credential_facility": FAC_A, "file_facility": FAC_B}
    app = create_app(services=services)
    token = register_facilities(services.intake)[FAC_A]
    r = TestClient(app).post(
        "/api/v1/submissions",
        content=claim("LK2", facility=FAC_B),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "wrong_facility"
    services.close()


def test_local_and_remote_ingest_count_a_rejected_file_alike(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "good.xml").write_bytes(claim("LK1"))
    (folder / "bad.xml").write_bytes(NOT_XML)

    local = build_services(_settings(tmp_path / "local", None), warehouse=False)
    here = ingest([folder], local_submitter(local.intake))
    local.close()

    remote = build_services(_settings(tmp_path / "remote", None), warehouse=False)
    token = register_facilities(remote.intake)[FAC_A]
    with TestClient(create_app(services=remote)) as client:
        there = ingest([folder], remote_submitter(client, "http://testserver", token))
    remote.close()

    def counts(s: Any) -> dict[str, Any]:
        return {k: v for k, v in asdict(s).items() if k not in ("seconds", "errors")}

    assert counts(here) == counts(there)
    assert here.rejected_files == 1
    assert here.refused == 0
    assert here.new == 2


def _settings(tmp_path: Path, db_url: str | None) -> Any:
    from khoyte.config import Settings

    return Settings(data_dir=tmp_path / "data", database_url=db_url)
