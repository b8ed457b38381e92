"""Where record versions come from, without the gateway: a folder of claim files (and of
medical-assessment documents, XML12, whose sender is the file name's: ``standards.assessment``).

:class:`FileVersionSource` reads a ``khoyte synth`` output folder (or any folder of QĐ 130/4210
files) through the validator, numbering the records it meets in a fixed order — files sorted by
path, so date folders come in date order; a file added later must sort after those already read
(a resubmission goes into the folder of the day it is sent). The gateway provides a store-backed
source with the same :class:`khoyte.handoff.VersionSource` protocol.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from khoyte.handoff import RecordVersion
from khoyte.registry.facilities import FacilityEntry, read_entries
from khoyte.standards.assessment import is_assessment_key, sender_of_name
from khoyte.validate.engine import FileResult, iter_file
from khoyte.validate.policy import Policy


@dataclass
class _FileEntry:
    keys: list[tuple[str, str]] = field(default_factory=list)  # (facility, MA_LK) per record


class FileVersionSource:
    registry_key = "file"

    def __init__(
        self, root: Path, *, max_bytes: int = 512 * 1024 * 1024, policy: Policy | None = None
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.policy = policy  # the judging profile (None: payer)
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
                                max_bytes=self.max_bytes, result=header,
                                policy=self.policy):  # fmt: skip
                if rr.record is None or not rr.ma_lk:
                    continue
                # an XML12 document's record (no claim envelope carries XML12)
                assessment = rr.tables == ["XML12"]
                if is_assessment_key(rr.ma_lk) is not assessment:
                    continue  # a claim's MA_LK in the assessments' reserved prefix (as intake)
                fac = header.facility or _facility_of(rr.record)
                if assessment:  # the document names no sender: the file's name does
                    fac = sender_of_name(path.name) or ""
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

    def facilities(self) -> list[FacilityEntry]:
        """The folder's ``facilities.csv``, read by the registry's one importer (a problem in
        it stops the load with the cell named, as ``khoyte facility import`` would)."""
        path = self.root / "facilities.csv"
        if not path.exists():
            return []
        return [e for e, _ in read_entries(path)]

    def facilities_since(self, revision: int = 0) -> list[FacilityEntry]:
        """The whole list when the file changed after ``revision`` (its mtime in ns)."""
        path = self.root / "facilities.csv"
        if not path.exists():
            return []
        mark = path.stat().st_mtime_ns
        if mark <= revision:
            return []
        return [replace(e, revision=mark) for e in self.facilities()]


def _facility_of(record: object) -> str:
    try:
        return record.episode.facility or ""  # type: ignore[attr-defined]
    except LookupError:
        return ""
