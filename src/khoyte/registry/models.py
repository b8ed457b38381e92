"""Tables of the registry in the operational store: places (the 2025 province and communes),
the map from pre-07/2025 commune and district codes to the new communes, facilities, and the
registry's revision counter. Migrations: ``store/migrations/versions`` on the Alembic branch
``registry``.

Every change to a facility takes a new value of ``rg_revision`` in its own transaction and
stamps it on the row, so the warehouse can ask for "what changed after revision N" the way it
asks for record versions after its watermark (see :func:`khoyte.registry.facilities.changes_since`).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from khoyte.store.db import Base


class Place(Base):
    """A province or a commune of the 2025 list (``vietnam-provinces``)."""

    __tablename__ = "rg_place"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)  # 2 digits or 5 digits
    level: Mapped[str] = mapped_column(String(12))  # province | commune
    name: Mapped[str] = mapped_column(String(255))
    parent: Mapped[str | None] = mapped_column(String(8), index=True)  # province of a commune
    valid_from: Mapped[date | None] = mapped_column(Date)


class CommuneMap(Base):
    """A pre-07/2025 commune or district code and the 2025 commune it became (or the main one
    when it was split). Filled by ``khoyte place import-map`` (format in docs/registry.md)."""

    __tablename__ = "rg_commune_map"

    old_code: Mapped[str] = mapped_column(String(8), primary_key=True)
    old_level: Mapped[str] = mapped_column(String(12), primary_key=True)  # commune | district
    new_commune: Mapped[str] = mapped_column(String(8), index=True)
    valid_from: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(255))


class Facility(Base):
    """A health facility (MA_CSKCB). The gateway's credentials point here."""

    __tablename__ = "rg_facility"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)  # MA_CSKCB
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str | None] = mapped_column(String(32))  # hospital, centre, station, clinic…
    tier: Mapped[str | None] = mapped_column(String(32))  # tinh | khu_vuc | xa | tu_nhan
    commune: Mapped[str | None] = mapped_column(String(16), index=True)  # 2025 commune code
    province: Mapped[str | None] = mapped_column(String(8))
    beds: Mapped[int | None] = mapped_column(Integer)
    staff: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revision: Mapped[int] = mapped_column(BigInteger, index=True, default=0)


class Revision(Base):
    """One row: the last revision handed out. Taking the next one updates this row, which
    PostgreSQL locks until the transaction ends, so revisions are committed in order and a
    reader's watermark never skips a change committed later with a smaller number."""

    __tablename__ = "rg_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
