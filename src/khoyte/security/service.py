"""Users, passwords, sign-in (lock-out, rate limit, TOTP), sessions and bearer tokens.

Every function takes the time ``now`` from its caller (the web layer's clock), so that timeouts
are testable without waiting; every change to users, roles and scopes is audited in the same
transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pyotp
from sqlalchemy import Table, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from khoyte.access import Principal
from khoyte.config import Settings
from khoyte.security import audit
from khoyte.security.models import ApiToken, User, UserRole, UserScope, WebSession
from khoyte.security.passwords import dummy_hash, verify_password
from khoyte.security.passwords import hash_password as hash_password  # re-exported
from khoyte.security.passwords import password_problems as password_problems  # re-exported
from khoyte.security.roles import (
    ROLES,
    TOTP_REQUIRED,
    build_scope,
    format_scope,
    parse_scope,
    permissions_of,
)
from khoyte.security.throttle import AddressLimiter
from khoyte.store.db import session_scope

TOKEN_PREFIX = "khu_"  # noqa: S105  # nosec B105  # a prefix, not a secret: tells user tokens apart


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(dt: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back; everything here is UTC."""
    if dt is None:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SecurityError(Exception):
    def __init__(self, code: str, vi: str, en: str) -> None:
        self.code, self.vi, self.en = code, vi, en
        super().__init__(f"{code}: {en}")


# --- users -----------------------------------------------------------------------------------


def get_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def user_roles(user: User) -> frozenset[str]:
    return frozenset(r.role for r in user.roles)


def user_scope_strings(user: User) -> list[str]:
    return sorted(format_scope(s.kind, s.code) for s in user.scopes)


def principal_for(user: User, credential_id: str | None = None) -> Principal:
    roles = user_roles(user)
    return Principal(
        kind="user",
        name=user.username,
        roles=roles,
        permissions=permissions_of(roles),
        scope=build_scope([(s.kind, s.code) for s in user.scopes]),
        credential_id=credential_id,
    )


def _check_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise SecurityError(
            "unknown_role",
            f"Vai trò không tồn tại: {', '.join(unknown)} (có: {', '.join(ROLES)})",
            f"Unknown role: {', '.join(unknown)} (known: {', '.join(ROLES)})",
        )
    return sorted(set(roles))


def _check_scopes(scopes: list[str]) -> list[tuple[str, str]]:
    try:
        return sorted({parse_scope(s) for s in scopes})
    except ValueError as exc:
        raise SecurityError("invalid_scope", str(exc), str(exc)) from exc


def _check_password(password: str, username: str, settings: Settings) -> None:
    problems = password_problems(password, username, settings.password_min_length)
    if problems:
        raise SecurityError(
            "weak_password",
            " ".join(vi for vi, _ in problems),
            " ".join(en for _, en in problems),
        )


def create_user(
    session: Session,
    settings: Settings,
    *,
    username: str,
    password: str,
    roles: list[str],
    scopes: list[str],
    actor: Principal | str,
    ip: str,
    full_name: str = "",
    now: datetime | None = None,
) -> tuple[User, str | None]:
    """A new account; returns it and, for roles that need a second factor, the TOTP
    provisioning URI to show once."""
    now = now or utcnow()
    username = username.strip()
    if not (1 <= len(username) <= 64) or not all(c.isalnum() or c in "._-" for c in username):
        raise SecurityError(
            "invalid_username",
            "Tên đăng nhập chỉ gồm chữ, số và . _ - (tối đa 64 ký tự).",
            "Usernames use letters, digits and . _ - (at most 64).",
        )
    if get_user(session, username) is not None:
        raise SecurityError("user_exists", "Tên đăng nhập đã tồn tại.", "The username is taken.")
    role_list = _check_roles(roles)
    scope_list = _check_scopes(scopes)
    _check_password(password, username, settings)
    user = User(
        username=username,
        full_name=full_name,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
        created_at=now,
        updated_at=now,
    )
    user.roles = [UserRole(role=r) for r in role_list]
    user.scopes = [UserScope(kind=k, code=c) for k, c in scope_list]
    uri = None
    if TOTP_REQUIRED & set(role_list):
        user.totp_secret = pyotp.random_base32()
        uri = totp_uri(user)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.create",
        f"user:{username}",
        "success",
        ip,
        details={
            "roles": role_list,
            "scopes": [format_scope(k, c) for k, c in scope_list],
            "totp": uri is not None,
        },
    )
    return user, uri


