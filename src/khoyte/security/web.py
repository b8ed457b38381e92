"""The security component in the web application.

``install(app, settings)`` (called last by ``create_app``) refuses unsafe production settings,
registers the session-cookie and user-token authenticators, adds the login/logout, token and
account routes (admin and audit routes live in ``security.admin``), the hardening/CSRF/route-guard
middleware, and refuses to start if any route declares no ``requires(...)``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from khoyte.access import Permission, Principal, requires
from khoyte.config import Settings
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.layout import TEMPLATES
from khoyte.security import audit, service
from khoyte.security import scoping as _scoping  # noqa: F401  (registers the ORM scope filter)
from khoyte.security.middleware import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CsrfProtect,
    RouteGuard,
    SecurityHeaders,
    SignInGate,
    cookies,
    csrf_base,
    csrf_token,
    unguarded,
)
from khoyte.security.roles import ROLES
from khoyte.security.throttle import AddressLimiter
from khoyte.store.db import session_scope

if TYPE_CHECKING:  # built by the composition root; security needs only its type
    from khoyte.services import Services

log = logging.getLogger("khoyte.security")

# Only ever used when environment=development; production refuses it (check_settings).
DEV_SECRET = "khoyte-development-secret-do-not-use-in-production"  # noqa: S105  # nosec B105


class InsecureSettings(RuntimeError):
    pass


def check_settings(settings: Settings) -> None:
    """Production refuses default, empty or short secrets."""
    if settings.environment != "production":
        return
    problems = []
    for name in ("secret_key", "audit_signing_key"):
        value = getattr(settings, name)
        if not value or value == DEV_SECRET or len(value) < 32:
            problems.append(f"KHOYTE_{name.upper()}")
    if getattr(settings, "open_dashboard", False):
        problems.append("KHOYTE_OPEN_DASHBOARD (demo only: dashboards without sign-in)")
    if problems:
        raise InsecureSettings(
            "Không khởi động ở chế độ production với khoá mặc định, rỗng hoặc ngắn (< 32 ký tự): "
            f"{', '.join(problems)} / refusing to start in production with default, empty or "
            f"short (< 32 characters) secrets: {', '.join(problems)}"
        )


@dataclass
class SecurityState:
    settings: Settings
    factory: sessionmaker[Session]
    secret: str
    clock: Callable[[], datetime] = service.utcnow
    limiter: AddressLimiter = field(default_factory=lambda: AddressLimiter(20, 15))


def state(request: Request) -> SecurityState:
    st: SecurityState = request.app.state.security
    return st


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _secure(request: Request, st: SecurityState) -> bool:
    return st.settings.environment == "production" or request.url.scheme == "https"


# --- authenticators --------------------------------------------------------------------------


def session_authenticator(request: Request) -> Principal | None:
    if "authorization" in request.headers:
        return None  # an explicit credential wins over ambient cookies
    token = cookies(request.scope).get(SESSION_COOKIE)  # the CSRF check's parser
    if not token or len(token) > 200:
        return None
    st = state(request)
    with session_scope(st.factory) as s:
        found = service.load_session(s, token, st.settings, st.clock())
        if found is None:
            return None
        ws, user = found
        request.state.csrf_token = csrf_token(st.secret, token)  # the layout's sign-out form
        return service.principal_for(user, credential_id=f"session:{ws.id[:12]}")


def token_authenticator(request: Request) -> Principal | None:
    auth = request.headers.get("authorization", "")
    scheme, _, raw = auth.partition(" ")
    if scheme.lower() != "bearer" or not raw.startswith(service.TOKEN_PREFIX):
        return None
    st = state(request)
    with session_scope(st.factory) as s:
        found = service.load_token(s, raw.strip(), st.clock())
        if found is None:
            return None
        tok, user = found
        return service.principal_for(user, credential_id=f"token:{tok.id[:12]}")


def record_event(
    request: Request,
    actor: Principal | str,
    action: str,
    target: str,
    outcome: str = "success",
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Audit an event in its own transaction (views and exports of person-identifiable data,
    denials…) — for routes that change nothing else."""
    with session_scope(state(request).factory) as s:
        audit.record(s, actor, action, target, outcome, client_ip(request), reason, details)


def _out_of_scope(request: Request, principal: Principal, what: str) -> None:
    record_event(
        request,
        principal,
        "scope.denied",
        what[:500],
        "denied",
        details={"method": request.method, "path": request.url.path},
    )


