"""``khoyte watch DIR``: the drop folder (facilities that deliver by FTP/SFTP).

``DIR/inbox`` → ``DIR/processing`` → ``DIR/done`` | ``DIR/rejected``, with ``<name>.receipt.json``
written beside the file. Only a receipt or a terminal refusal (``khoyte.errors.TerminalError``)
moves a file on; a transient failure (the store busy or down) leaves it in ``processing`` and
ends the pass — the next scan tries again, so nothing reaches ``rejected/`` for the store's sake. A file is taken only once its size and modification time have stayed the
same for one whole scan interval (an upload in progress keeps growing); files whose name starts
with ``.`` or ends with ``.part``/``.tmp`` are never taken. After a crash, whatever was left in
``processing`` is processed again on start: intake is idempotent, so this is safe.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from khoyte.errors import TerminalError, TransientError
from khoyte.gateway.intake import IntakeService

log = logging.getLogger("khoyte.gateway.watch")

FOLDERS = ("inbox", "processing", "done", "rejected")


@dataclass
class Outcome:
    name: str
    folder: str  # done | rejected | processing (transient: tried again on the next scan)
    receipt: dict[str, Any]


class _StopScan(Exception):
    """A transient failure: the rest of this pass waits too (the store is the same for all)."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _stable_key(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _ignored(path: Path) -> bool:
    n = path.name
    return n.startswith(".") or n.endswith((".part", ".tmp", ".filepart", ".receipt.json"))


class DropFolder:
    def __init__(self, root: Path, service: IntakeService) -> None:
        self.root = root
        self.service = service
        for f in FOLDERS:
            (root / f).mkdir(parents=True, exist_ok=True)
        self.seen: dict[Path, tuple[int, int]] = {}

    def _unique(self, folder: str, name: str) -> Path:
        target = self.root / folder / name
        stem, suffix, n = target.stem, target.suffix, 1
        while target.exists():
            target = self.root / folder / f"{stem}.{n}{suffix}"
            n += 1
        return target

    def scan(self) -> list[Outcome]:
        """One pass: process leftovers in ``processing`` and every stable file of ``inbox``.
        A transient failure ends the pass (the file stays in ``processing``)."""
        out: list[Outcome] = []
        try:
            for p in sorted((self.root / "processing").iterdir()):
                if p.is_file() and not _ignored(p):
                    out.append(self._process(p))
            current: dict[Path, tuple[int, int]] = {}
            for p in sorted((self.root / "inbox").iterdir()):
                if not p.is_file() or _ignored(p):
                    continue
                key = _stable_key(p)
                if key is None:
                    continue
                if self.seen.get(p) == key:
                    target = self._unique("processing", p.name)
                    os.replace(p, target)
                    out.append(self._process(target))
                else:
                    current[p] = key
            self.seen = current
        except _StopScan as stop:
            out.append(stop.outcome)
        return out

    def _process(self, path: Path) -> Outcome:
        try:
            r = self.service.submit(path.read_bytes(), channel="watch", name=path.name)
            receipt = r.data
            folder = "rejected" if receipt["status"] == "rejected" else "done"
        except TerminalError as err:
            receipt, folder = err.as_body(), "rejected"
        except TransientError as err:
            log.warning(
                json.dumps(
                    {"event": "watch", "file": path.name, "to": "processing", "code": err.code}
                )
            )
            raise _StopScan(Outcome(path.name, "processing", err.as_body())) from err
        target = self._unique(folder, path.name)
        side = target.with_name(target.name + ".receipt.json")
        tmp = side.with_name("." + side.name + ".tmp")
        tmp.write_text(json.dumps(receipt, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, side)
        os.replace(path, target)
        log.info(json.dumps({"event": "watch", "file": path.name, "to": folder}))
        return Outcome(path.name, folder, receipt)

    def run(self, interval: float, stop: Any = None) -> None:
        while stop is None or not stop():
            try:
                self.scan()
            except Exception:  # e.g. the database is down: files wait in place, retried later
                log.exception("drop-folder scan failed; retrying")
            time.sleep(interval)