def totp_uri(user: User) -> str:
    return str(
        pyotp.TOTP(user.totp_secret or "").provisioning_uri(
            name=user.username, issuer_name="khoyte"
        )
    )


def set_active(session: Session, user: User, active: bool, actor: Principal | str, ip: str) -> None:
    user.active = active
    user.updated_at = utcnow()
    if not active:
        revoke_all(session, user)
    audit.record(
        session,
        actor,
        "user.enable" if active else "user.disable",
        f"user:{user.username}",
        "success",
        ip,
    )


def reset_password(
    session: Session,
    settings: Settings,
    user: User,
    password: str,
    actor: Principal | str,
    ip: str,
    new_totp: bool = False,
) -> str | None:
    """New password (and optionally a new TOTP secret); unlocks and signs out everywhere."""
    _check_password(password, user.username, settings)
    return apply_reset(session, user, hash_password(password), actor, ip, new_totp)


def apply_reset(
    session: Session,
    user: User,
    password_hash: str,
    actor: Principal | str,
    ip: str,
    new_totp: bool = False,
) -> str | None:
    """``reset_password`` with the hash already made (a reset approved by a second person)."""
    user.password_hash = password_hash
    user.failed_logins = 0
    user.locked_until = None
    user.updated_at = utcnow()
    uri = None
    if new_totp or (TOTP_REQUIRED & user_roles(user) and not user.totp_secret):
        user.totp_secret = pyotp.random_base32()
        user.totp_last_step = None
        uri = totp_uri(user)
    revoke_all(session, user)
    audit.record(
        session,
        actor,
        "user.reset",
        f"user:{user.username}",
        "success",
        ip,
        details={"new_totp": uri is not None},
    )
    return uri


def set_roles_and_scopes(
    session: Session,
    user: User,
    roles: list[str],
    scopes: list[str],
    actor: Principal | str,
    ip: str,
) -> str | None:
    role_list = _check_roles(roles)
    scope_list = _check_scopes(scopes)
    before = {"roles": sorted(user_roles(user)), "scopes": user_scope_strings(user)}
    # Change only what changes (finding F10): replacing the collections inserted the kept rows
    # again before deleting the old ones, and the unique constraints answered 500.
    keep_roles, keep_scopes = set(role_list), set(scope_list)
    user.roles = [r for r in user.roles if r.role in keep_roles]
    user.scopes = [x for x in user.scopes if (x.kind, x.code) in keep_scopes]
    session.flush()  # the removed rows go first
    have_roles = {r.role for r in user.roles}
    have_scopes = {(x.kind, x.code) for x in user.scopes}
    user.roles += [UserRole(role=r) for r in role_list if r not in have_roles]
    user.scopes += [UserScope(kind=k, code=c) for k, c in scope_list if (k, c) not in have_scopes]
    user.updated_at = utcnow()
    uri = None
    if TOTP_REQUIRED & set(role_list) and not user.totp_secret:
        user.totp_secret = pyotp.random_base32()
        uri = totp_uri(user)
    session.flush()
    revoke_all(session, user)  # new rights take effect at the next sign-in
    audit.record(
        session,
        actor,
        "user.roles_scopes",
        f"user:{user.username}",
        "success",
        ip,
        details={
            "before": before,
            "after": {"roles": role_list, "scopes": [format_scope(k, c) for k, c in scope_list]},
        },
    )
    return uri


def revoke_all(session: Session, user: User) -> None:
    for ws in session.scalars(select(WebSession).where(WebSession.user_id == user.id)):
        ws.revoked = True
    for tok in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        tok.revoked = True


# --- sign-in ---------------------------------------------------------------------------------

GENERIC_VI = (
    "Tên đăng nhập, mật khẩu hoặc mã xác thực không đúng, hoặc tài khoản đang bị khoá tạm thời."
)
GENERIC_EN = "Wrong username, password or code, or the account is temporarily locked."
_USERS = cast(Table, User.__table__)


