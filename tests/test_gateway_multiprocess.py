"""Several ``khoyte serve`` processes side by side on one PostgreSQL database (the seed's
load-balanced gateway): the same files sent to both at once are stored once, with one receipt."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from khoyte.gateway.intake import IntakeService, ensure_schema
from khoyte.gateway.models import RecordVersionRow, Submission
from tests.gateway_helpers import (
    FAC_A,
    Server,
    claim,
    claims,
    fresh_pg_database,
    register_facilities,
    settings_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # two server processes: about a minute


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[str]:
    yield from fresh_pg_database()


def test_two_servers_one_database(tmp_path: Path, pg_db: str) -> None:
    settings = settings_for(tmp_path, pg_db)
    svc = IntakeService(settings)
    ensure_schema(svc.engine)
    token = register_facilities(svc)[FAC_A]
    # both processes share the archive folder, as they would share a network volume
    servers = [Server(settings.data_dir, pg_db), Server(settings.data_dir, pg_db)]
    files = [claims([f"M{i}A", f"M{i}B"]) for i in range(20)]
    files += [claim(f"M{i}A", day=3) for i in range(20)]  # new versions of M{i}A
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    got: list[list[dict[str, object]]] = [[], []]
    failures: list[str] = []

    def send(k: int) -> None:
        with httpx.Client(timeout=60) as http:
            for data in files:
                r = http.post(servers[k].url + "/api/v1/submissions", content=data, headers=headers)
                if r.status_code not in (200, 201):
                    failures.append(r.text[:200])
                got[k].append(r.json())

    for s in servers:
        s.start()
    try:
        threads = [threading.Thread(target=send, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in servers:
            s.stop()
    assert failures == []
    assert got[0] == got[1]  # the same receipt from either process
    with svc.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == len(files)
        versions = s.execute(
            select(RecordVersionRow.ma_lk, RecordVersionRow.version).order_by(RecordVersionRow.id)
        ).all()
    assert sorted(versions) == sorted(
        [(f"M{i}A", 1) for i in range(20)]
        + [(f"M{i}B", 1) for i in range(20)]
        + [(f"M{i}A", 2) for i in range(20)]
    )
    svc.engine.dispose()
