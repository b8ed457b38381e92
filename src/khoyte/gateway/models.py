"""Tables of the gateway: credentials, submissions, record versions, findings, intake events.
Migrations: ``store/migrations/versions`` on the Alembic branch ``gateway``.

Facilities are the registry's (``khoyte.registry.models.Facility``, table ``rg_facility``);
credentials point there. The name is re-exported here for code that still imports it from the
gateway."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from khoyte.registry.models import Facility as Facility  # one registry (rg_facility)
from khoyte.store.crypto import SealedText
from khoyte.store.db import Base

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Credential(Base):
    __tablename__ = "gw_credential"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    facility: Mapped[str] = mapped_column(ForeignKey("rg_facility.code"), index=True)
    # sha256 of the token: tokens are 256-bit random, so a fast hash is as safe as a slow one
    # and costs nothing per request (see docs/gateway.md).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # None: never


class Submission(Base):
    __tablename__ = "gw_submission"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    facility: Mapped[str] = mapped_column(String(16), index=True)
    credential_id: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # api, form, multipart, watch, ingest
    kind: Mapped[str | None] = mapped_column(String(16))  # claims, checkin, assessment
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    retain_until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(24))
    n_records: Mapped[int] = mapped_column(Integer)
    n_accepted: Mapped[int] = mapped_column(Integer)
    n_warnings: Mapped[int] = mapped_column(Integer)
    n_rejected: Mapped[int] = mapped_column(Integer)
    # the receipt JSON exactly as sent back, encrypted (it quotes identifiers: store/crypto.py)
    receipt: Mapped[str] = mapped_column(SealedText("gw_submission.receipt"))
    profile: Mapped[str | None] = mapped_column(String(16))  # hub / payer: who judged it


class RecordHead(Base):
    """One row per (facility, MA_LK): the latest and the current (non-rejected) version."""

    __tablename__ = "gw_record"

    facility: Mapped[str] = mapped_column(String(16), primary_key=True)
    ma_lk: Mapped[str] = mapped_column(String(100), primary_key=True)
    latest_version: Mapped[int] = mapped_column(Integer)
    latest_sha: Mapped[str] = mapped_column(String(64))
    latest_version_id: Mapped[int] = mapped_column(BigId)
    current_version_id: Mapped[int | None] = mapped_column(BigId)


class RecordVersionRow(Base):
    __tablename__ = "gw_record_version"
    __table_args__ = (UniqueConstraint("facility", "ma_lk", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    facility: Mapped[str] = mapped_column(String(16))
    ma_lk: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    submission_id: Mapped[str] = mapped_column(ForeignKey("gw_submission.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(24))
    content_sha: Mapped[str] = mapped_column(String(64))
    # canonical Record as JSON (standards.serialize), its identifying values sealed into one
    # ciphertext (``"sealed"``: khoyte.store.crypto.Keyring.seal_record / unseal)
    record: Mapped[str] = mapped_column(Text)


class FindingRow(Base):
    __tablename__ = "gw_finding"
    __table_args__ = (Index("ix_gw_finding_code", "code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("gw_submission.id"), index=True)
    record_index: Mapped[int | None] = mapped_column(Integer)  # None: file-level finding
    ma_lk: Mapped[str | None] = mapped_column(String(100))
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(8))
    table_name: Mapped[str | None] = mapped_column(String(16))
    stt: Mapped[int | None] = mapped_column(Integer)
    field: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[str | None] = mapped_column(SealedText("gw_finding.value"))  # encrypted
    convention: Mapped[str | None] = mapped_column(String(32), index=True)


class IntakeEvent(Base):
    """What the gateway refused or noticed outside a stored submission (403, 413, 429, …)."""

    __tablename__ = "gw_intake_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[int] = mapped_column(Integer)
    facility: Mapped[str | None] = mapped_column(String(16))
    credential_id: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
