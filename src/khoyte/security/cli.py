"""``khoyte user …`` and ``khoyte audit …``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from khoyte.config import Settings

# The database, Argon2 and the audit modules are imported by the commands that use them:
# every `khoyte` command (validate too) loads this module to register its sub-commands.
if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from khoyte.security import service
    from khoyte.security.models import User
    from khoyte.services import Services

ROLE_CODES = "province_leader, commune_leader, doh_specialist, facility_staff, it_admin, auditor"

user_app = typer.Typer(help="Tài khoản người dùng / user accounts.", no_args_is_help=True)
audit_app = typer.Typer(help="Nhật ký kiểm toán / the audit trail.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(audit_app, name="audit")


@contextmanager
def _services(settings: Settings | None = None) -> Iterator[Services]:
    """The composition root's services (``khoyte.services``), built as every command group
    builds them: one engine, migrated once; without the warehouse, so these commands run beside
    a server that holds the DuckDB file. Released when the command ends."""
    from khoyte.services import build_services

    services = build_services(settings or Settings(), warehouse=False)
    try:
        yield services
    finally:
        services.close()


def _actor() -> str:
    from khoyte.security.audit import cli_actor

    return cli_actor()


def _fail(err: service.SecurityError) -> typer.Exit:
    typer.echo(f"Lỗi / error [{err.code}]: {err.vi} / {err.en}", err=True)
    return typer.Exit(2)


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    return str(typer.prompt("Mật khẩu / password", hide_input=True, confirmation_prompt=True))


RoleOpt = Annotated[
    list[str],
    typer.Option("--role", help=f"Vai trò / role (repeatable): {ROLE_CODES}"),
]
ScopeOpt = Annotated[
    list[str],
    typer.Option(
        "--scope", help="Phạm vi / scope (repeatable): province | commune:CODE | facility:CODE"
    ),
]
StdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Đọc mật khẩu từ stdin / read it from stdin.")
]


@user_app.command("add")
def user_add(
    username: str,
    role: RoleOpt,
    scope: ScopeOpt,
    password_stdin: StdinOpt = False,
    full_name: Annotated[str, typer.Option("--full-name")] = "",
) -> None:
    """Tạo tài khoản / create an account (the password is read from stdin or prompted)."""
    from khoyte.security import service
    from khoyte.store.db import session_scope

    settings = Settings()
    password = _read_password(password_stdin)
    try:
        with _services(settings) as sv, session_scope(sv.sessions) as s:
            _, uri = service.create_user(
                s,
                settings,
                username=username,
                password=password,
                roles=role,
                scopes=scope,
                actor=_actor(),
                ip="local",
                full_name=full_name,
            )
    except service.SecurityError as err:
        raise _fail(err) from None
    typer.echo(f"Đã tạo tài khoản / created: {username}")
    if uri:
        typer.echo(
            "Mã TOTP bắt buộc cho vai trò này; thêm vào ứng dụng xác thực / "
            f"TOTP is required for this role; add to an authenticator app:\n{uri}"
        )


def _load(s: Session, username: str) -> User:
    from khoyte.security import service

    user = service.get_user(s, username)
    if user is None:
        typer.echo(f"Không có tài khoản / no such user: {username}", err=True)
        raise typer.Exit(2)
    return user


@user_app.command("disable")
def user_disable(username: str) -> None:
    """Khoá tài khoản (đăng xuất mọi phiên) / disable an account (signs it out everywhere)."""
    from khoyte.security import service
    from khoyte.store.db import session_scope

    with _services() as sv, session_scope(sv.sessions) as s:
        service.set_active(s, _load(s, username), False, _actor(), "local")
    typer.echo(f"Đã khoá / disabled: {username}")


@user_app.command("enable")
def user_enable(username: str) -> None:
    """Mở lại tài khoản / enable an account again."""
    from khoyte.security import service
    from khoyte.store.db import session_scope

    with _services() as sv, session_scope(sv.sessions) as s:
        service.set_active(s, _load(s, username), True, _actor(), "local")
    typer.echo(f"Đã mở / enabled: {username}")


@user_app.command("reset")
def user_reset(
    username: str,
    password_stdin: StdinOpt = False,
    new_totp: Annotated[
        bool, typer.Option("--new-totp", help="Cấp lại mã TOTP / issue a new TOTP secret.")
    ] = False,
) -> None:
    """Đặt lại mật khẩu, mở khoá, đăng xuất mọi phiên / new password, unlock, sign out."""
    from khoyte.security import service
    from khoyte.store.db import session_scope

    settings = Settings()
    password = _read_password(password_stdin)
    try:
        with _services(settings) as sv, session_scope(sv.sessions) as s:
            uri = service.reset_password(
                s, settings, _load(s, username), password, _actor(), "local", new_totp
            )
    except service.SecurityError as err:
        raise _fail(err) from None
    typer.echo(f"Đã đặt lại / reset: {username}")
    if uri:
        typer.echo(f"TOTP: {uri}")


@user_app.command("list")
def user_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines.")] = False,
) -> None:
    """Liệt kê tài khoản / list accounts with roles and scopes."""
    from sqlalchemy import select

    from khoyte.security import service
    from khoyte.security.models import User
    from khoyte.store.db import session_scope

    with _services() as sv, session_scope(sv.sessions) as s:
        for u in s.scalars(select(User).order_by(User.username)):
            roles, scopes = sorted(service.user_roles(u)), service.user_scope_strings(u)
            row = {
                "username": u.username,
                "active": u.active,
                "roles": roles,
                "scopes": scopes,
                "totp": u.totp_secret is not None,
            }
            if as_json:
                sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
            else:
                state = "hoạt động/active" if u.active else "đã khoá/disabled"
                typer.echo(f"{u.username}\t{state}\t{','.join(roles)}\t{','.join(scopes)}")


@user_app.command("grants")
def user_grants() -> None:
    """Yêu cầu cấp quyền chờ duyệt / access changes awaiting a second administrator."""
    from khoyte.security import grants
    from khoyte.store.db import session_scope

    with _services() as sv, session_scope(sv.sessions) as s:
        for g in grants.pending(s):
            typer.echo(
                f"#{g.id}\t{g.kind}\t{g.username}\t{','.join(json.loads(g.roles))}\t"
                f"{','.join(json.loads(g.scopes))}\t{g.requested_by}"
            )


@user_app.command("approve")
def user_approve(grant_id: int) -> None:
    """Duyệt một yêu cầu (người thứ hai) / approve a pending request as the second person."""
    from khoyte.security import grants, service
    from khoyte.store.db import session_scope

    try:
        with _services() as sv, session_scope(sv.sessions) as s:
            uri = grants.approve(s, sv.settings, grant_id, _actor(), "local", service.utcnow())
    except service.SecurityError as err:
        raise _fail(err) from None
    typer.echo(f"Đã duyệt / approved: #{grant_id}")
    if uri:
        typer.echo(f"TOTP: {uri}")


@user_app.command("reject")
def user_reject(grant_id: int) -> None:
    """Từ chối một yêu cầu / reject a pending request."""
    from khoyte.security import grants, service
    from khoyte.store.db import session_scope

    try:
        with _services() as sv, session_scope(sv.sessions) as s:
            grants.reject(s, grant_id, _actor(), "local", service.utcnow())
    except service.SecurityError as err:
        raise _fail(err) from None
    typer.echo(f"Đã từ chối / rejected: #{grant_id}")


@audit_app.command("verify")
def audit_verify(
    head_file: Annotated[
        Path | None,
        typer.Option("--head", help="Đầu chuỗi đã xuất / an exported head to check against."),
    ] = None,
) -> None:
    """Kiểm tra chuỗi nhật ký và mục nhật ký của mọi lần gửi / verify the hash chain and that
    every submission has its audit entry. Exit 0 intact, 1 broken or incomplete."""
    from khoyte.gateway.intake import submissions_without_audit
    from khoyte.security import audit

    settings = Settings()
    anchor = None
    if head_file is not None:
        anchor = json.loads(head_file.read_text(encoding="utf-8"))
        key = settings.audit_signing_key
        if key:
            # With a key configured (always, in production) only a head signed with it counts:
            # anyone who can rewrite the trail can also write an unsigned head (finding F15).
            if "signature" not in anchor:
                typer.echo(
                    f"Đầu chuỗi {head_file} không có chữ ký, mà KHOYTE_AUDIT_SIGNING_KEY đã được "
                    "đặt: không dùng được làm mốc; hãy dùng đầu chuỗi xuất bằng "
                    f"`khoyte audit export-head --sign` / the head {head_file} is not signed "
                    "although KHOYTE_AUDIT_SIGNING_KEY is set, so it proves nothing; use a head "
                    "exported with `khoyte audit export-head --sign`",
                    err=True,
                )
                raise typer.Exit(1)
            if not audit.check_signature(anchor, key):
                typer.echo(
                    f"Chữ ký của đầu chuỗi {head_file} không đúng với KHOYTE_AUDIT_SIGNING_KEY / "
                    f"the signature of the head {head_file} does not verify with "
                    "KHOYTE_AUDIT_SIGNING_KEY",
                    err=True,
                )
                raise typer.Exit(1)
        else:
            typer.echo(
                "Cảnh báo: chưa đặt KHOYTE_AUDIT_SIGNING_KEY nên không kiểm tra chữ ký; đầu chuỗi "
                "chỉ chứng minh được nếu nó được giữ ở nơi người sửa cơ sở dữ liệu không với tới "
                "/ warning: KHOYTE_AUDIT_SIGNING_KEY is not set, so no signature is checked; the "
                "head proves something only if it was kept where whoever can write the database "
                "cannot reach",
                err=True,
            )
    with _services(settings) as sv, audit.snapshot(sv.engine) as s:
        # the chain, its head and the completeness check all read the same snapshot: an entry
        # committed meanwhile by a running server is simply not seen, never half-seen
        verdict = audit.verify(s, anchor)
        unaudited = submissions_without_audit(s.connection())
    typer.echo(verdict.message(), err=not verdict.ok)
    if unaudited:
        typer.echo(_unaudited_message(unaudited), err=True)
    else:
        typer.echo(
            "Mọi lần gửi đều có mục nhật ký tiếp nhận / every submission has its "
            "submission.receive audit entry"
        )
    raise typer.Exit(0 if verdict.ok and not unaudited else 1)


def _unaudited_message(ids: list[str], shown: int = 50) -> str:
    more = f" … (+{len(ids) - shown})" if len(ids) > shown else ""
    listed = ", ".join(ids[:shown]) + more
    return (
        f"{len(ids)} lần gửi không có mục nhật ký tiếp nhận (submission.receive): {listed}. "
        "Chúng được lưu mà không có mục nhật ký (một phiên bản cũ dừng giữa hai lần ghi, hoặc "
        "khôi phục từ bản sao lưu thiếu); hãy đối chiếu với bản sao lưu và kho lưu trữ tệp "
        "trước khi dựa vào nhật ký / "
        f"{len(ids)} submissions have no submission.receive audit entry: {listed}. They were "
        "stored without their entry (an older version stopped between two commits, or a "
        "restore from an incomplete backup); check them against the backups and the file "
        "archive before relying on the trail"
    )


@audit_app.command("export-head")
def audit_export_head(
    sign: Annotated[
        bool,
        typer.Option(
            "--sign", help="Ký HMAC-SHA256 bằng audit_signing_key / sign with HMAC-SHA256."
        ),
    ] = False,
) -> None:
    """In đầu chuỗi (số thứ tự, hash) dạng JSON / print the chain head as JSON."""
    from khoyte.security import audit
    from khoyte.store.db import session_scope

    settings = Settings()
    with _services(settings) as sv, session_scope(sv.sessions) as s:
        payload = audit.head(s)
    if sign:
        if not settings.audit_signing_key:
            typer.echo(
                "Chưa đặt KHOYTE_AUDIT_SIGNING_KEY / set KHOYTE_AUDIT_SIGNING_KEY to sign",
                err=True,
            )
            raise typer.Exit(2)
        payload["algorithm"] = "HMAC-SHA256"
        payload["signature"] = audit.sign(payload, settings.audit_signing_key)
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
