"""The gateway's commands: facility credentials, ingest, watch, db upgrade, demo (no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from khoyte.cli import app
from khoyte.config import Settings
from khoyte.gateway.intake import IntakeService
from khoyte.gateway.models import Credential, RecordVersionRow, Submission
from khoyte.gateway.versions import StoreVersionSource
from khoyte.web.app import create_app
from tests.gateway_helpers import FAC_A, FAC_B, claim

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(d))
    monkeypatch.delenv("KHOYTE_DATABASE_URL", raising=False)
    return d


def _ok(args: list[str]) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return res.stdout


def _count(model: type) -> int:
    svc = IntakeService(Settings())
    with svc.sessions() as s:
        n = int(s.scalar(select(func.count()).select_from(model)) or 0)
    svc.engine.dispose()
    return n


def test_facility_token_lifecycle(data_dir: Path) -> None:
    _ok(["db", "upgrade"])
    _ok(["facility", "add", FAC_A, "--name", "Bệnh viện A", "--tier", "tinh"])
    token = _ok(["facility", "token", FAC_A]).strip()
    assert token.startswith("khy_")
    assert "\n" not in token
    listed = json.loads(_ok(["facility", "list", "--json"]))
    assert [(f["code"], f["live_credentials"]) for f in listed] == [(FAC_A, 1)]
    # the token itself is never stored
    raw = (data_dir / "khoyte.sqlite3").read_bytes()
    assert token.encode() not in raw
    client = TestClient(create_app(Settings()))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    assert client.post("/api/v1/submissions", content=claim(), headers=headers).status_code == 201
    _ok(["facility", "revoke", FAC_A])
    after = client.post("/api/v1/submissions", content=claim("LK2"), headers=headers)
    assert after.status_code == 401
    assert after.json()["error"]["code"] == "unauthenticated"
    # an expired credential is refused like a revoked one
    short = _ok(["facility", "token", FAC_A, "--expires-days", "1"]).strip()
    short_headers = {**headers, "Authorization": f"Bearer {short}"}
    assert (
        client.post("/api/v1/submissions", content=claim("LK3"), headers=short_headers).status_code
        == 201
    )
    svc = IntakeService(Settings())
    with svc.sessions() as s:
        s.execute(
            update(Credential)
            .where(Credential.prefix == short[:10])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        s.commit()
    svc.engine.dispose()
    expired = client.post("/api/v1/submissions", content=claim("LK4"), headers=short_headers)
    assert expired.status_code == 401
    unknown = runner.invoke(app, ["facility", "token", "99999"])
    assert unknown.exit_code == 2


def test_ingest_local_is_idempotent(data_dir: Path, tmp_path: Path) -> None:
    files = tmp_path / "in"
    (files / "sub").mkdir(parents=True)
    (files / "a.xml").write_bytes(claim("LK1"))
    (files / "sub" / "b.xml").write_bytes(claim("LK2", facility=FAC_B))
    (files / "notes.txt").write_text("not a claim")
    first = runner.invoke(app, ["ingest", str(files)])
    assert first.exit_code == 0, first.output
    assert "2 mới (new)" in first.stderr
    second = runner.invoke(app, ["ingest", str(files)])
    assert second.exit_code == 0
    assert "2 đã nhận trước đó (duplicates)" in second.stderr
    assert _count(Submission) == 2
    assert _count(RecordVersionRow) == 2


def test_watch_moves_files_and_writes_receipts(data_dir: Path, tmp_path: Path) -> None:
    from khoyte.gateway.watch import DropFolder

    svc = IntakeService(Settings())
    from khoyte.gateway.intake import ensure_schema

    ensure_schema(svc.engine)
    drop = DropFolder(tmp_path / "drop", svc)
    inbox = tmp_path / "drop" / "inbox"
    (inbox / "good.xml").write_bytes(claim("LKW"))
    (inbox / "bad.xml").write_bytes(b"PK\x03\x04 not xml")
    (inbox / ".uploading.xml.part").write_bytes(b"<GIAM")
    assert drop.scan() == []  # first sight: not yet known to be stable
    # a file that grows between scans is not taken
    growing = inbox / "growing.xml"
    growing.write_bytes(claim("LKZ")[:100])
    outcomes = {o.name: o.folder for o in drop.scan()}
    assert outcomes == {"good.xml": "done", "bad.xml": "rejected"}
    with growing.open("ab") as fh:
        fh.write(b"more")
    assert drop.scan() == []
    assert (inbox / "growing.xml").exists()
    growing.unlink()  # the upload was abandoned
    done = tmp_path / "drop" / "done"
    receipt = json.loads((done / "good.xml.receipt.json").read_text(encoding="utf-8"))
    assert receipt["counts"]["accepted"] == 1
    assert (done / "good.xml").read_bytes() == claim("LKW")
    rej = json.loads((tmp_path / "drop" / "rejected" / "bad.xml.receipt.json").read_text())
    assert any(f["code"] == "FILE.CONTENT.ZIP" for f in rej["findings"])
    assert (inbox / ".uploading.xml.part").exists()
    # a crash while a file was in processing: it is taken again on the next scan
    (tmp_path / "drop" / "processing" / "left.xml").write_bytes(claim("LKW"))
    again = drop.scan()
    assert [(o.name, o.folder) for o in again] == [("left.xml", "done")]
    assert again[0].receipt["id"] == receipt["id"]  # same bytes: the same receipt
    svc.engine.dispose()


def test_demo_prepares_a_province_without_serving(data_dir: Path) -> None:
    res = runner.invoke(app, ["demo", "--population", "150", "--no-serve"])
    assert res.exit_code == 0, res.output
    token = next(w for w in res.stderr.split() if w.startswith("khy_"))
    assert "http://127.0.0.1:8000/" in res.stderr
    manifest = json.loads((data_dir / "demo-province" / "manifest.json").read_text())
    assert _count(Submission) == manifest["files"]["count"]
    svc = IntakeService(Settings())
    versions = list(StoreVersionSource(svc.engine).iter_versions())
    assert len(versions) == manifest["totals"]["visits"]
    svc.engine.dispose()
    client = TestClient(create_app(Settings()))
    listing = client.get("/api/v1/submissions", headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    assert listing.json()["submissions"], "the printed credential sees its facility's history"
