"""The raw archive: content-addressed, unchanged bytes, no partial files left behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from khoyte.gateway.archive import Archive


def test_put_is_content_addressed_and_idempotent(tmp_path: Path) -> None:
    arch = Archive(tmp_path / "a")
    data = b"<GIAMDINHHS>\xe1\xba\xa0</GIAMDINHHS>"
    sha = arch.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert arch.path(sha).parent.parent.name == sha[:2]
    assert arch.get(sha) == data
    assert arch.put(data) == sha
    files = [p for p in (tmp_path / "a").rglob("*") if p.is_file()]
    assert files == [arch.path(sha)]


def test_a_failed_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    arch = Archive(tmp_path / "a")

    def broken_fsync(_fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("khoyte.gateway.archive.os.fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        arch.put(b"abc")
    assert [p for p in (tmp_path / "a").rglob("*") if p.is_file()] == []
    assert not arch.exists(hashlib.sha256(b"abc").hexdigest())


def test_put_many_stores_each_file_once_in_order(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive")
    first = archive.put(b"<a/>")
    items = [b"<b/>", b"<a/>", b"<c/>", b"<b/>"]
    shas = archive.put_many(items)
    assert shas == [hashlib.sha256(x).hexdigest() for x in items]
    assert shas[1] == first
    for data, sha in zip(items, shas, strict=True):
        assert archive.get(sha) == data
    leftovers = [p for p in (tmp_path / "archive").rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []  # every temporary file renamed into place
    assert archive.put_many([]) == []
