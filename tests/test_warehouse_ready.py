"""Never show an untrue number: while the warehouse catches up with records the store already
held when the server started, the twins say ``ready: false`` (and since when) and the pages
show a notice; once loaded, ``ready: true`` and the full numbers.

The store source is wrapped in a gate (a fake with fault injection: it holds the first refresh
until the test opens it), so "still catching up" is a state the test controls, not a race."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from lxml import html

from khoyte.config import Settings
from khoyte.handoff import RecordVersion, VersionSource
from khoyte.services import Services, build_services
from khoyte.web.app import create_app
from tests.gateway_helpers import claim

TWINS = (
    "/api/v1/dashboards/kcb",
    "/api/v1/dashboards/kcb/daily",
    "/api/v1/dashboards/kcb/breakdown",
    "/api/v1/dashboards/completeness",
)
PERIOD = {"from": "2025-08-01", "to": "2025-08-31"}


class GatedSource:
    """The store's versions, held back until ``gate`` is set."""

    def __init__(self, inner: Any, gate: threading.Event) -> None:
        self.inner = inner
        self.gate = gate

    registry_key = "store"

    def latest_version_id(self) -> int:
        return int(self.inner.latest_version_id())

    def facilities_since(self, revision: int = 0) -> list[Any]:
        return list(self.inner.facilities_since(revision))  # the registry is not held back

    def iter_versions(self, since_id: int = 0) -> Iterator[RecordVersion]:
        self.gate.wait(60)
        yield from self.inner.iter_versions(since_id)


def _services(data: Path, gate: threading.Event) -> Services:
    settings = Settings(  # exact counts: small-count suppression has its own tests
        data_dir=data, open_dashboard=True, warehouse_refresh_seconds=0.2, small_count_threshold=0
    )
    services = build_services(settings)
    source: VersionSource = GatedSource(services.source, gate)
    services.source = source
    return services


def _until_ready(client: TestClient, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = client.get(TWINS[0], params=PERIOD).json()
        if body["ready"] or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def test_twins_and_pages_say_when_numbers_are_incomplete(tmp_path: Path) -> None:
    gate = threading.Event()
    services = _services(tmp_path, gate)
    for i in range(3):  # in the store (`khoyte ingest`), not yet in the warehouse
        services.intake.submit(claim(f"LK{i}", day=i + 1))
    app = create_app(services=services)
    with TestClient(app) as client:  # the lifespan starts the poller: it is behind
        for url in TWINS:
            r = client.get(url, params=PERIOD)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["ready"] is False, url
            assert body["catching_up_since"], url
        page = html.fromstring(client.get("/kcb", params=PERIOD).text)
        notice = page.get_element_by_id("catching-up")
        assert notice.get("role") == "alert"
        assert notice.get("data-since") == body["catching_up_since"]
        assert "chưa đầy đủ" in notice.text_content()

        gate.set()  # the store's records arrive
        body = _until_ready(client)
        assert body["ready"] is True
        assert body["catching_up_since"] is None
        assert body["visits"]["total"] == 3
        assert body["as_of"]
        page = html.fromstring(client.get("/kcb", params=PERIOD).text)
        assert not page.xpath('//*[@id="catching-up"]')
    services.close()


def test_a_warehouse_that_is_up_to_date_is_ready_at_once(tmp_path: Path) -> None:
    gate = threading.Event()
    gate.set()
    services = _services(tmp_path, gate)
    services.intake.submit(claim("LK1"))
    with TestClient(create_app(services=services)) as client:
        assert _until_ready(client)["visits"]["total"] == 1
    services.close()

    held = threading.Event()  # a restart: nothing new in the store; refreshes are held back
    services = _services(tmp_path, held)
    with TestClient(create_app(services=services)) as client:
        body = client.get(TWINS[0], params=PERIOD).json()
        assert body["ready"] is True  # not behind: no false alarm
        assert body["visits"]["total"] == 1
        held.set()  # let the held refresh finish before the lifespan stops the poller
    services.close()
