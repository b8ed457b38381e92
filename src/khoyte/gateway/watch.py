"""``khoyte watch DIR``: the drop folder (facilities that deliver by FTP/SFTP).

``DIR/inbox`` → ``DIR/processing`` → ``DIR/done`` | ``DIR/rejected``, with ``<name>.receipt.json``
written beside the file. A file is taken only once its size and modification time have stayed the
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

from khoyte.errors import ApiError, error_body
from khoyte.gateway.intake import IntakeService

log = logging.getLogger("khoyte.gateway.watch")

FOLDERS = ("inbox", "processing", "done", "rejected")


@dataclass
class Outcome:
    name: str
    folder: str  # done | rejected
    receipt: dict[str, Any]


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
        """One pass: process leftovers in ``processing`` and every stable file of ``inbox``."""
        out = [
            self._process(p)
            for p in sorted((self.root / "processing").iterdir())
            if p.is_file() and not _ignored(p)
        ]
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
        return out

    def _process(self, path: Path) -> Outcome:
        try:
            r = self.service.submit(path.read_bytes(), channel="watch", name=path.name)
            receipt = r.data
            folder = "rejected" if receipt["status"] == "rejected" else "done"
        except ApiError as err:
            receipt, folder = error_body(err), "rejected"
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
