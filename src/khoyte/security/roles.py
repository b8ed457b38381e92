"""The roles and what each may do. Names are shown in Vietnamese first."""

from __future__ import annotations

from dataclasses import dataclass

from khoyte.access import Permission, Scope

P = Permission


@dataclass(frozen=True)
class RoleDef:
    code: str
    name_vi: str
    name_en: str
    permissions: frozenset[Permission]


ROLES: dict[str, RoleDef] = {
    r.code: r
    for r in (
        RoleDef(
            "province_leader",
            "Lãnh đạo tỉnh",
            "Province leader",
            frozenset(
                {
                    P.VIEW_DASHBOARD,
                    P.ALERTS,
                    P.REQUEST_REPORTS,
                    P.APPROVE_AGGREGATE,
                    P.UNLOCK_AGGREGATE,
                }
            ),
        ),
        RoleDef(
            "commune_leader",
            "Lãnh đạo xã, phường",
            "Commune leader",
            frozenset({P.VIEW_DASHBOARD, P.ALERTS, P.REQUEST_REPORTS, P.APPROVE_AGGREGATE}),
        ),
        RoleDef(
            "doh_specialist",
            "Chuyên viên Sở Y tế",
            "Department of Health specialist",
            frozenset(
                {
                    P.VIEW_DASHBOARD,
                    P.EXPORT,
                    P.DATA_QUALITY,
                    P.VIEW_SUBMISSIONS,
                    P.ALERTS,
                    P.REQUEST_REPORTS,
                    P.ENTER_AGGREGATE,
                    P.LINK_PERSONS,
                    P.SUBJECT_REQUESTS,
                }
            ),
        ),
        RoleDef(
            "facility_staff",
            "Nhân viên cơ sở y tế",
            "Facility staff",
            frozenset({P.VIEW_SUBMISSIONS, P.VIEW_RECORDS, P.ANSWER_REPORTS}),
        ),
        RoleDef(
            "it_admin",
            "Quản trị hệ thống",
            "IT administrator",
            frozenset({P.ADMIN_USERS, P.ADMIN_FACILITIES}),
        ),
        RoleDef("auditor", "Kiểm toán viên", "Auditor", frozenset({P.VIEW_AUDIT})),
    )
}

# Roles whose members must sign in with a second factor.
TOTP_REQUIRED = frozenset({"it_admin"})


def permissions_of(roles: set[str] | frozenset[str]) -> frozenset[Permission]:
    perms: set[Permission] = {P.AUTHENTICATED}
    for code in roles:
        role = ROLES.get(code)
        if role is not None:
            perms |= role.permissions
    return frozenset(perms)


def parse_scope(text: str) -> tuple[str, str]:
    """``province`` | ``commune:CODE`` | ``facility:CODE`` → (kind, code); ValueError if not."""
    text = text.strip()
    if text == "province":
        return "province", ""
    kind, sep, code = text.partition(":")
    code = code.strip()
    if sep and kind in ("commune", "facility") and code and code.isalnum() and len(code) <= 32:
        return kind, code
    raise ValueError(
        f"phạm vi không hợp lệ / invalid scope {text!r}: province | commune:CODE | facility:CODE"
    )


def format_scope(kind: str, code: str) -> str:
    return "province" if kind == "province" else f"{kind}:{code}"


def build_scope(pairs: list[tuple[str, str]]) -> Scope:
    return Scope(
        province=any(k == "province" for k, _ in pairs),
        communes=frozenset(c for k, c in pairs if k == "commune"),
        facilities=frozenset(c for k, c in pairs if k == "facility"),
    )
