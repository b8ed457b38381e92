"""Tables of the security component: users, their roles and scopes, sessions, sign-in attempts,
user API tokens, sign-in throttling, pending grants and the hash-chained audit log (migrations: Alembic branch ``security``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from khoyte.store.db import Base


class User(Base):
    __tablename__ = "sec_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    totp_secret: Mapped[str | None] = mapped_column(String(64), nullable=True)
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )
    scopes: Mapped[list[UserScope]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )


class Role(Base):
    """The fixed catalogue of roles (their permissions live in code: ``security.roles``)."""

    __tablename__ = "sec_roles"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_vi: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))


class UserRole(Base):
    __tablename__ = "sec_user_roles"
    __table_args__ = (UniqueConstraint("user_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("sec_users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(ForeignKey("sec_roles.code"))
    user: Mapped[User] = relationship(back_populates="roles")


class UserScope(Base):
    """One org unit a user may see: ``province`` (code empty), ``commune`` or ``facility``."""

    __tablename__ = "sec_user_scopes"
    __table_args__ = (UniqueConstraint("user_id", "kind", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("sec_users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), default="")
    user: Mapped[User] = relationship(back_populates="scopes")


class WebSession(Base):
    """A signed-in browser session; only the SHA-256 of the cookie value is stored."""

    __tablename__ = "sec_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("sec_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str] = mapped_column(String(64), default="")
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """A user's bearer token for the API; only the SHA-256 of the token is stored."""

    __tablename__ = "sec_api_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("sec_users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginThrottle(Base):
    """Sign-in failures from one address in one fixed window: one row per (address, window)
    with counters, not one row per attempt, so a flood writes a bounded number of rows
    (finding F8). ``failures`` counts attempts that were evaluated (reserved before the password
    is checked, released again on success); ``refused`` counts attempts answered 429 without
    evaluation (added in batches from the in-memory front, ``security.throttle``)."""

    __tablename__ = "sec_login_throttle"
    __table_args__ = (Index("ix_sec_login_throttle_bucket", "bucket"),)

    ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)  # epoch seconds // window
    failures: Mapped[int] = mapped_column(Integer, default=0)
    refused: Mapped[int] = mapped_column(Integer, default=0)


class PendingGrant(Base):
    """A change of access that needs a second person (finding F5): clinical or administrative
    roles granted or widened, or a password reset of such an account, asked for by one
    administrator and applied only when a different one approves it."""

    __tablename__ = "sec_pending_grants"
    __table_args__ = (Index("ix_sec_pending_grants_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # access | reset
    username: Mapped[str] = mapped_column(String(64))
    roles: Mapped[str] = mapped_column(Text, default="[]")  # JSON list, the complete new set
    scopes: Mapped[str] = mapped_column(Text, default="[]")  # JSON list, the complete new set
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)  # reset
    new_totp: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit log."""

    __tablename__ = "sec_audit_log"
    __table_args__ = (
        Index("ix_sec_audit_log_actor", "actor"),
        Index("ix_sec_audit_log_action", "action"),
        Index("ix_sec_audit_log_at", "at"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC, exactly as hashed
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(32))
    ip: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, exactly as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The lock row: every append updates it first, which serialises writers (a row lock on
    PostgreSQL, the database write lock on SQLite) and remembers the last sequence number and
    hash (so that deleting the newest entries is detected too)."""

    __tablename__ = "sec_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
