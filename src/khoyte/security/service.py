"""Users, passwords, sign-in (lock-out, rate limit, TOTP), sessions and bearer tokens.

Every function takes the time ``now`` from its caller (the web layer's clock), so that timeouts
are testable without waiting; every change to users, roles and scopes is audited in the same
transaction.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from khoyte.access import Principal
from khoyte.config import Settings
from khoyte.security import audit
from khoyte.security.models import ApiToken, LoginAttempt, User, UserRole, UserScope, WebSession
from khoyte.security.roles import (
    ROLES,
    TOTP_REQUIRED,
    build_scope,
    format_scope,
    parse_scope,
    permissions_of,
)

_HASHER = PasswordHasher()  # Argon2id, the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist (or is locked), so every answer costs the
    same time. Made on first use: hashing takes 64 MiB, not for commands that never sign in."""
    return _HASHER.hash("khoyte-no-such-user")


TOKEN_PREFIX = "khu_"  # noqa: S105  # nosec B105  # a prefix, not a secret: tells user tokens apart
_COMMON = frozenset(
    {"password", "123456789012", "matkhau12345", "qwertyuiop12", "khoyte123456", "admin1234567"}
)


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


# --- passwords -------------------------------------------------------------------------------


def password_problems(password: str, username: str, min_length: int) -> list[tuple[str, str]]:
    """What is wrong with a new password, as (Vietnamese, English) messages; empty = fine."""
    out: list[tuple[str, str]] = []
    if len(password) < min_length:
        out.append(
            (f"Mật khẩu phải có ít nhất {min_length} ký tự.", f"At least {min_length} characters.")
        )
    if len(password) > 256:
        out.append(("Mật khẩu dài quá 256 ký tự.", "At most 256 characters."))
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 3 and len(password) < 20:
        out.append(
            (
                "Cần ít nhất 3 trong 4 loại: chữ thường, chữ hoa, chữ số, ký hiệu "
                "(hoặc dài từ 20 ký tự).",
                "Use 3 of lower case, upper case, digits, symbols (or 20+ characters).",
            )
        )
    low = password.lower()
    if username and username.lower() in low:
        out.append(("Mật khẩu không được chứa tên đăng nhập.", "Must not contain the username."))
    if low in _COMMON or len(set(password)) < 4:
        out.append(("Mật khẩu quá dễ đoán.", "Too easy to guess."))
    return out


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


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
    user.password_hash = hash_password(password)
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
    user.roles = [UserRole(role=r) for r in role_list]
    user.scopes = [UserScope(kind=k, code=c) for k, c in scope_list]
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


@dataclass
class LoginOutcome:
    user: User | None
    code: str  # ok | invalid | locked | rate_limited | totp_required | totp_not_enrolled
    status: int = 200

    @property
    def ok(self) -> bool:
        return self.user is not None


def login(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    otp: str | None,
    ip: str,
    now: datetime,
) -> LoginOutcome:
    """Check a sign-in. Never raises for a wrong guess: the caller commits the recorded
    failure (counter, lock-out, audit entry) and then answers."""
    username = username.strip()[:64]
    window = now - timedelta(minutes=settings.login_lockout_minutes)
    recent_failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.ip == ip, LoginAttempt.at >= window, LoginAttempt.success.is_(False))
    )

    def fail(code: str, status: int = 401, user: User | None = None) -> LoginOutcome:
        session.add(LoginAttempt(at=now, username=username, ip=ip, success=False))
        audit.record(
            session, f"user:{username}", "login", f"user:{username}", "failure", ip,
            details={"why": code},
        )  # fmt: skip
        return LoginOutcome(None, code, status)

    if (recent_failures or 0) >= settings.login_ip_max_failures:
        return fail("rate_limited", 429)
    user = get_user(session, username)
    if user is None:
        verify_password(_dummy_hash(), password)
        return fail("invalid")
    locked_until = aware(user.locked_until)
    if locked_until is not None and locked_until > now:
        verify_password(_dummy_hash(), password)  # same cost as any other answer
        return fail("locked")
    if not verify_password(user.password_hash, password) or not user.active:
        if user.active:
            user.failed_logins += 1
            if user.failed_logins >= settings.login_max_failures:
                user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
                user.failed_logins = 0
                audit.record(
                    session, "system", "user.lock", f"user:{username}", "success", ip,
                    details={"minutes": settings.login_lockout_minutes},
                )  # fmt: skip
        return fail("invalid")
    if user.totp_secret:
        code = (otp or "").strip()
        totp = pyotp.TOTP(user.totp_secret)
        step = int(now.timestamp()) // 30
        matched = None
        for s in (step - 1, step, step + 1):  # one step of clock drift either way
            if code and secrets.compare_digest(totp.at(s * 30), code):
                matched = s
        if matched is None or (user.totp_last_step is not None and matched <= user.totp_last_step):
            user.failed_logins += 1
            if user.failed_logins >= settings.login_max_failures:
                user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
                user.failed_logins = 0
            return fail("totp_required" if not code else "invalid")
        user.totp_last_step = matched
    elif TOTP_REQUIRED & user_roles(user):
        return fail("totp_not_enrolled", 403)
    user.failed_logins = 0
    user.locked_until = None
    session.add(LoginAttempt(at=now, username=username, ip=ip, success=True))
    audit.record(session, f"user:{username}", "login", f"user:{username}", "success", ip)
    return LoginOutcome(user, "ok")


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
