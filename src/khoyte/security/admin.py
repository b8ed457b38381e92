"""The security component's administration and audit pages and APIs: users, roles and scopes
for IT administrators; the audit trail (search, verification) for auditors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.access import Permission, Principal, requires
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.security import audit, grants, service
from khoyte.security import scoping as _scoping  # noqa: F401  (registers the ORM scope filter)
from khoyte.security.models import User
from khoyte.security.web import (
    client_ip,
    render,
    state,
)
from khoyte.store.db import session_scope

router = APIRouter(responses=ERROR_RESPONSES)
Admin = Annotated[Principal, Depends(requires(Permission.ADMIN_USERS))]
Auditor = Annotated[Principal, Depends(requires(Permission.VIEW_AUDIT))]


# --- admin: users, roles, scopes --------------------------------------------------------------


class UserOut(BaseModel):
    username: str
    full_name: str
    active: bool
    roles: list[str]
    scopes: list[str]
    totp: bool
    locked: bool


def _user_out(u: User, now: datetime) -> UserOut:
    locked = service.aware(u.locked_until)
    return UserOut(
        username=u.username,
        full_name=u.full_name,
        active=u.active,
        roles=sorted(service.user_roles(u)),
        scopes=service.user_scope_strings(u),
        totp=u.totp_secret is not None,
        locked=locked is not None and locked > now,
    )


def _users(request: Request) -> list[UserOut]:
    st = state(request)
    now = st.clock()
    with session_scope(st.factory) as s:
        return [_user_out(u, now) for u in s.scalars(select(User).order_by(User.username))]


class GrantOut(BaseModel):
    id: int
    kind: str
    username: str
    roles: list[str]
    scopes: list[str]
    new_totp: bool
    requested_by: str
    requested_at: datetime


def _grants(request: Request) -> list[GrantOut]:
    with session_scope(state(request).factory) as s:
        return [
            GrantOut(
                id=g.id,
                kind=g.kind,
                username=g.username,
                roles=json.loads(g.roles),
                scopes=json.loads(g.scopes),
                new_totp=g.new_totp,
                requested_by=g.requested_by,
                requested_at=g.requested_at,
            )
            for g in grants.pending(s)
        ]


@router.get("/api/v1/admin/users", response_model=list[UserOut], tags=["admin"])
def users_api(request: Request, _: Admin) -> list[UserOut]:
    """Tài khoản, vai trò, phạm vi / accounts with their roles and scopes (no clinical data)."""
    return _users(request)


@router.get("/api/v1/admin/grants", response_model=list[GrantOut], tags=["admin"])
def grants_api(request: Request, _: Admin) -> list[GrantOut]:
    """Yêu cầu cấp quyền chờ người thứ hai duyệt / access changes awaiting a second
    administrator."""
    return _grants(request)


@router.get("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, _: Admin) -> HTMLResponse:
    return _page(request, 200, None)


def _page(request: Request, status: int, message: tuple[str, str, str] | None) -> HTMLResponse:
    return render(
        request, "admin_users.html", status=status, users=_users(request),
        grants=_grants(request), message=message,
    )  # fmt: skip


def _admin_action(
    request: Request,
    fn: Callable[[Session], grants.Change | str | None],
    done: tuple[str, str],
) -> HTMLResponse:
    st = state(request)
    try:
        with session_scope(st.factory) as s:
            result = fn(s)
    except service.SecurityError as err:
        return _page(request, 400, ("error", err.vi, err.en))
    vi, en = done
    extra = result.totp_uri if isinstance(result, grants.Change) else result
    if isinstance(result, grants.Change) and not result.applied:
        vi += (
            f" Quyền truy cập nhạy cảm chờ một quản trị viên khác duyệt (yêu cầu "
            f"#{result.grant_id})."
        )
        en += f" Sensitive access awaits another administrator's approval (request #{result.grant_id})."
    if extra:
        vi, en = f"{vi} TOTP: {extra}", f"{en} TOTP: {extra}"
    return _page(request, 200, ("ok", vi, en))


def _lines(text: str) -> list[str]:
    return [x.strip() for x in text.replace(",", "\n").splitlines() if x.strip()]


@router.post("/admin/users", response_class=HTMLResponse, include_in_schema=False)
def users_create(
    request: Request,
    principal: Admin,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    scopes: Annotated[str, Form(max_length=2000)],
    roles: Annotated[list[str] | None, Form()] = None,
    full_name: Annotated[str, Form(max_length=200)] = "",
) -> HTMLResponse:
    st = state(request)

    def act(s: Session) -> grants.Change:
        return grants.create_user(
            s, st.settings, username=username, password=password, roles=roles or [],
            scopes=_lines(scopes), actor=principal, ip=client_ip(request), now=st.clock(),
            full_name=full_name,
        )  # fmt: skip

    return _admin_action(request, act, (f"Đã tạo {username}.", f"Created {username}."))


def _target(s: Session, username: str) -> User:
    user = service.get_user(s, username)
    if user is None:
        raise service.SecurityError(
            "no_user", f"Không có tài khoản {username}.", f"No such user: {username}."
        )
    return user


@router.post("/admin/users/{username}/access", response_class=HTMLResponse, include_in_schema=False)
def users_access(
    request: Request,
    principal: Admin,
    username: str,
    scopes: Annotated[str, Form(max_length=2000)],
    roles: Annotated[list[str] | None, Form()] = None,
) -> HTMLResponse:
    st = state(request)

    def act(s: Session) -> grants.Change:
        return grants.change_access(
            s, _target(s, username), roles or [], _lines(scopes), principal, client_ip(request),
            st.clock(),
        )  # fmt: skip

    return _admin_action(request, act, (f"Đã cập nhật {username}.", f"Updated {username}."))


@router.post("/admin/users/{username}/active", response_class=HTMLResponse, include_in_schema=False)
def users_active(
    request: Request,
    principal: Admin,
    username: str,
    active: Annotated[bool, Form()],
) -> HTMLResponse:
    if username == principal.name and not active:
        raise ApiError(
            400, message_vi="Không thể tự khoá mình.", message_en="You cannot disable yourself."
        )

    def act(s: Session) -> str | None:
        service.set_active(s, _target(s, username), active, principal, client_ip(request))
        return None

    word = ("Đã mở", "Enabled") if active else ("Đã khoá", "Disabled")
    return _admin_action(request, act, (f"{word[0]} {username}.", f"{word[1]} {username}."))


@router.post("/admin/users/{username}/reset", response_class=HTMLResponse, include_in_schema=False)
def users_reset(
    request: Request,
    principal: Admin,
    username: str,
    password: Annotated[str, Form(max_length=256)],
    new_totp: Annotated[bool, Form()] = False,
) -> HTMLResponse:
    st = state(request)

    def act(s: Session) -> grants.Change:
        return grants.reset(
            s, st.settings, _target(s, username), password, new_totp, principal,
            client_ip(request), st.clock(),
        )  # fmt: skip

    return _admin_action(request, act, (f"Đã đặt lại {username}.", f"Reset {username}."))


@router.post(
    "/admin/grants/{grant_id}/approve", response_class=HTMLResponse, include_in_schema=False
)
def grants_approve(request: Request, principal: Admin, grant_id: int) -> HTMLResponse:
    st = state(request)

    def act(s: Session) -> str | None:
        return grants.approve(s, st.settings, grant_id, principal, client_ip(request), st.clock())

    return _admin_action(
        request, act, (f"Đã duyệt yêu cầu #{grant_id}.", f"Approved request #{grant_id}.")
    )


@router.post(
    "/admin/grants/{grant_id}/reject", response_class=HTMLResponse, include_in_schema=False
)
def grants_reject(request: Request, principal: Admin, grant_id: int) -> HTMLResponse:
    st = state(request)

    def act(s: Session) -> str | None:
        grants.reject(s, grant_id, principal, client_ip(request), st.clock())
        return None

    return _admin_action(
        request, act, (f"Đã từ chối yêu cầu #{grant_id}.", f"Rejected request #{grant_id}.")
    )


# --- audit trail for auditors ----------------------------------------------------------------


class AuditOut(BaseModel):
    seq: int
    at: str
    actor: str
    action: str
    target: str
    outcome: str
    ip: str
    reason: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    total: int
    limit: int
    offset: int
    entries: list[AuditOut]


class VerifyOut(BaseModel):
    ok: bool
    entries: int
    broken_seq: int | None
    message_vi: str
    message_en: str
    head: dict[str, Any]


def _filters(
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(max_length=32)] = None,
    target: Annotated[str | None, Query(max_length=500)] = None,
    since: Annotated[
        str | None, Query(max_length=40, pattern=r"^\d{4}-\d{2}-\d{2}[0-9T:.+\-]*$")
    ] = None,
    until: Annotated[
        str | None, Query(max_length=40, pattern=r"^\d{4}-\d{2}-\d{2}[0-9T:.+\-]*$")
    ] = None,
) -> audit.AuditFilter:
    return audit.AuditFilter(
        actor or None, action or None, outcome or None, target or None, since or None, until or None
    )


Filters = Annotated[audit.AuditFilter, Depends(_filters)]


def _search(
    request: Request, who: Principal, f: audit.AuditFilter, limit: int, offset: int
) -> AuditPage:
    with session_scope(state(request).factory) as s:
        rows, total = audit.search(s, f, limit, offset)
        entries = [AuditOut(**audit.as_dict(r)) for r in rows]
        # reading the trail is itself on the trail (after the search: not in its own answer)
        audit.record(s, who, "audit.view", "audit", "success", client_ip(request),
                     details={k: v for k, v in asdict(f).items() if v})  # fmt: skip
    return AuditPage(total=total, limit=limit, offset=offset, entries=entries)


@router.get("/api/v1/audit", response_model=AuditPage, tags=["audit"])
def audit_api(
    request: Request,
    who: Auditor,
    f: Filters,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> AuditPage:
    """Nhật ký kiểm toán, mới nhất trước, có bộ lọc / the audit trail, newest first, filtered."""
    return _search(request, who, f, limit, offset)


@router.get("/api/v1/audit/verify", response_model=VerifyOut, tags=["audit"])
def audit_verify_api(request: Request, _: Auditor) -> VerifyOut:
    """Kiểm tra toàn bộ chuỗi / verify the whole hash chain."""
    # one snapshot: entries committed by other requests meanwhile must not look like deletions
    with audit.snapshot(request.app.state.services.engine) as s:
        v = audit.verify(s)
        head = audit.head(s)
    return VerifyOut(
        ok=v.ok, entries=v.entries, broken_seq=v.broken_seq,
        message_vi=v.problem_vi or "toàn vẹn", message_en=v.problem_en or "intact", head=head,
    )  # fmt: skip


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(
    request: Request,
    who: Auditor,
    f: Filters,
    page: Annotated[int, Query(ge=1, le=10**6)] = 1,
) -> HTMLResponse:
    limit = 50
    result = _search(request, who, f, limit, (page - 1) * limit)
    qs = urlencode({k: v for k, v in asdict(f).items() if v})
    return render(request, "audit.html", result=result, f=f, page=page, limit=limit, qs=qs)
