"""Tables of the master person index (Alembic branch ``persons``, migration ``ps0001``).

``ps_person`` one row per health ID (a merged one points at the survivor); ``ps_record`` one row
per accepted record (MA_CSKCB + MA_LK) with its normalised identity (the blocking index of the
online path) and its health ID; ``ps_link`` why records are together (method, match weight,
weights per comparison); ``ps_review`` uncertain pairs for a person to decide; ``ps_event`` the
history of merges and unmerges (what moved, so an unmerge restores exactly); ``ps_model`` the
trained Splink model; ``ps_revision`` the counter of health-ID changes (migration
``ps0004``); ``ps_subject_request`` the register of data subjects' requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from khoyte.gateway.models import BigId
from khoyte.store.crypto import SealedJSON, SealedText
from khoyte.store.db import Base
from khoyte.store.sealing import BLIND as BLIND  # the sealed identity's fields, blind-indexed
from khoyte.store.sealing import SEALED as SEALED


class PersonRow(Base):
    __tablename__ = "ps_person"

    health_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    merged_into: Mapped[str | None] = mapped_column(String(16), index=True)


class _Sealed:
    """One value of the record's sealed identity, read as an attribute (``r.cccd``)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: PersonRecord | None, owner: type) -> str | None:
        if obj is None:
            raise AttributeError(f"{self.name} is sealed: query its blind index")
        value = (obj.identity or {}).get(self.name)
        return None if value is None else str(value)


class PersonRecord(Base):
    """The identity of one record, its direct identifiers encrypted (``identity``, Decree
    13/2023: ``khoyte.store.crypto``); lookups go through keyed blind indexes (``*_bi``)."""

    __tablename__ = "ps_record"
    __table_args__ = (
        Index("ix_ps_record_dob_sex", "dob_bi", "sex"),
        Index("ix_ps_record_name_key_year", "name_key_bi", "birth_year"),
    )

    facility: Mapped[str] = mapped_column(String(16), primary_key=True)
    ma_lk: Mapped[str] = mapped_column(String(100), primary_key=True)
    health_id: Mapped[str] = mapped_column(String(16), index=True)
    version_id: Mapped[int] = mapped_column(BigId)
    # SEALED's values: ho_ten, name_norm, family, given, name_key, dob, cccd, bhxh, card, phone
    identity: Mapped[dict[str, Any]] = mapped_column(SealedJSON("ps_record.identity"))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(1))
    commune: Mapped[str | None] = mapped_column(String(8))
    cccd_bi: Mapped[str | None] = mapped_column(String(32), index=True)
    bhxh_bi: Mapped[str | None] = mapped_column(String(32), index=True)
    phone_bi: Mapped[str | None] = mapped_column(String(32), index=True)
    dob_bi: Mapped[str | None] = mapped_column(String(32))
    name_key_bi: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))  # new | cccd | bhxh | splink | manual
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the index-wide revision of the last change of this record's health ID (ps0004): the
    # warehouse reads the records changed after its persons watermark (``feed.persons_since``)
    revision: Mapped[int] = mapped_column(BigInteger, index=True, server_default="1")

    ho_ten = _Sealed()
    name_norm = _Sealed()
    family = _Sealed()
    given = _Sealed()
    name_key = _Sealed()
    dob = _Sealed()
    cccd = _Sealed()
    bhxh = _Sealed()
    card = _Sealed()
    phone = _Sealed()


class PersonRevision(Base):
    """One row: the last revision handed out. Taking the next one updates this row, which
    PostgreSQL locks until the transaction ends, so revisions are committed in order and the
    warehouse's watermark never skips a change committed later with a smaller number."""

    __tablename__ = "ps_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class PersonLink(Base):
    """One edge of a person's spanning tree: ``facility|ma_lk`` keys of its two records."""

    __tablename__ = "ps_link"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    left_key: Mapped[str] = mapped_column(String(120), index=True)
    right_key: Mapped[str] = mapped_column(String(120), index=True)
    method: Mapped[str] = mapped_column(String(16))
    match_weight: Mapped[float | None] = mapped_column(Float)
    weights: Mapped[str | None] = mapped_column(Text)  # JSON: comparison → match weight
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReviewItem(Base):
    __tablename__ = "ps_review"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    left_key: Mapped[str] = mapped_column(String(120))
    right_key: Mapped[str] = mapped_column(String(120))
    match_weight: Mapped[float] = mapped_column(Float)
    weights: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(16))  # uncertain | conflict
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | same | distinct
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PersonEvent(Base):
    __tablename__ = "ps_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(16))  # merge | unmerge
    actor: Mapped[str] = mapped_column(String(200))
    survivor: Mapped[str] = mapped_column(String(16), index=True)
    absorbed: Mapped[str] = mapped_column(String(16), index=True)
    records: Mapped[str] = mapped_column(Text)  # JSON list of moved record keys
    undone_by: Mapped[int | None] = mapped_column(BigId)


class LinkModel(Base):
    __tablename__ = "ps_model"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    model: Mapped[str] = mapped_column(Text)  # Splink's model JSON


class SubjectRequest(Base):
    """A data subject's request and its answer (``khoyte.persons.requests``)."""

    __tablename__ = "ps_subject_request"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    health_id: Mapped[str | None] = mapped_column(String(16), index=True)
    requester: Mapped[str] = mapped_column(SealedText("ps_subject_request.requester"))
    detail: Mapped[str | None] = mapped_column(SealedText("ps_subject_request.detail"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    recorded_by: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | done | partly | refused
    answer: Mapped[str | None] = mapped_column(SealedText("ps_subject_request.answer"))
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
