"""API credentials of facilities (bearer tokens, stored hashed). The facilities themselves are
the registry's (``khoyte.registry.facilities``); ``add_facility`` and ``UnknownFacility`` are
re-exported from there for callers of the gateway.

A token is ``khy_`` + 32 random bytes (URL-safe base64). Only its sha256 is stored: with 256 bits
of entropy nobody can search the token space, so a slow password hash (argon2) would add cost to
every request without adding safety; a leaked table still yields no usable token.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, or_, select
from sqlalchemy.orm import Session

from khoyte.gateway.models import Credential
from khoyte.registry.facilities import UnknownFacility as UnknownFacility
from khoyte.registry.facilities import add_facility as add_facility
from khoyte.registry.models import Facility

# a marker that makes a leaked credential easy to recognise, not a secret
TOKEN_PREFIX = "khy_"  # noqa: S105  # nosec B105


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


def new_token(session: Session, code: str, expires_days: int | None = None) -> str:
    """A new credential for ``code``; the token is returned once and never stored in clear."""
    fac = session.get(Facility, code)
    if fac is None:
        raise UnknownFacility(code)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        Credential(
            id=uuid.uuid4().hex,
            facility=code,
            token_hash=hash_token(token),
            prefix=token[:10],
            created_at=now(),
            expires_at=now() + timedelta(days=expires_days) if expires_days else None,
        )
    )
    session.flush()
    return token


def revoke(session: Session, code: str) -> int:
    """Revoke every live credential of ``code``; returns how many."""
    if session.get(Facility, code) is None:
        raise UnknownFacility(code)
    creds = session.scalars(
        select(Credential).where(Credential.facility == code, Credential.revoked_at.is_(None))
    ).all()
    for c in creds:
        c.revoked_at = now()
    session.flush()
    return len(creds)


@dataclass(frozen=True)
class TokenOwner:
    credential_id: str
    facility: str
    commune: str | None


# built once: every intake request runs it (building and compiling it per call cost more CPU
# than the database spent answering it)
_LOOKUP = (
    select(Credential.id, Credential.facility, Facility.commune)
    .join(Facility, Facility.code == Credential.facility)
    .where(
        Credential.token_hash == bindparam("token_hash"),
        Credential.revoked_at.is_(None),
        or_(Credential.expires_at.is_(None), Credential.expires_at > bindparam("now")),
        Facility.active.is_(True),
    )
)


def lookup_token(db: Session | Connection, token: str) -> TokenOwner | None:
    """The live credential a token belongs to (active facility, not revoked), if any: read
    at every request, so a revocation holds from the next one."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = db.execute(_LOOKUP, {"token_hash": hash_token(token), "now": now()}).first()
    if row is None:
        return None
    return TokenOwner(row[0], row[1], row[2])


@dataclass(frozen=True)
class FacilityInfo:
    code: str
    name: str
    tier: str | None
    commune: str | None
    active: bool
    live_credentials: int


def list_facilities(session: Session) -> list[FacilityInfo]:
    facs = session.scalars(select(Facility).order_by(Facility.code)).all()
    live: dict[str, int] = {}
    for (fac,) in session.execute(
        select(Credential.facility).where(Credential.revoked_at.is_(None))
    ):
        live[fac] = live.get(fac, 0) + 1
    return [
        FacilityInfo(f.code, f.name, f.tier, f.commune, f.active, live.get(f.code, 0)) for f in facs
    ]
