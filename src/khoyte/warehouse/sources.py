"""Where record versions come from, without the gateway: a folder of claim files.

:class:`FileVersionSource` reads a ``khoyte synth`` output folder (or any folder of QĐ 130/4210
files) through the validator, numbering the records it meets in a fixed order — files sorted by
path, so date folders come in date order; a file added later must sort after those already read
(a resubmission goes into the folder of the day it is sent). The gateway provides a store-backed
source with the same :class:`khoyte.handoff.VersionSource` protocol.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from khoyte.handoff import RecordVersion
from khoyte.registry.adminunits import communes
from khoyte.validate.engine import FileResult, iter_file
from khoyte.warehouse.loader import Facility


@dataclass
class _FileEntry:
    keys: list[tuple[str, str]] = field(default_factory=list)  # (facility, MA_LK) per record


class FileVersionSource:
    def __init__(self, root: Path, *, max_bytes: int = 512 * 1024 * 1024) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._seen: dict[Path, _FileEntry] = {}  # files already numbered, in order

    def _files(self) -> list[Path]:
        base = self.root / "xml" if (self.root / "xml").is_dir() else self.root
        return sorted(p for p in base.rglob("*") if p.is_file() and p.suffix.lower() == ".xml")

    def iter_versions(self, since_id: int = 0) -> Iterator[RecordVersion]:
        version_id = 0
        versions: dict[tuple[str, str], int] = {}
        for path in self._files():
            entry = self._seen.get(path)
            if entry is not None and version_id + len(entry.keys) <= since_id:
                # Already loaded: only advance the counters.
                for k in entry.keys:
                    versions[k] = versions.get(k, 0) + 1
                version_id += len(entry.keys)
                continue
            entry = _FileEntry()
            received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            header = FileResult(str(path))
            for rr in iter_file(path, path.relative_to(self.root).as_posix(),
                                max_bytes=self.max_bytes, result=header):  # fmt: skip
                if rr.record is None or not rr.ma_lk:
                    continue
                fac = header.facility or _facility_of(rr.record)
                k = (fac, rr.ma_lk)
                entry.keys.append(k)
                versions[k] = versions.get(k, 0) + 1
                version_id += 1
                if version_id <= since_id:
                    continue
                yield RecordVersion(
                    version_id=version_id,
                    facility=fac,
                    ma_lk=rr.ma_lk,
                    version=versions[k],
                    submission_id=path.relative_to(self.root).as_posix(),
                    received_at=received,
                    status=rr.status.value,
                    record=rr.record,
                )
            self._seen[path] = entry

    def facilities(self) -> list[Facility]:
        path = self.root / "facilities.csv"
        return read_facilities(path) if path.exists() else []


def _facility_of(record: object) -> str:
    try:
        return record.episode.facility or ""  # type: ignore[attr-defined]
    except LookupError:
        return ""


COLUMNS = ("ma_cskcb", "ten", "tuyen", "loai", "ma_xa", "ten_xa", "ma_tinh", "giuong")


def _facility(row: dict[str, str]) -> Facility | None:
    code = (row.get("ma_cskcb") or "").strip()
    if not code:
        return None
    giuong = (row.get("giuong") or "").strip()
    ma_xa = (row.get("ma_xa") or "").strip() or None
    ten_xa = (row.get("ten_xa") or "").strip() or None
    if ma_xa and not ten_xa:
        # the commune's 2025 name from the national list (vietnam-provinces)
        known = communes().get(ma_xa.zfill(5))
        ten_xa = known[0] if known else None
    return Facility(
        ma_cskcb=code,
        ten=(row.get("ten") or "").strip(),
        tuyen=(row.get("tuyen") or "").strip() or None,
        loai=(row.get("loai") or "").strip() or None,
        ma_xa=ma_xa,
        ten_xa=ten_xa,
        ma_tinh=(row.get("ma_tinh") or "").strip() or None,
        giuong=int(giuong) if giuong.isascii() and giuong.isdigit() else None,
    )


def read_facilities(path: Path) -> list[Facility]:
    """Facilities from a CSV (UTF-8, header row) or XLSX (first sheet, header row) with the
    columns of ``facilities.csv``: ma_cskcb, ten, tuyen, loai, ma_xa, ten_xa, ma_tinh, giuong."""
    rows: list[dict[str, str]] = []
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError) as exc:
            raise ValueError(f"{path.name}: không phải tệp XLSX / not an XLSX file") from exc
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header = [str(h or "").strip().lower() for h in next(it, ())]
        for values in it:
            rows.append(
                {h: ("" if v is None else str(v)) for h, v in zip(header, values, strict=False)}
            )
        wb.close()
    else:
        text = path.read_bytes().decode("utf-8-sig")
        reader = csv.DictReader(io.StringIO(text))
        rows = [{(k or "").strip().lower(): v or "" for k, v in r.items()} for r in reader]
    return [f for r in rows if (f := _facility(r)) is not None]
