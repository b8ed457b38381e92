"""The whole way through: a record accepted over HTTP by the gateway is on the dashboard's JSON
twin within 5 seconds, a superseding version replaces it, and both are in the audit trail —
the gateway, the warehouse and the security layer wired together as ``khoyte serve`` runs them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from khoyte.security.models import AuditEntry
from khoyte.store.db import session_scope
from tests.gateway_helpers import FAC_A, claim, db_url_fixture, register_facilities
from tests.security_helpers import make_env

assert db_url_fixture  # the fixture `db_url` (SQLite and PostgreSQL)

TWIN = "/api/v1/dashboards/kcb?from=2025-08-01&to=2025-08-31"
FRESH_SECONDS = 5.0


def _until(check: Callable[[], Any], timeout: float = FRESH_SECONDS) -> tuple[Any, float]:
    """Poll until ``check()`` is truthy; the value and the seconds it took (or the last value)."""
    t0 = time.monotonic()
    while True:
        value = check()
        waited = time.monotonic() - t0
        if value or waited > timeout:
            return value, waited
        time.sleep(0.05)


def test_submission_reaches_dashboard_and_audit(
    tmp_path: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one visit is the point here: small-count suppression off (its own tests: test_dashboard_suppression)
    env = make_env(tmp_path, monkeypatch, database_url=db_url, warehouse_refresh_seconds=1.0,
                   small_count_threshold=0)  # fmt: skip
    tokens = register_facilities(env.app.state.services.intake)
    env.add_user("lanhdao", ["province_leader"], ["province"])
    leader = {"Authorization": f"Bearer {env.token('lanhdao')}"}
    facility = {"Authorization": f"Bearer {tokens[FAC_A]}", "Content-Type": "application/xml"}
    with TestClient(env.app) as client:

        def twin() -> dict[str, Any]:
            r = client.get(TWIN, headers=leader)
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            return body

        assert twin()["visits"]["total"] == 0

        r = client.post("/api/v1/submissions", content=claim("LK0001", day=1), headers=facility)
        assert r.status_code == 201, r.text
        seen, waited = _until(lambda: twin()["visits"]["total"] == 1)
        assert seen, f"not on the dashboard after {waited:.1f} s"
        first = twin()
        assert first["visits"]["outpatient"] == 1
        assert first["visits"]["inpatient"] == 0

        # the same visit, sent again changed (now an inpatient stay): it supersedes the first
        changed = claim("LK0001", day=1, inpatient=True)
        r = client.post("/api/v1/submissions", content=changed, headers=facility)
        assert r.status_code == 201, r.text
        seen, waited = _until(lambda: twin()["visits"]["inpatient"] == 1)
        assert seen, f"superseding version not on the dashboard after {waited:.1f} s"
        second = twin()
        assert second["visits"]["total"] == 1  # replaced, not added
        assert second["visits"]["outpatient"] == 0
        assert second["bed_days"] > first["bed_days"]
        assert second["costs"]["total"] != first["costs"]["total"]

    with session_scope(env.sec.factory) as s:
        received = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "submission.receive")
        ).all()
    assert len(received) == 2
    assert all(FAC_A in e.actor for e in received), [e.actor for e in received]
    assert [e.outcome for e in received] == ["success", "success"]
    env.app.state.services.close()
