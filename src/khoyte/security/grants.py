"""Separation of duties for account administration (finding F5 of the 2026-12 security test).

An IT administrator manages accounts but must not be able to reach clinical data, or the audit
trail, on their own. So, from the web (``security.admin``):

- nobody changes their own roles or scopes, or resets their own password;
- a change that *adds* a guarded role (one carrying a permission in ``GUARDED``: clinical
  data, submissions, administration or the audit trail), or widens the scope of an account
  that will hold one, is not applied: it becomes a pending grant, applied only when a
  *different* administrator approves it (not the one who asked, not its target);
- a reset of an account holding a guarded role is pending in the same way (the new password's
  Argon2 hash waits in the request; a new TOTP secret is made at approval and shown to the
  approver only);
- narrowing (removing roles or scopes) applies at once;
- every request, approval and refusal is in the audit trail (``grant.request``,
  ``grant.approve``, ``grant.reject``), next to the change itself (``user.roles_scopes``,
  ``user.create``, ``user.reset``), for auditors to see.

The command line (``khoyte user …``) stays the root of trust: whoever runs it on the server can
write the database anyway; it applies changes directly and can approve pending ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from khoyte.access import Permission, Principal
from khoyte.config import Settings
from khoyte.security import audit, service
from khoyte.security.models import PendingGrant, User
from khoyte.security.roles import ROLES, format_scope

P = Permission
GUARDED = frozenset(
    {
        P.VIEW_RECORDS,
        P.VIEW_SUBMISSIONS,
        P.ADMIN_USERS,
        P.ADMIN_FACILITIES,
        P.VIEW_AUDIT,
        P.LINK_PERSONS,
        P.SUBJECT_REQUESTS,
    }
)
GUARDED_ROLES = frozenset(code for code, r in ROLES.items() if r.permissions & GUARDED)
_GRANTS = cast(Table, PendingGrant.__table__)


@dataclass(frozen=True)
class Change:
    applied: bool  # False: waiting for a second administrator
    grant_id: int | None = None
    totp_uri: str | None = None


def _refuse_self(actor: Principal | str, username: str, what_vi: str, what_en: str) -> None:
    if isinstance(actor, Principal) and actor.kind == "user" and actor.name == username:
        raise service.SecurityError(
            "self_change",
            f"Không thể tự {what_vi} cho chính mình ({username}); hãy nhờ một quản trị viên khác.",
            f"You cannot {what_en} your own account ({username}); ask another administrator.",
        )


def needs_second(
    before_roles: set[str], before_scopes: set[str], roles: list[str], scopes: list[str]
) -> bool:
    guarded = set(roles) & GUARDED_ROLES
    if guarded - before_roles:
        return True
    return bool(guarded) and bool(set(scopes) - before_scopes)


def _normal(roles: list[str], scopes: list[str]) -> tuple[list[str], list[str]]:
    role_list = service._check_roles(roles)
    scope_list = [format_scope(k, c) for k, c in service._check_scopes(scopes)]
    return role_list, scope_list


def _request(
    s: Session,
    actor: Principal | str,
    ip: str,
    now: datetime,
    kind: str,
    username: str,
    roles: list[str],
    scopes: list[str],
    password_hash: str | None = None,
    new_totp: bool = False,
) -> int:
    grant = PendingGrant(
        kind=kind, username=username, roles=json.dumps(roles), scopes=json.dumps(scopes),
        password_hash=password_hash, new_totp=new_totp, requested_by=audit.actor_name(actor),
        requested_at=now, status="pending",
    )  # fmt: skip
    s.add(grant)
    s.flush()
    audit.record(
        s, actor, "grant.request", f"user:{username}", "success", ip,
        details={"grant": grant.id, "kind": kind, "roles": roles, "scopes": scopes,
                 "new_totp": new_totp},
    )  # fmt: skip
    return grant.id


def change_access(
    s: Session,
    user: User,
    roles: list[str],
    scopes: list[str],
    actor: Principal | str,
    ip: str,
    now: datetime,
) -> Change:
    _refuse_self(actor, user.username, "đổi vai trò, phạm vi", "change the roles or scopes of")
    role_list, scope_list = _normal(roles, scopes)
    before_roles, before_scopes = service.user_roles(user), service.user_scope_strings(user)
    if needs_second(set(before_roles), set(before_scopes), role_list, scope_list):
        gid = _request(s, actor, ip, now, "access", user.username, role_list, scope_list)
        return Change(False, gid)
    uri = service.set_roles_and_scopes(s, user, role_list, scope_list, actor, ip)
    return Change(True, None, uri)


def create_user(
    s: Session,
    settings: Settings,
    *,
    username: str,
    password: str,
    roles: list[str],
    scopes: list[str],
    actor: Principal | str,
    ip: str,
    now: datetime,
    full_name: str = "",
) -> Change:
    """A new account from the web: guarded roles wait for a second administrator (the account
    exists meanwhile with the other roles only)."""
    role_list, scope_list = _normal(roles, scopes)
    if not needs_second(set(), set(), role_list, scope_list):
        _, uri = service.create_user(
            s, settings, username=username, password=password, roles=role_list,
            scopes=scope_list, actor=actor, ip=ip, full_name=full_name,
        )  # fmt: skip
        return Change(True, None, uri)
    now_roles = [r for r in role_list if r not in GUARDED_ROLES]
    service.create_user(
        s, settings, username=username, password=password, roles=now_roles,
        scopes=scope_list if now_roles else [], actor=actor, ip=ip, full_name=full_name,
    )  # fmt: skip
    return Change(False, _request(s, actor, ip, now, "access", username, role_list, scope_list))


def reset(
    s: Session,
    settings: Settings,
    user: User,
    password: str,
    new_totp: bool,
    actor: Principal | str,
    ip: str,
    now: datetime,
) -> Change:
    _refuse_self(actor, user.username, "đặt lại mật khẩu", "reset the password of")
    if not service.user_roles(user) & GUARDED_ROLES:
        return Change(True, None, service.reset_password(s, settings, user, password, actor, ip,
                                                          new_totp))  # fmt: skip
    service._check_password(password, user.username, settings)
    gid = _request(
        s, actor, ip, now, "reset", user.username, sorted(service.user_roles(user)),
        service.user_scope_strings(user), service.hash_password(password), new_totp,
    )  # fmt: skip
    return Change(False, gid)


def _decide(s: Session, grant_id: int, status: str, actor: Principal | str, now: datetime) -> None:
    """Pending → ``status``, once (a conditional update: two approvals cannot both apply)."""
    done = s.execute(
        update(_GRANTS)
        .where(_GRANTS.c.id == grant_id, _GRANTS.c.status == "pending")
        .values(status=status, decided_by=audit.actor_name(actor), decided_at=now)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise service.SecurityError(
            "grant_decided",
            f"Yêu cầu #{grant_id} đã được xử lý.",
            f"Request #{grant_id} was already decided.",
        )


def _load(s: Session, grant_id: int) -> PendingGrant:
    grant = s.get(PendingGrant, grant_id)
    if grant is None or grant.status != "pending":
        raise service.SecurityError(
            "no_grant",
            f"Không có yêu cầu #{grant_id} đang chờ duyệt.",
            f"No pending request #{grant_id}.",
        )
    return grant


def approve(
    s: Session,
    settings: Settings,
    grant_id: int,
    actor: Principal | str,
    ip: str,
    now: datetime,
) -> str | None:
    """Apply a pending grant as a second person; the TOTP URI to hand over, if one was made."""
    grant = _load(s, grant_id)
    if audit.actor_name(actor) == grant.requested_by:
        raise service.SecurityError(
            "same_person",
            f"Yêu cầu #{grant_id} do chính bạn tạo; cần một quản trị viên khác duyệt.",
            f"You asked for request #{grant_id}; another administrator must approve it.",
        )
    _refuse_self(actor, grant.username, "duyệt quyền", "approve access for")
    user = service.get_user(s, grant.username)
    if user is None:
        raise service.SecurityError(
            "no_user", f"Không có tài khoản {grant.username}.", f"No user {grant.username}."
        )
    _decide(s, grant_id, "approved", actor, now)
    roles, scopes = json.loads(grant.roles), json.loads(grant.scopes)
    audit.record(
        s, actor, "grant.approve", f"user:{grant.username}", "success", ip,
        details={"grant": grant_id, "kind": grant.kind, "roles": roles, "scopes": scopes,
                 "requested_by": grant.requested_by},
    )  # fmt: skip
    if grant.kind == "reset":
        assert grant.password_hash is not None
        return service.apply_reset(s, user, grant.password_hash, actor, ip, grant.new_totp)
    return service.set_roles_and_scopes(s, user, roles, scopes, actor, ip)


def reject(s: Session, grant_id: int, actor: Principal | str, ip: str, now: datetime) -> None:
    """Refuse (or, by the one who asked, withdraw) a pending grant."""
    grant = _load(s, grant_id)
    _decide(s, grant_id, "rejected", actor, now)
    audit.record(
        s, actor, "grant.reject", f"user:{grant.username}", "success", ip,
        details={"grant": grant_id, "kind": grant.kind, "requested_by": grant.requested_by},
    )  # fmt: skip


def pending(s: Session) -> list[PendingGrant]:
    stmt = select(PendingGrant).where(PendingGrant.status == "pending").order_by(PendingGrant.id)
    return list(s.scalars(stmt))
