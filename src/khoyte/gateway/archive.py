"""The raw archive: every submitted byte, unchanged, addressed by its sha256.

Two forms, one address (the sha256 of the bytes):

- a **loose file** ``ab/cd/<sha256>.xml``: what one submission writes (``put``);
- a **pack** ``packs/ab/<name>.zip``: a group of files written together by bulk intake
  (``put_many``), one plain ZIP archive (stored, not compressed: the bytes unchanged, readable by
  any unzip tool) whose members are named ``<sha256>.xml``. Creating a file is the archive's
  dominant cost on some file systems (measured here: 0.02–0.6 ms of kernel time per file,
  more than reading and validating it); a pack of a group's 32 files costs one.

Either is written to a temporary name, flushed to disk and renamed into place, then its folder is
flushed: after a crash a file or pack is either absent or complete, never half-written. Writing
the same bytes twice is harmless (the same path, or a second copy in another pack): readers
(``get``, ``exists``, ``entries``) find a file in either form.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import os
import re
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

PACKS = "packs"  # the packs' folder under the archive's root
MEMBER = re.compile(r"^[0-9a-f]{64}\.xml$")  # a loose file's or a pack member's name


@dataclass(frozen=True)
class Entry:
    """One archived file: its sha256, size and where it is (a loose file, or a pack's member)."""

    sha256: str
    size: int
    path: Path  # the loose file, or the pack that holds it
    packed: bool


class Archive:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._folders: set[str] = set()  # folders made (or found) by this process
        self._packed: dict[str, Path] = {}  # sha256 → the pack holding it (packs read so far)
        self._packs_read: set[Path] = set()
        self._lock = threading.Lock()

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

    def put_many(self, items: list[bytes], digests: list[str] | None = None) -> list[str]:
        """Store several files; their sha256s, in order (``digests``: already known, by the
        caller who computed them). Durable when this returns, like ``put``. Two or more new
        files are written as one pack (one file created instead of one each); a single new
        file is written loose. Files already stored loose are not written again."""
        if digests is None:
            digests = [hashlib.sha256(data).hexdigest() for data in items]
        new: dict[str, bytes] = {}
        for data, digest in zip(items, digests, strict=True):
            if digest not in new and self._place(digest, len(data)) is not None:
                new[digest] = data
        if len(new) == 1:
            ((digest, data),) = new.items()
            self.put(data, digest)
        elif new:
            self._pack(new)
        return digests

    def _pack(self, files: dict[str, bytes]) -> Path:
        """``files`` (sha256 → bytes) durable as one pack, named by its members: the same
        group packed twice (a command run again after a crash) is the same pack."""
        name = hashlib.sha256("\n".join(sorted(files)).encode()).hexdigest()
        folder = f"{self.root}/{PACKS}/{name[:2]}"
        final = f"{folder}/{name}.zip"
        if os.path.exists(final):  # renamed into place only once complete and flushed
            return Path(final)
        tmp = f"{folder}/.tmp-{name[:16]}-{os.getpid()}-{threading.get_ident()}.part"
        if folder not in self._folders:
            os.makedirs(folder, exist_ok=True)
            self._folders.add(folder)
        fd = os.open(tmp, _CREATE, 0o600)
        try:
            with os.fdopen(fd, "w+b") as fh:
                with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as pack:
                    for digest in sorted(files):
                        pack.writestr(_member_info(digest), files[digest])
                fh.flush()
                if _SYNCFS is None:
                    os.fsync(fh.fileno())
            if _SYNCFS is not None:  # Linux: the file system flushed at once (as put_many was)
                self._syncfs()
            os.replace(tmp, final)
        except BaseException:
            _unlink(tmp)
            raise
        if _SYNCFS is not None:
            self._syncfs()
        else:
            _fsync_dir(Path(folder))
        with self._lock:  # its members are known: no need to read the pack back
            for digest in files:
                self._packed.setdefault(digest, Path(final))
            self._packs_read.add(Path(final))
        return Path(final)

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
        """The archived bytes (loose or packed); FileNotFoundError when not archived."""
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            pack = self._find(sha256)
            if pack is None:
                raise
            return read_member(pack, sha256)

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists() or self._find(sha256) is not None

    def _find(self, sha256: str) -> Path | None:
        """The pack holding ``sha256``: packs are read once each, new ones when one is
        missed."""
        with self._lock:
            if sha256 not in self._packed:
                for pack in self.packs():
                    if pack not in self._packs_read:
                        self._index_pack(pack)
            return self._packed.get(sha256)

    def _index_pack(self, pack: Path) -> None:
        for entry in pack_members(pack):
            self._packed.setdefault(entry.sha256, pack)
        self._packs_read.add(pack)

    def packs(self) -> list[Path]:
        """Every pack, in name order."""
        base = self.root / PACKS
        if not base.is_dir():
            return []
        return sorted(p for d in base.iterdir() if d.is_dir() for p in d.glob("*.zip"))

    def loose(self) -> Iterator[Entry]:
        """Every loose file (temporary files are skipped), in path order."""
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if first.name == PACKS or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                if not second.is_dir():
                    continue
                for f in sorted(second.iterdir()):
                    if MEMBER.match(f.name):
                        yield Entry(f.name[:64], f.stat().st_size, f, packed=False)

    def entries(self) -> Iterator[Entry]:
        """Every archived file: loose ones, then each pack's members."""
        yield from self.loose()
        for pack in self.packs():
            yield from pack_members(pack)


def _member_info(digest: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(f"{digest}.xml", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o600 << 16
    return info


def pack_members(pack: Path) -> list[Entry]:
    """The files a pack holds (a member not named ``<sha256>.xml`` is not the archive's)."""
    with zipfile.ZipFile(pack) as z:
        return [Entry(i.filename[:64], i.file_size, pack, packed=True)
                for i in z.infolist() if MEMBER.match(i.filename)]  # fmt: skip


def read_member(pack: Path, sha256: str) -> bytes:
    """A pack member's bytes, as archived."""
    with zipfile.ZipFile(pack) as z:
        return z.read(f"{sha256}.xml")


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


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
