"""The register of data subjects' requests (Decree 13/2023): recorded and answered over the API
by who holds ``subject_requests`` (nobody else), due 72 hours after receipt, the overdue list,
every step audited, who asked stored encrypted; the same from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from khoyte.persons.models import PersonRow
from khoyte.security.models import AuditEntry
from khoyte.store.db import session_scope
from tests.security_helpers import Env, make_env

HID = "7Q0M3K9ZC4TB"
ASKER = "Lê Thị Hồng Nhung (con gái), 0903111222"


@pytest.fixture
def env(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    e = make_env(tmp_path, monkeypatch)
    with session_scope(e.app.state.services.sessions) as s:
        s.add(PersonRow(health_id=HID, created_at=datetime.now(UTC), merged_into=None))
    e.add_user("chuyenvien", ["doh_specialist"], ["province"])
    e.add_user("bs-a", ["facility_staff"], ["facility:82001"])
    yield e
    e.app.state.services.close()


def _call(env: Env, user: str, method: str, url: str, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {env.token(user)}"}
    return env.client().request(method, url, headers=headers, **kw)


def test_register_over_the_api(env: Env) -> None:
    old = (datetime.now(UTC) - timedelta(days=4)).isoformat()
    body = {"kind": "correction", "requester": ASKER, "health_id": HID,
            "detail": "Sai ngày sinh", "received_at": old}  # fmt: skip
    assert _call(env, "bs-a", "POST", "/api/v1/subject-requests", json=body).status_code == 403
    r = _call(env, "chuyenvien", "POST", "/api/v1/subject-requests", json=body)
    assert r.status_code == 201, r.text
    late = r.json()
    assert late["overdue"] is True
    assert late["requester"] == ASKER
    received = datetime.fromisoformat(late["received_at"])
    assert datetime.fromisoformat(late["due_at"]) - received == timedelta(hours=72)
    fresh = _call(env, "chuyenvien", "POST", "/api/v1/subject-requests",
                  json={"kind": "access", "requester": "Người bệnh"}).json()  # fmt: skip
    assert fresh["overdue"] is False
    unknown = {**body, "health_id": "ZZZZZZZZZZZZ"}
    assert (
        _call(env, "chuyenvien", "POST", "/api/v1/subject-requests", json=unknown).status_code
        == 422
    )
    bad = {**body, "kind": "gossip"}
    assert _call(env, "chuyenvien", "POST", "/api/v1/subject-requests", json=bad).status_code == 422

    overdue = _call(env, "chuyenvien", "GET", "/api/v1/subject-requests?overdue=true").json()
    assert [i["id"] for i in overdue["items"]] == [late["id"]]
    url = f"/api/v1/subject-requests/{late['id']}/answer"
    ans = {"outcome": "done", "answer": "Đã sửa ngày sinh theo CCCD"}
    assert _call(env, "bs-a", "POST", url, json=ans).status_code == 403
    r = _call(env, "chuyenvien", "POST", url, json=ans)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["answered_by"]) == ("done", "chuyenvien")
    assert _call(env, "chuyenvien", "POST", url, json=ans).status_code == 409
    assert _call(env, "chuyenvien", "POST", "/api/v1/subject-requests/999/answer",
                 json=ans).status_code == 404  # fmt: skip
    assert _call(env, "chuyenvien", "GET", "/api/v1/subject-requests?overdue=true").json()[
        "items"] == []  # fmt: skip
    everything = _call(env, "chuyenvien", "GET", "/api/v1/subject-requests").json()["items"]
    assert {i["status"] for i in everything} == {"done", "open"}
    assert next(i for i in everything if i["id"] == late["id"])["overdue"] is True  # late answer

    with session_scope(env.sec.factory) as s:
        acts = [(e.actor, e.action) for e in s.scalars(select(AuditEntry).where(
            AuditEntry.action.like("person.request%")))]  # fmt: skip
    assert acts.count(("user:chuyenvien", "person.request")) == 2
    assert acts.count(("user:chuyenvien", "person.request.answer")) == 1
    assert acts.count(("user:chuyenvien", "person.request.list")) == 3
    env.app.state.services.engine.dispose()
    raw = b"".join(p.read_bytes() for p in env.settings.data_dir.glob("k.sqlite3*"))
    assert "Lê Thị Hồng Nhung".encode() not in raw
    assert b"0903111222" not in raw
    assert "Sai ngày sinh".encode() not in raw


def test_register_from_the_command_line(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from khoyte.cli import app

    monkeypatch.setenv("KHOYTE_DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setenv("KHOYTE_DATABASE_URL", str(env.settings.database_url))
    run = CliRunner().invoke
    r = run(
        app, ["persons", "requests", "add", "deletion", "--requester", ASKER, "--health-id", HID]
    )
    assert r.exit_code == 0, r.output
    assert run(app, ["persons", "requests", "list", "--overdue"]).exit_code == 0  # not yet due
    listed = run(app, ["persons", "requests", "list"])
    assert ASKER.split(",")[0] in listed.output
    assert run(app, ["persons", "requests", "add", "gossip", "--requester", "x"]).exit_code == 2
    r = run(
        app, ["persons", "requests", "answer", "1", "refused", "Luật khám chữa bệnh: lưu 10 năm"]
    )
    assert r.exit_code == 0, r.output
    assert run(app, ["persons", "requests", "answer", "1", "done", "again"]).exit_code == 2
