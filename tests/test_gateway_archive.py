"""The raw archive: content-addressed, unchanged bytes, no partial files left behind."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from khoyte.gateway.archive import PACKS, Archive, pack_members


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


def test_put_many_writes_a_group_as_one_pack_readable_by_any_unzip(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive")
    items = [f"<HS>{i}\u1ea0</HS>".encode() for i in range(5)] + [b"<HS>0\xe1\xba\xa0</HS>"]
    shas = archive.put_many(items)
    created = [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]
    assert len(created) == 1
    assert created[0].suffix == ".zip"
    assert created[0].parent.parent.name == PACKS
    with zipfile.ZipFile(created[0]) as z:  # a plain ZIP: members unchanged, named by sha256
        assert z.testzip() is None
        assert sorted(z.namelist()) == sorted(f"{s}.xml" for s in set(shas))
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        for data, sha in zip(items, shas, strict=True):
            assert z.read(f"{sha}.xml") == data
    fresh = Archive(tmp_path / "archive")  # another process: finds them through the packs
    for data, sha in zip(items, shas, strict=True):
        assert fresh.exists(sha)
        assert fresh.get(sha) == data
    assert not fresh.exists(hashlib.sha256(b"never").hexdigest())
    with pytest.raises(FileNotFoundError):
        fresh.get(hashlib.sha256(b"never").hexdigest())
    entries = list(fresh.entries())
    assert sorted(e.sha256 for e in entries) == sorted(set(shas))
    assert all(e.packed and e.size == len(fresh.get(e.sha256)) for e in entries)
    # the same group again (a command run again after a crash): the same pack, nothing new
    assert archive.put_many(items) == shas
    assert [p for p in (tmp_path / "archive").rglob("*") if p.is_file()] == created


def test_put_many_writes_a_single_new_file_loose_and_skips_loose_ones(tmp_path: Path) -> None:
    archive = Archive(tmp_path / "archive")
    loose = archive.put(b"<a/>")
    assert archive.put_many([b"<a/>", b"<b/>"])[0] == loose  # only <b/> is new: loose
    assert all(p.suffix == ".xml" for p in (tmp_path / "archive").rglob("*") if p.is_file())
    assert archive.put_many([b"<a/>", b"<c/>", b"<d/>"])[0] == loose
    (pack,) = archive.packs()
    assert sorted(e.sha256 for e in pack_members(pack)) == sorted(
        hashlib.sha256(x).hexdigest() for x in (b"<c/>", b"<d/>")
    )
    assert {e.packed for e in archive.entries()} == {False, True}
    assert len(list(archive.entries())) == 4


def test_a_failed_pack_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = Archive(tmp_path / "archive")

    def broken(*_a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Archive, "_syncfs", broken)
    monkeypatch.setattr("khoyte.gateway.archive.os.fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        archive.put_many([b"<x/>", b"<y/>"])
    assert [p for p in (tmp_path / "archive").rglob("*") if p.is_file()] == []
    assert not archive.exists(hashlib.sha256(b"<x/>").hexdigest())
