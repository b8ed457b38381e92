"""Tables of aggregate reporting in the operational store (Alembic branch ``aggregate``).

``ag_value``: one value per data element × option combination × period × org unit (DHIS2's
data value), with the upload that last set it. ``ag_upload``: every upload, accepted or not,
with its file hash and its receipt (an upload is all-or-nothing; the same bytes twice change
nothing).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from khoyte.store.db import Base


class AggValue(Base):
    __tablename__ = "ag_value"

    data_element: Mapped[str] = mapped_column(String(64), primary_key=True)
    coc: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" = default combination
    period: Mapped[str] = mapped_column(String(16), primary_key=True)  # ISO: 2025, 2025Q1, 202501
    orgunit: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))  # canonical text (exact round trips)
    upload_id: Mapped[int | None] = mapped_column(Integer, index=True)
    stored_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AggUpload(Base):
    __tablename__ = "ag_upload"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    fmt: Mapped[str] = mapped_column(String(16))  # csv | xlsx | dvs-json | dvs-csv | adx
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stored_by: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # loaded | rejected | unchanged
    imported: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    ignored: Mapped[int] = mapped_column(Integer, default=0)
    receipt: Mapped[str] = mapped_column(Text)  # JSON


class AggReport(Base):
    """One report: a data set × period × org unit. When its values first arrived (timeliness)
    and its approval: ``level`` commune | province once approved, which locks the report."""

    __tablename__ = "ag_report"

    dataset: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    orgunit: Mapped[str] = mapped_column(String(16), primary_key=True)
    first_received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    level: Mapped[str | None] = mapped_column(String(16))  # None = not approved
    approved_by: Mapped[str | None] = mapped_column(String(64))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AggTarget(Base):
    """A plan target stored in the database (``khoyte aggregate targets FILE``): it overrides the
    package's ``targets.csv`` for the same indicator × org unit × year (a province's own plan,
    or the demo's plan scaled to its synthetic population)."""

    __tablename__ = "ag_target"

    indicator: Mapped[str] = mapped_column(String(64), primary_key=True)
    orgunit: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(64))  # canonical number text
    source: Mapped[str] = mapped_column(String(255))  # the file it came from
    stored_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
