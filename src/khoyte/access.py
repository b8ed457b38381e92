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
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
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
    ENTER_AGGREGATE = "enter_aggregate"  # import / enter aggregate report values (in scope)
    APPROVE_AGGREGATE = "approve_aggregate"  # approve (and so lock) aggregate reports in scope
    UNLOCK_AGGREGATE = "unlock_aggregate"  # unlock approved aggregate reports (audited)
    ADMIN_USERS = "admin_users"
    ADMIN_FACILITIES = "admin_facilities"  # facilities, credentials, settings
    VIEW_AUDIT = "view_audit"
    ALERTS = "alerts"  # receive, see, acknowledge and close alerts (in scope)
    REQUEST_REPORTS = "request_reports"  # ask units for a report, see who is late
    ANSWER_REPORTS = "answer_reports"  # see and answer report requests sent to one's units
    LINK_PERSONS = "link_persons"  # the person index's review queue: identities side by side
    SUBJECT_REQUESTS = "subject_requests"  # data subjects' requests (Decree 13/2023): register
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
OutOfScopeHook = Callable[[Request, Principal, str], None]
AuditHook = Callable[
    [Request, "Principal | str", str, str, str, "str | None", "dict[str, Any] | None"], None
]
SubmissionHook = Callable[[Request, Principal, dict[str, Any]], None]


@dataclass
class Hooks:
    """The extension points of the application, declared once (datasette's ``hookspecs``).

    The composition root (``khoyte.web.app.create_app``) fills them; the kernel below calls them.
    ``tests/test_architecture.py`` checks every field is documented here.
    """

    authenticators: list[Authenticator] = field(default_factory=list)
    """Who is asking: tried in order, the first that recognises the request names the caller
    (``None``: "not mine"). Facility API credentials, user sessions, user bearer tokens, the
    demo's open dashboard."""
    after_submission: list[SubmissionHook] = field(default_factory=list)
    """Called once a submission is receipted (stored and answered): the warehouse wakes up,
    the audit trail records it. A failing hook is logged and never undoes the submission."""
    audit: AuditHook | None = None
    """Writes one audit entry ``(request, actor, action, target, outcome, reason, details)``
    (``khoyte.security``); ``None``: an installation without an audit trail."""
    out_of_scope: OutOfScopeHook | None = None
    """Called when a caller asks for an existing object outside their scope (the answer stays
    404); the audit trail records the attempt."""


HOOK_NAMES = ("authenticators", "after_submission", "audit", "out_of_scope")


def hooks_of(request: Request) -> Hooks:
    """The application's hooks (``app.state.hooks``, set by ``create_app``)."""
    found = getattr(request.app.state, "hooks", None)
    return found if isinstance(found, Hooks) else _NO_HOOKS


_NO_HOOKS = Hooks()


def authenticators(request: Request) -> list[Authenticator]:
    return hooks_of(request).authenticators


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


# Declares the bearer scheme in OpenAPI (/docs gets an "Authorize" button). It authenticates
# nothing itself (``auto_error=False``): the authenticators in ``Hooks`` decide, as before.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="Mã truy cập của cơ sở (khy_…) hoặc của người dùng (khu_…) / a facility API "
    "credential or a user token (POST /api/v1/auth/token).",
)


def requires(permission: Permission) -> Callable[..., Any]:
    """A FastAPI dependency: the caller, if they hold ``permission``; else 401/403.

    It is a coroutine (authenticators run in the thread pool) so that the principal it sets in
    ``current_principal`` is seen by the route and everything it calls."""

    async def check(request: Request) -> Principal:
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

    if permission is Permission.PUBLIC:
        dependency = check
    else:

        async def dependency(  # type: ignore[misc]
            request: Request,
            _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        ) -> Principal:
            return await check(request)

    dependency.permission = permission  # type: ignore[attr-defined]
    return dependency


# The ASGI scope of the request being served (set by the security middleware), so helpers can
# find the app and the caller's address without every route passing the request down.
current_asgi_scope: ContextVar[dict[str, Any] | None] = ContextVar(
    "khoyte_asgi_scope", default=None
)


def deny_out_of_scope(principal: Principal, what: str, request: Request | None = None) -> NoReturn:
    """Answer 404 (never reveal that ``what`` exists) and audit the attempt.

    ``what`` names the object asked for (``facility:01001``, ``submission:42``…)."""
    if request is None:
        asgi = current_asgi_scope.get()
        request = Request(asgi) if asgi is not None else None
    if request is not None:
        hook = hooks_of(request).out_of_scope
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
    hook = hooks_of(request).audit
    if hook is not None:
        hook(request, actor, action, target, outcome, None, details)


def after_submission(request: Request, principal: Principal, receipt: dict[str, Any]) -> None:
    """Tell the other components a submission was receipted (the warehouse refreshes, the
    audit trail records it): :attr:`Hooks.after_submission`."""
    for hook in hooks_of(request).after_submission:
        try:
            hook(request, principal, receipt)
        except Exception:  # the submission is stored and receipted: a hook never undoes that
            log.exception("after-submission hook %r failed", hook)
