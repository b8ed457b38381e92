"""The hand-off between the operational store (gateway) and the analytics store (warehouse).

The store numbers every stored record version with a monotonically increasing ``version_id``;
the warehouse remembers the highest id it has loaded and asks for what came after
(``iter_versions(since_id)``). For one ``(facility, ma_lk)`` the version with the highest
``version`` is current and supersedes the others; a rejected version is never loaded but still
supersedes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from khoyte.standards.model import Record


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
    def iter_versions(self, since_id: int = 0) -> Iterator[RecordVersion]: ...


@runtime_checkable
class KnowsLatest(Protocol):
    """A source that can say, cheaply, the highest ``version_id`` it holds (the store can; a
    folder of files cannot without reading them): the warehouse then knows at start whether it
    is behind."""

    def latest_version_id(self) -> int: ...
