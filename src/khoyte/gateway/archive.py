"""The raw archive: every submitted byte, unchanged, addressed by its sha256.

A file is written to a temporary name, flushed to disk (fsync) and renamed into place, then the
folder is fsynced: after a crash a file is either absent or complete, never half-written. The same
bytes always land at the same path, so writing them twice is harmless.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._folders: set[str] = set()  # folders made (or found) by this process

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.xml"

    def put(self, data: bytes, sha256: str | None = None) -> str:
        """Store ``data``; return its sha256 (hex). Durable when this returns."""
        digest = sha256 or hashlib.sha256(data).hexdigest()
        place = self._place(digest, len(data))
        if place is None:
            return digest
        folder, final = place
        tmp = self._write(folder, digest, data, flush=True)
        try:
            os.replace(tmp, final)
        except BaseException:
            _unlink(tmp)
            raise
        _fsync_dir(Path(folder))
        return digest

    def put_many(self, items: list[bytes]) -> list[str]:
        """Store several files; their sha256s, in order. Durable when this returns, like
        ``put``, but the flushes run side by side: every file is written first, then all are
        flushed together, renamed into place, and flushed again. On Linux the flushes are one
        ``syncfs`` of the archive's file system each (it writes what any process left dirty on
        that file system too); elsewhere every file and folder is fsynced from a few threads.
        Bulk intake's group of files pays two flushes instead of two per file."""
        digests = [hashlib.sha256(data).hexdigest() for data in items]
        todo: dict[str, tuple[str, str, str]] = {}  # sha → (folder, final path, temporary file)
        try:
            for data, digest in zip(items, digests, strict=True):
                place = None if digest in todo else self._place(digest, len(data))
                if place is not None:
                    folder, final = place
                    todo[digest] = (folder, final, self._write(folder, digest, data))
            if todo and _SYNCFS is not None:  # Linux: the file system flushed at once, twice
                self._syncfs()  # every temporary file's bytes on disk …
                for _, final, tmp in todo.values():
                    os.replace(tmp, final)
                self._syncfs()  # … before, then with, the names that point at them
            else:
                with ThreadPoolExecutor(min(8, len(todo) or 1)) as flush:
                    list(flush.map(_fsync_file, [tmp for _, _, tmp in todo.values()]))
                    for _, final, tmp in todo.values():
                        os.replace(tmp, final)
                    list(flush.map(_fsync_dir, {Path(f) for f, _, _ in todo.values()}))
        except BaseException:
            for _, _, tmp in todo.values():
                _unlink(tmp)
            raise
        return digests

    def _place(self, digest: str, size: int) -> tuple[str, str] | None:
        """(folder, final path) of ``digest``; None when those bytes are already there."""
        folder = f"{self.root}/{digest[:2]}/{digest[2:4]}"
        final = f"{folder}/{digest}.xml"
        try:
            if os.stat(final).st_size == size:
                return None
        except FileNotFoundError:
            pass
        return folder, final

    def _write(self, folder: str, digest: str, data: bytes, flush: bool = False) -> str:
        """``data`` written (not yet flushed) to a temporary file of ``folder``, whose name is
        this thread's own: writers of the same bytes never share one, and a crashed writer's
        leftover is overwritten. Folders are made once per process (the two-level fan-out
        makes a new folder for most files of a young archive). ``flush``: on disk when this
        returns (fsync)."""
        tmp = f"{folder}/.tmp-{digest[:16]}-{os.getpid()}-{threading.get_ident()}.part"
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        try:
            fd = os.open(tmp, _CREATE, 0o600)
        except FileNotFoundError:  # the folder went away since (removed by hand?): again
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, _CREATE, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                if flush:
                    fh.flush()
                    os.fsync(fh.fileno())
        except BaseException:
            _unlink(tmp)
            raise
        return tmp

    def _syncfs(self) -> None:
        assert _SYNCFS is not None
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _SYNCFS(fd) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"syncfs: {os.strerror(err)}", str(self.root))
        finally:
            os.close(fd)

    def get(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):  # pragma: no cover - a libc without syncfs
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return cast(Callable[[int], int], fn)


_SYNCFS = _load_syncfs()


_CREATE = (
    os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)  # fmt: skip


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
