"""Tables of the master person index (Alembic branch ``persons``, migration ``ps0001``).

``ps_person`` one row per health ID (a merged one points at the survivor); ``ps_record`` one row
per accepted record (MA_CSKCB + MA_LK) with its normalised identity (the blocking index of the
online path) and its health ID; ``ps_link`` why records are together (method, match weight,
weights per comparison); ``ps_review`` uncertain pairs for a person to decide; ``ps_event`` the
history of merges and unmerges (what moved, so an unmerge restores exactly); ``ps_model`` the
trained Splink model; ``ps_revision`` the counter of health-ID changes (migration ``ps0002``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from khoyte.gateway.models import BigId
from khoyte.store.db import Base


class PersonRow(Base):
    __tablename__ = "ps_person"

    health_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    merged_into: Mapped[str | None] = mapped_column(String(16), index=True)


class PersonRecord(Base):
    __tablename__ = "ps_record"
    __table_args__ = (
        Index("ix_ps_record_dob_sex", "dob", "sex"),
        Index("ix_ps_record_name_key_year", "name_key", "birth_year"),
    )

    facility: Mapped[str] = mapped_column(String(16), primary_key=True)
    ma_lk: Mapped[str] = mapped_column(String(100), primary_key=True)
    health_id: Mapped[str] = mapped_column(String(16), index=True)
    version_id: Mapped[int] = mapped_column(BigId)
    ho_ten: Mapped[str | None] = mapped_column(String(255))
    name_norm: Mapped[str | None] = mapped_column(String(255))
    family: Mapped[str | None] = mapped_column(String(64))
    given: Mapped[str | None] = mapped_column(String(64))
    name_key: Mapped[str | None] = mapped_column(String(128))
    dob: Mapped[str | None] = mapped_column(String(8))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(1))
    cccd: Mapped[str | None] = mapped_column(String(12), index=True)
    bhxh: Mapped[str | None] = mapped_column(String(10), index=True)
    card: Mapped[str | None] = mapped_column(String(15))
    commune: Mapped[str | None] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(12), index=True)
    method: Mapped[str] = mapped_column(String(16))  # new | cccd | bhxh | splink | manual
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the index-wide revision of the last change of this record's health ID (ps0002): the
    # warehouse reads the records changed after its persons watermark (``feed.persons_since``)
    revision: Mapped[int] = mapped_column(BigInteger, index=True, server_default="1")


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
