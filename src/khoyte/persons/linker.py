"""Online linking off the request path: a background worker of the web app.

A newly accepted record is linked against the person index once a first batch (``khoyte
persons link``) has trained the model; before that, the batch links everything. Linking used to
run inside each submission's request (after the receipt was written, before it was sent), so a
facility waited for it, and every request built the model's scorer again. Now the worker holds
one :class:`PersonIndex` (its scorer cached per model) and links what arrived:

- at once when a submission in this process wakes it (the after-submission hook), and
- every ``interval`` seconds otherwise — submissions taken by another process (the intake tier,
  ``khoyte serve --intake-only``; ``khoyte ingest``) are linked within that interval.

Where the worker is not running (a command, a test client without the app's lifespan), the hook
links at once, in the caller's thread, as before. One run at a time: two never link the same
record twice. The warehouse learns of every new link through the persons feed (a revision per
change), so linking after the warehouse loaded a record only updates its person.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from khoyte.access import Principal
from khoyte.persons.index import PersonIndex, load_model
from khoyte.store.db import session_scope

log = logging.getLogger(__name__)


class PersonLinker:
    def __init__(
        self, sessions: sessionmaker[Session], engine: Engine, interval: float = 2.0
    ) -> None:
        self.sessions = sessions
        self.engine = engine
        self.interval = interval
        self.index = PersonIndex()
        self.linked = 0  # records linked by this worker (tests, metrics)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_once(self) -> int:
        """Link every accepted version newer than the index's newest; how many were linked."""
        with self._lock, session_scope(self.sessions) as s:
            if load_model(s) is None:
                return 0
            n = self.index.catch_up(s, self.engine)
        self.linked += n
        return n

    def wake(self) -> None:
        """A submission was receipted: link now (in the worker, or here when it is not running)."""
        if self.running:
            self._wake.set()
        else:
            self.run_once()

    def hook(self, _request: Any, _principal: Principal, _receipt: dict[str, Any]) -> None:
        """The after-submission hook (``khoyte.access.Hooks.after_submission``)."""
        self.wake()

    def start(self) -> None:
        if self.running or self.interval <= 0:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.is_set():
                self._wake.wait(self.interval)
                self._wake.clear()
                if self._stop.is_set():
                    break
                try:
                    self.run_once()
                except Exception:  # keep going: the next round may succeed
                    log.exception("online linking failed")

        self._thread = threading.Thread(target=run, name="person-linker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = None