# --- templates (one layout for every page: khoyte.layout) -------------------------------


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    st = state(request)
    jar = cookies(request.scope)
    set_csrf = None
    base = csrf_base(jar)
    if base is None:
        base = set_csrf = secrets.token_urlsafe(32)
    resp = TEMPLATES.TemplateResponse(
        request,
        f"security/{name}",
        {"csrf": csrf_token(st.secret, base), "roles": ROLES, **ctx},
        status_code=status,
    )
    if set_csrf is not None:
        resp.set_cookie(
            CSRF_COOKIE,
            set_csrf,
            httponly=True,
            secure=_secure(request, st),
            samesite="strict",
            path="/",
        )
    return resp


HOME = "/account"  # where sign-in lands when no page was asked for


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target[:500]
    return HOME


# --- routes ----------------------------------------------------------------------------------


router = APIRouter(responses=ERROR_RESPONSES)
PUBLIC = Depends(requires(Permission.PUBLIC))
Public = Annotated[Principal, PUBLIC]
Signed = Annotated[Principal, Depends(requires(Permission.AUTHENTICATED))]

# Only the address limit has its own message: it says nothing about the account. Every other
# failure (unknown user, wrong password, locked account, missing, wrong or replayed code) gets
# the generic one, so that a right password is not confirmed before the second factor
# (finding F12).
_LOGIN_ERRORS = {
    "rate_limited": (
        "Quá nhiều lần đăng nhập sai từ địa chỉ này; hãy thử lại sau.",
        "Too many failed sign-ins from this address; retry later.",
    ),
}


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, _: Public, next: str = HOME) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next), error=None, username="")


def _check_form_csrf(request: Request, token: str) -> None:
    base = csrf_base(cookies(request.scope))
    expected = csrf_token(state(request).secret, base) if base else None
    if expected is None or not secrets.compare_digest(token.encode(), expected.encode()):
        raise ApiError(
            403,
            "csrf_failed",
            "Phiên biểu mẫu đã hết hạn hoặc không hợp lệ; hãy tải lại trang và thử lại.",
            "The form's security token is missing or wrong; reload the page and retry.",
        )


@router.post("/login", include_in_schema=False)
def login_submit(  # nosec B107  # csrf_token="" is a missing form field, then refused
    request: Request,
    _: Public,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    otp: Annotated[str, Form(max_length=12)] = "",
    next: Annotated[str, Form(max_length=500)] = HOME,
) -> Response:
    # The middleware checks requests that carry cookies; a sign-in form must always carry one.
    _check_form_csrf(request, csrf_token)
    st = state(request)
    now = st.clock()
    ip = client_ip(request)
    outcome = service.login(
        st.factory, st.settings, st.limiter, username, password, otp or None, ip, now,
        then=lambda s, user: service.start_session(s, user, ip, now),
    )  # fmt: skip
    cookie: str | None = outcome.result
    if cookie is None:
        vi, en = _LOGIN_ERRORS.get(outcome.code, (service.GENERIC_VI, service.GENERIC_EN))
        return render(
            request,
            "login.html",
            status=outcome.status,
            next=_safe_next(next),
            error=(vi, en),
            username=username,
        )
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        secure=_secure(request, st),
        samesite="lax",
        path="/",
    )
    resp.delete_cookie(CSRF_COOKIE, path="/")
    return resp


def _sign_out(request: Request, principal: Principal, everywhere: bool) -> dict[str, int]:
    """End the credential the request came with: the bearer token if it carries one (finding
    F14: it used to stay valid), else the session cookie; ``everywhere`` ends all of the
    user's sessions and tokens."""
    st = state(request)
    auth = request.headers.get("authorization", "")
    scheme, _, raw = auth.partition(" ")
    bearer = raw.strip() if scheme.lower() == "bearer" else None
    cookie = None if bearer is not None else cookies(request.scope).get(SESSION_COOKIE)
    with session_scope(st.factory) as s:
        ended = service.end_credentials(s, principal.name, bearer, cookie, everywhere)
        audit.record(
            s, principal, "logout", f"user:{principal.name}", "success", client_ip(request),
            details={"credential": "token" if bearer else "session", "everywhere": everywhere,
                     "revoked": ended},
        )  # fmt: skip
    return {"revoked": ended}


@router.post("/logout", include_in_schema=False)
def logout(
    request: Request, principal: Signed, everywhere: Annotated[bool, Form()] = False
) -> Response:
    _sign_out(request, principal, everywhere)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/")
    return resp


class LogoutResponse(BaseModel):
    revoked: int