@dataclass
class LoginOutcome:
    user: User | None
    # ok | invalid | locked | rate_limited | totp_required | totp_replayed | totp_not_enrolled
    # (the reason is audited; the caller answers every failure but rate_limited the same way)
    code: str
    status: int = 200
    result: Any = None  # what ``then`` returned

    @property
    def ok(self) -> bool:
        return self.user is not None


def pseudonym(username: str, settings: Settings) -> str:
    """How an unknown username is written to the trail: a keyed hash, so that a password typed
    into the username field is never stored (finding F20), while attempts with the same text
    can still be told apart and counted."""
    key = (settings.secret_key or "khoyte-development").encode()
    return "unknown:" + hmac.new(key, username.encode(), "sha256").hexdigest()[:12]


def login(
    factory: sessionmaker[Session],
    settings: Settings,
    limiter: AddressLimiter,
    username: str,
    password: str,
    otp: str | None,
    ip: str,
    now: datetime,
    then: Callable[[Session, User], Any] | None = None,
) -> LoginOutcome:
    """Check a sign-in; on success run ``then(session, user)`` in the same transaction (start a
    session, issue a token). Never raises for a wrong guess.

    Every check that could be raced is one atomic statement (findings F3, F9): the address's
    guess and the account's guess are reserved *before* the password is checked (so parallel
    guesses cannot overrun either limit), and a TOTP step is taken by a conditional update (so
    one code gives one sign-in). The reservations are committed before Argon2 runs: no lock is
    held while a hash is computed."""
    username = username.strip()[:64]
    reservation = limiter.reserve(factory, ip, now)
    if reservation is None:  # counted in aggregate by the limiter, not one entry per attempt
        return LoginOutcome(None, "rate_limited", 429)
    max_failures = settings.login_max_failures
    with session_scope(factory) as s:
        user = get_user(s, username)
        count = None
        if user is not None and user.active:
            count = s.execute(
                update(_USERS)
                .where(
                    _USERS.c.id == user.id,
                    or_(_USERS.c.locked_until.is_(None), _USERS.c.locked_until <= now),
                    _USERS.c.failed_logins < max_failures,
                )
                .values(failed_logins=_USERS.c.failed_logins + 1)
                .returning(_USERS.c.failed_logins)
            ).scalar_one_or_none()
    why = "invalid"
    step = None
    if user is None or not user.active or count is None:
        verify_password(dummy_hash(), password)  # every answer costs the same time
        why = "locked" if user is not None and user.active else "invalid"
    elif not verify_password(user.password_hash, password):
        why = "invalid"
    elif user.totp_secret:
        code = (otp or "").strip()
        totp = pyotp.TOTP(user.totp_secret)
        current = int(now.timestamp()) // 30
        for s_ in (current - 1, current, current + 1):  # one step of clock drift either way
            if code and secrets.compare_digest(totp.at(s_ * 30), code):
                step = s_
        why = "ok" if step is not None else ("totp_required" if not code else "invalid")
    elif TOTP_REQUIRED & user_roles(user):
        why = "totp_not_enrolled"
    else:
        why = "ok"
    with session_scope(factory) as s:
        if why == "ok" and user is not None and step is not None:
            taken = s.execute(
                update(_USERS)
                .where(
                    _USERS.c.id == user.id,
                    or_(_USERS.c.totp_last_step.is_(None), _USERS.c.totp_last_step < step),
                )
                .values(totp_last_step=step)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                why = "totp_replayed"
        if why == "ok" and user is not None:
            s.execute(
                update(_USERS)
                .where(_USERS.c.id == user.id)
                .values(failed_logins=0, locked_until=None)
            )
            limiter.release(s, reservation)
            audit.record(s, f"user:{username}", "login", f"user:{username}", "success", ip)
            fresh = s.get(User, user.id)
            assert fresh is not None
            result = then(s, fresh) if then is not None else None
            return LoginOutcome(fresh, "ok", 200, result)
        # Lock when the reserved failures reached the limit and were not wiped meanwhile by a
        # successful sign-in; the first failure to see that locks, once.
        locked = (
            count is not None
            and user is not None
            and s.execute(
                update(_USERS)
                .where(_USERS.c.id == user.id, _USERS.c.failed_logins >= max_failures)
                .values(
                    failed_logins=0,
                    locked_until=now + timedelta(minutes=settings.login_lockout_minutes),
                )
            ).rowcount  # type: ignore[attr-defined]
            == 1
        )
        if locked:
            audit.record(
                s, "system", "user.lock", f"user:{username}", "success", ip,
                details={"minutes": settings.login_lockout_minutes},
            )  # fmt: skip
        who = f"user:{username}" if user is not None else pseudonym(username, settings)
        audit.record(s, who, "login", who, "failure", ip, details={"why": why})
    return LoginOutcome(None, why, 401)


# --- sessions and tokens ---------------------------------------------------------------------


def start_session(session: Session, user: User, ip: str, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(id=digest(token), user_id=user.id, created_at=now, last_seen_at=now, ip=ip)
    )
    return token


def load_session(
    session: Session, token: str, settings: Settings, now: datetime
) -> tuple[WebSession, User] | None:
    ws = session.get(WebSession, digest(token))
    if ws is None or ws.revoked:
        return None
    created, seen = aware(ws.created_at), aware(ws.last_seen_at)
    if created is None or seen is None:
        return None
    if now - seen > timedelta(minutes=settings.session_idle_minutes) or now - created > timedelta(
        hours=settings.session_absolute_hours
    ):
        ws.revoked = True
        return None
    user = session.get(User, ws.user_id)
    if user is None or not user.active:
        return None
    if now - seen > timedelta(seconds=30):  # one write a minute at most per session
        ws.last_seen_at = now
    return ws, user


def end_session(session: Session, token: str) -> None:
    ws = session.get(WebSession, digest(token))
    if ws is not None:
        ws.revoked = True


def active_credentials(
    session: Session, username: str, settings: Settings, now: datetime
) -> list[dict[str, Any]]:
    """The user's sessions and API tokens still valid: kind, started, ends (for /account)."""
    user = get_user(session, username)
    if user is None:
        return []
    out: list[dict[str, Any]] = []
    for ws in session.scalars(select(WebSession).where(WebSession.user_id == user.id)):
        created, seen = aware(ws.created_at), aware(ws.last_seen_at)
        if ws.revoked or created is None or seen is None:
            continue
        ends = min(
            seen + timedelta(minutes=settings.session_idle_minutes),
            created + timedelta(hours=settings.session_absolute_hours),
        )
        if ends > now:
            out.append({"kind": "session", "created": created, "ends": ends, "ip": ws.ip})
    for tok in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        created, ends_ = aware(tok.created_at), aware(tok.expires_at)
        if not tok.revoked and created is not None and ends_ is not None and ends_ > now:
            out.append({"kind": "token", "created": created, "ends": ends_, "ip": ""})
    return sorted(out, key=lambda c: c["created"])


def end_credentials(
    session: Session, username: str, bearer: str | None, cookie: str | None, everywhere: bool
) -> int:
    """Revoke the presenting bearer token or session cookie of ``username`` (or, with
    ``everywhere``, all of theirs); how many were revoked."""
    user = get_user(session, username)
    if user is None:
        return 0
    if everywhere:
        n = sum(
            1
            for x in (
                *session.scalars(select(WebSession).where(WebSession.user_id == user.id)),
                *session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)),
            )
            if not x.revoked
        )
        revoke_all(session, user)
        return n
    found: WebSession | ApiToken | None = None
    if bearer:
        found = session.get(ApiToken, digest(bearer))
    elif cookie:
        found = session.get(WebSession, digest(cookie))
    if found is None or found.user_id != user.id or found.revoked:
        return 0
    found.revoked = True
    return 1


def issue_token(session: Session, settings: Settings, user: User, now: datetime) -> ApiToken:
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    tok = ApiToken(
        id=digest(raw),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(hours=settings.api_token_hours),
    )
    session.add(tok)
    tok.raw = raw  # type: ignore[attr-defined]  # shown once, never stored
    return tok


def load_token(session: Session, raw: str, now: datetime) -> tuple[ApiToken, User] | None:
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    tok = session.get(ApiToken, digest(raw))
    if tok is None or tok.revoked:
        return None
    expires = aware(tok.expires_at)
    if expires is None or expires <= now:
        return None
    user = session.get(User, tok.user_id)
    if user is None or not user.active:
        return None
    return tok, user
