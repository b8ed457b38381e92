"""Who is asking and what they may see: the one place every route goes through.

Every route declares what it needs with ``Depends(requires(Permission.X))``; the dependency
authenticates the request (the authenticators components register: facility API credentials,
user sessions, user bearer tokens), checks the permission and hands the route a
:class:`Principal` whose :class:`Scope` every query must be filtered by. A route that declares
nothing is refused (``khoyte.security`` checks the route table at start and in a test).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn

from fastapi import Request
from sqlalchemy import ColumnElement, false, or_, true
from starlette.concurrency import run_in_threadpool

from khoyte.errors import ApiError

log = logging.getLogger(__name__)


class Permission(StrEnum):
    PUBLIC = "public"  # health checks, login page, static assets, OpenAPI
    SUBMIT = "submit"  # send claim files / check-ins (facility credentials)
    VIEW_SUBMISSIONS = "view_submissions"  # receipts, rejects, submission history (in scope)
    VIEW_RECORDS = "view_records"  # person-identifiable record content (audited)
    VIEW_DASHBOARD = "view_dashboard"  # aggregates (dashboards and their JSON twins)
    EXPORT = "export"  # XLSX/CSV/PNG exports of aggregates
    DATA_QUALITY = "data_quality"  # completeness, timeliness, rejects by facility
    ADMIN_USERS = "admin_users"
    ADMIN_FACILITIES = "admin_facilities"  # facilities, credentials, settings
    VIEW_AUDIT = "view_audit"
    AUTHENTICATED = "authenticated"  # any signed-in user (own profile, logout)


@dataclass(frozen=True)
class Scope:
    """Org units a principal may see. Empty = nothing (deny by default)."""

    province: bool = False
    communes: frozenset[str] = frozenset()
    facilities: frozenset[str] = frozenset()

    @classmethod
    def whole_province(cls) -> Scope:
        return cls(province=True)

    @property
    def is_empty(self) -> bool:
        return not (self.province or self.communes or self.facilities)

    def allows(self, facility: str | None, commune: str | None = None) -> bool:
        if self.province:
            return True
        if facility is not None and facility in self.facilities:
            return True
        return commune is not None and commune in self.communes


@dataclass(frozen=True)
class Principal:
    kind: str  # "anonymous" | "facility" | "user"
    name: str = ""
    roles: frozenset[str] = frozenset()
    permissions: frozenset[Permission] = frozenset()
    scope: Scope = field(default_factory=Scope)
    facility: str | None = None  # for facility credentials: the MA_CSKCB it may submit for
    credential_id: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"


ANONYMOUS = Principal(kind="anonymous", permissions=frozenset({Permission.PUBLIC}))

Authenticator = Callable[[Request], Principal | None]


def authenticators(request: Request) -> list[Authenticator]:
    found: list[Authenticator] = getattr(request.app.state, "authenticators", [])
    return found


def authenticate(request: Request) -> Principal:
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    principal = ANONYMOUS
    for auth in authenticators(request):
        found = auth(request)
        if found is not None:
            principal = found
            break
    request.state.principal = principal
    return principal


# The caller of the request being served, for the ORM's automatic scope filter
# (``khoyte.security.scoping``): set by ``requires`` before the route runs.
current_principal: ContextVar[Principal | None] = ContextVar("khoyte_principal", default=None)


def requires(permission: Permission) -> Callable[..., Any]:
    """A FastAPI dependency: the caller, if they hold ``permission``; else 401/403.

    It is a coroutine (authenticators run in the thread pool) so that the principal it sets in
    ``current_principal`` is seen by the route and everything it calls."""

    async def dependency(request: Request) -> Principal:
        principal = await run_in_threadpool(authenticate, request)
        current_principal.set(principal)
        if permission is Permission.PUBLIC:
            return principal
        if principal.is_anonymous:
            raise ApiError(401, headers={"WWW-Authenticate": "Bearer"})
        if permission in principal.permissions:
            return principal
        # "signed in" means a person: a facility's API credential can only do what it holds
        if permission is Permission.AUTHENTICATED and principal.kind == "user":
            return principal
        raise ApiError(403)

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


# The ASGI scope of the request being served (set by the security middleware), so helpers can
# find the app and the caller's address without every route passing the request down.
current_asgi_scope: ContextVar[dict[str, Any] | None] = ContextVar(
    "khoyte_asgi_scope", default=None
)

OutOfScopeHook = Callable[[Request, Principal, str], None]


def deny_out_of_scope(principal: Principal, what: str, request: Request | None = None) -> NoReturn:
    """Answer 404 (never reveal that ``what`` exists) and audit the attempt.

    ``what`` names the object asked for (``facility:01001``, ``submission:42``…)."""
    if request is None:
        asgi = current_asgi_scope.get()
        request = Request(asgi) if asgi is not None else None
    if request is not None:
        hook: OutOfScopeHook | None = getattr(request.app.state, "out_of_scope_hook", None)
        if hook is not None:
            hook(request, principal, what)
    raise ApiError(404)


def require_in_scope(
    principal: Principal,
    what: str,
    facility: str | None = None,
    commune: str | None = None,
    request: Request | None = None,
) -> None:
    """Go on only if the object (of ``facility`` / in ``commune``) is in the caller's scope."""
    if not principal.scope.allows(facility, commune):
        deny_out_of_scope(principal, what, request)


def scope_filter(
    scope: Scope, facility_col: Any, commune_col: Any | None = None
) -> ColumnElement[bool]:
    """A SQL condition keeping only rows in ``scope`` (empty scope: no row at all)."""
    if scope.province:
        return true()
    conds: list[ColumnElement[bool]] = []
    if scope.facilities:
        conds.append(facility_col.in_(sorted(scope.facilities)))
    if scope.communes and commune_col is not None:
        conds.append(commune_col.in_(sorted(scope.communes)))
    return or_(*conds) if conds else false()


AuditHook = Callable[
    [Request, "Principal | str", str, str, str, "str | None", "dict[str, Any] | None"], None
]
SubmissionHook = Callable[[Request, Principal, dict[str, Any]], None]


def audit_event(
    request: Request,
    actor: Principal | str,
    action: str,
    target: str,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> None:
    """Write an audit entry through the installed audit trail (``khoyte.security``); a no-op
    in an installation without it. Blocking: call it from the thread pool in async routes."""
    hook: AuditHook | None = getattr(request.app.state, "audit_hook", None)
    if hook is not None:
        hook(request, actor, action, target, outcome, None, details)


def after_submission(request: Request, principal: Principal, receipt: dict[str, Any]) -> None:
    """Tell the other components a submission was receipted (the warehouse refreshes, the
    audit trail records it). Hooks live in ``app.state.after_submission``."""
    hooks: list[SubmissionHook] = getattr(request.app.state, "after_submission", [])
    for hook in hooks:
        try:
            hook(request, principal, receipt)
        except Exception:  # the submission is stored and receipted: a hook never undoes that
            log.exception("after-submission hook %r failed", hook)