@router.post("/api/v1/auth/logout", response_model=LogoutResponse, tags=["auth"])
def api_logout(request: Request, principal: Signed, everywhere: bool = False) -> LogoutResponse:
    """Thu hồi mã đang dùng (hoặc mọi phiên và mã) / revoke the token in use (or every session
    and token of the caller with ``everywhere=true``)."""
    return LogoutResponse(**_sign_out(request, principal, everywhere))


class TokenRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    otp: str | None = Field(None, max_length=12)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105  # the OAuth 2 token type, not a secret
    expires_at: datetime


class Me(BaseModel):
    username: str
    kind: str
    roles: list[str]
    permissions: list[str]
    scope: list[str]


@router.post(
    "/api/v1/auth/token",
    response_model=TokenResponse,
    tags=["auth"],
)
def issue_token(body: TokenRequest, request: Request, _: Public) -> TokenResponse:
    """Đổi tên đăng nhập + mật khẩu (+ mã TOTP) lấy mã truy cập / a user bearer token."""
    st = state(request)
    now = st.clock()
    ip = client_ip(request)

    def then(s: Session, user: Any) -> Any:
        tok = service.issue_token(s, st.settings, user, now)
        audit.record(s, f"user:{user.username}", "token.issue", f"user:{user.username}",
                     "success", ip)  # fmt: skip
        return tok

    outcome = service.login(
        st.factory, st.settings, st.limiter, body.username, body.password, body.otp, ip, now,
        then=then,
    )  # fmt: skip
    tok = outcome.result
    if tok is None:
        vi, en = _LOGIN_ERRORS.get(outcome.code, (service.GENERIC_VI, service.GENERIC_EN))
        status = outcome.status if outcome.status != 200 else 401
        raise ApiError(status, message_vi=vi, message_en=en)
    return TokenResponse(access_token=tok.raw, expires_at=tok.expires_at)


def _me(p: Principal) -> Me:
    scope = (
        (["province"] if p.scope.province else [])
        + [f"commune:{c}" for c in sorted(p.scope.communes)]
        + [f"facility:{f}" for f in sorted(p.scope.facilities)]
    )
    return Me(
        username=p.name,
        kind=p.kind,
        roles=sorted(p.roles),
        permissions=sorted(str(x) for x in p.permissions),
        scope=scope,
    )


@router.get("/account", response_class=HTMLResponse, include_in_schema=False)
def account_page(request: Request, principal: Signed) -> HTMLResponse:
    st = state(request)
    with session_scope(st.factory) as s:
        creds = service.active_credentials(s, principal.name, st.settings, st.clock())
    return render(request, "account.html", me=_me(principal), credentials=creds)


@router.get("/api/v1/auth/me", response_model=Me, tags=["auth"])
def me(principal: Signed) -> Me:
    """Người đang đăng nhập, vai trò và phạm vi / who is signed in, their roles and scope."""
    return _me(principal)


# --- installation ----------------------------------------------------------------------------


def install(app: FastAPI, services: Services, *, pages: bool = True) -> None:
    """Called last by ``create_app``: the store is the services' (migrated once, there).
    ``pages``: false for the intake tier (``create_intake_app``), which serves no sign-in,
    account or admin pages but guards its routes the same way."""
    settings = services.settings
    check_settings(settings)
    app.state.security = SecurityState(
        settings,
        services.sessions,
        settings.secret_key or DEV_SECRET,
        limiter=AddressLimiter(settings.login_ip_max_failures, settings.login_lockout_minutes),
    )
    hooks = services.hooks
    # Ours first: they answer only to our own cookie / token prefix, others get the rest.
    hooks.authenticators[:0] = [token_authenticator, session_authenticator]
    hooks.out_of_scope = _out_of_scope
    hooks.audit = record_event
    # submissions are audited by intake itself, in the transaction that stores them (F16)
    from khoyte.security import admin  # its routes use this module's helpers

    if pages:
        app.include_router(router)
        app.include_router(admin.router)
    # Outermost last: headers on every answer (errors included), the sign-in gate, then CSRF,
    # then the guard.
    app.add_middleware(RouteGuard, fastapi_app=app)
    app.add_middleware(CsrfProtect, secret=app.state.security.secret)
    app.add_middleware(SignInGate, fastapi_app=app)
    app.add_middleware(SecurityHeaders, production=settings.environment == "production")
    refuse_unguarded(app)  # and again at start (``khoyte.web.app.lifespan``)


class UnguardedRoute(RuntimeError):
    pass


def refuse_unguarded(app: FastAPI) -> None:
    missing = unguarded(app)
    if missing:
        raise UnguardedRoute(
            "Tuyến không khai báo quyền requires(...) / routes without requires(...): "
            + "; ".join(missing)
        )
