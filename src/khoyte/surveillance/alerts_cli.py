"""``khoyte alerts``: run the alert cycle (rules, escalation, digests, reminders, the outbox)
once or in a loop, and set the e-mail address a person receives alerts at."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from khoyte.config import Settings
from khoyte.store.db import session_scope

app = typer.Typer(help="Cảnh báo / alerts: the alert cycle and contacts.", no_args_is_help=True)


@app.command("run")
def run(
    loop: Annotated[
        bool, typer.Option("--loop", help="Chạy lặp lại / repeat every alerts_interval_seconds")
    ] = False,
) -> None:
    """Đánh giá quy tắc, chuyển cấp, gửi thư / evaluate the rules, escalate, deliver."""
    from khoyte.services import build_services
    from khoyte.surveillance.runner import run_once

    settings = Settings()
    services = build_services(settings)
    try:
        while True:
            result = run_once(services)
            typer.echo(json.dumps(result.as_dict(), ensure_ascii=False))
            if not loop:
                break
            time.sleep(max(settings.alerts_interval_seconds, 1.0))
    finally:
        services.close()


@app.command("contact")
def contact(
    username: str,
    email: Annotated[str, typer.Option("--email", help="Địa chỉ thư / e-mail address")],
) -> None:
    """Đặt (hoặc xóa, với --email "") địa chỉ thư nhận cảnh báo, ghi nhật ký / set (or remove,
    with --email "") where a person receives alert e-mails; audited as on the page."""
    from khoyte.errors import TerminalError
    from khoyte.security.audit import cli_actor
    from khoyte.services import build_services
    from khoyte.surveillance.subscriptions import set_contact

    services = build_services(Settings(), warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            set_contact(s, cli_actor(), username, email, "local")
    except TerminalError as err:
        typer.echo(f"Lỗi / error [{err.code}]: {err.message_vi} / {err.message_en}", err=True)
        raise typer.Exit(2) from None
    finally:
        services.close()
    typer.echo(f"{username}: {email or '—'}")
