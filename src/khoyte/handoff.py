"""The hand-off between the operational store (gateway) and the analytics store (warehouse).

The store numbers every stored record version with a monotonically increasing ``version_id``;
the warehouse remembers the highest id it has loaded and asks for what came after
(``iter_versions(since_id)``). For one ``(facility, ma_lk)`` the version with the highest
``version`` is current and supersedes the others; a rejected version is never loaded but still
supersedes nothing.

The registry travels the same way: each change to a facility carries a store-wide increasing
``revision``; the warehouse keeps its own registry watermark and asks for the facilities
changed after it (``facilities_since(revision)``) in the same refresh, so a rename, a move to
another commune or a deactivation reaches the dashboards like a record does.

The master person index travels the same way too (``PersonSource``): every change of a record's
health ID (an online link, a batch, a merge, an unmerge) carries an index-wide increasing
``revision``; the warehouse keeps a persons watermark and asks for the records whose health ID
changed after it (``persons_since(revision)``), so a merge reaches the dashboard like a record.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from khoyte.standards.model import Record

if TYPE_CHECKING:  # the protocol names it; importing it here would pull in the ORM
    from khoyte.registry.facilities import FacilityEntry


@dataclass(frozen=True, slots=True)
class RecordVersion:
    version_id: int  # store-wide, increasing: the warehouse's watermark
    facility: str  # MA_CSKCB of the sender
    ma_lk: str
    version: int  # 1, 2, … per (facility, ma_lk)
    submission_id: str
    received_at: datetime
    status: str  # "accepted" | "accepted_with_warnings" | "rejected"
    record: Record


class VersionSource(Protocol):
    # names the registry's revision counter: a warehouse fed by two sources in turn (a folder,
    # then the store) keeps one registry watermark per counter
    registry_key: str

    def iter_versions(self, since_id: int = 0) -> Iterator[RecordVersion]: ...

    def facilities_since(self, revision: int = 0) -> list[FacilityEntry]:
        """Facilities changed after ``revision``, oldest change first (``revision`` set)."""
        ...


@dataclass(frozen=True, slots=True)
class RecordPerson:
    facility: str  # MA_CSKCB
    ma_lk: str
    health_id: str  # the master person index's ID (the warehouse keeps a keyed hash of it)
    revision: int  # index-wide, increasing: the warehouse's persons watermark
    # the version id the index linked: the record's current version id is this one or later
    # (the warehouse looks for the loaded row from there on)
    version_id: int


class PersonSource(Protocol):
    def persons_since(self, revision: int = 0) -> Iterator[RecordPerson]:
        """Records whose health ID changed after ``revision``, in (revision, facility, ma_lk)
        order."""
        ...


@runtime_checkable
class KnowsLatest(Protocol):
    """A source that can say, cheaply, the highest ``version_id`` it holds (the store can; a
    folder of files cannot without reading them): the warehouse then knows at start whether it
    is behind."""

    def latest_version_id(self) -> int: ...
