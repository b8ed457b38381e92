"""The warehouse as the rest of khoyte uses it: an engine, a loader, a source, a poller."""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from khoyte.config import Settings
from khoyte.handoff import KnowsLatest, PersonSource, VersionSource
from khoyte.warehouse.engine import AnalyticsEngine, DuckDBEngine
from khoyte.warehouse.loader import Loader, LoadReport

log = logging.getLogger(__name__)


def pseudonym_key(settings: Settings) -> bytes:
    """The key of the pseudonymous person key: from the settings, else a random key kept in
    the data folder (created once, readable by the owner only)."""
    if settings.pseudonym_key is not None:
        return settings.pseudonym_key.get_secret_value().encode()
    path = settings.data_dir / "warehouse.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


class Warehouse:
    """The analytics store and where its records come from.

    ``source`` is handed in by the composition root (``khoyte.services``): the operational
    store, or a folder of files (``KHOYTE_WAREHOUSE_SOURCE``). The warehouse never looks its
    upstream up itself. ``persons`` (also handed in) is the master person index: each refresh
    applies its changes of health IDs after the records (``Loader.refresh_persons``)."""

    def __init__(
        self,
        settings: Settings,
        engine: AnalyticsEngine | None = None,
        source: VersionSource | None = None,
        persons: PersonSource | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.persons = persons
        self.engine: AnalyticsEngine = engine or DuckDBEngine(settings.duckdb_path)
        self.loader = Loader(self.engine, pseudonym_key(settings))
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # Set while the first refresh after start loads records the store already held: the
        # numbers are incomplete then, and the dashboards say so (``freshness``).
        self.catching_up_since: datetime | None = None

    def refresh(self, source: VersionSource | None = None) -> LoadReport:
        source = source or self.source
        if source is None:
            return LoadReport(watermark=self.loader.watermark())
        # the registry's changes first, then the records, then the person index's changes
        return self.loader.refresh(source, persons=self.persons)

    def rebuild(self, source: VersionSource | None = None) -> LoadReport:
        source = source or self.source
        if source is None:
            raise LookupError("no source to rebuild from")
        return self.loader.rebuild(source, persons=self.persons)

    def stats(self) -> dict[str, Any]:
        return self.loader.stats()

    def freshness(self) -> dict[str, Any]:
        """``ready``: false while catching up (since ``catching_up_since``); ``as_of``: the
        newest load. Every dashboard twin carries these."""
        since = self.catching_up_since
        return {
            "as_of": self.loader.as_of(),
            "ready": since is None,
            "catching_up_since": since.isoformat(timespec="seconds") if since else None,
        }

    def _behind(self, source: VersionSource) -> bool:
        if isinstance(source, KnowsLatest):
            try:
                return source.latest_version_id() > self.loader.watermark()
            except Exception:  # the store unreachable: unknown, so not known complete
                log.exception("cannot read the source's latest version")
        return True

    # -- background refresh -----------------------------------------------------------------
    def start_polling(self, source: VersionSource, interval: float) -> None:
        """Refresh every ``interval`` seconds in a daemon thread (cheap when nothing is new)."""
        if self._thread is not None:
            return
        if self._behind(source):
            self.catching_up_since = datetime.now(UTC)
            self._wake.set()  # the first refresh at once, not after one interval

        def run() -> None:
            while not self._stop.is_set():
                self._wake.wait(interval)  # a new submission wakes it at once (``wake``)
                self._wake.clear()
                if self._stop.is_set():
                    break
                started = time.monotonic()
                try:
                    self.refresh(source)
                except Exception:  # keep polling: the next round may succeed
                    log.exception("warehouse refresh failed")
                else:
                    # A refresh read the source to its end: everything committed before it
                    # started is loaded.
                    self.catching_up_since = None
                # Under a stream of submissions every refresh is woken at once and loads a
                # handful of versions at a fixed cost (a dozen aggregate statements): back to
                # back, that took a third of the server's CPU from intake. Rest twice as long
                # as the refresh took (at most one interval): loading then takes at most a third
                # of the time, and each refresh loads what piled up meanwhile in one batch.
                self._stop.wait(min(interval, 2 * (time.monotonic() - started)))

        self._thread = threading.Thread(target=run, name="warehouse-refresh", daemon=True)
        self._thread.start()
        # A daemon thread killed inside DuckDB's C++ at interpreter exit aborts the process:
        # stop it before finalisation.
        atexit.register(self._stop_polling)

    def _stop_polling(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def stop_polling(self) -> None:
        """Stop the background refresh (server shutdown); ``start_polling`` may start it again."""
        self._stop_polling()
        atexit.unregister(self._stop_polling)
        self._thread = None
        self._stop.clear()
        self._wake.clear()

    def wake(self) -> None:
        """Refresh now rather than at the next tick (called after each receipted submission)."""
        self._wake.set()

    def close(self) -> None:
        self._stop_polling()
        atexit.unregister(self._stop_polling)
        self.engine.close()


def open_path(path: Path) -> DuckDBEngine:
    return DuckDBEngine(path)
