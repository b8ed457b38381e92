"""``khoyte facility token|revoke|list``, ``serve``, ``ingest``, ``watch``, ``db upgrade`` (``khoyte demo`` is
in ``khoyte.cli``: it drives every part)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from khoyte.config import Settings

# The registry's `khoyte facility` group (add, import, show); the gateway adds its credential
# commands (token, revoke) and the listing with live credentials to it.
from khoyte.registry.cli import facility_app

if TYPE_CHECKING:  # the store and the web stack load only when a gateway command runs
    from khoyte.gateway.ingest import IngestSummary, Submitter
    from khoyte.services import Services

db_app = typer.Typer(help="Cơ sở dữ liệu vận hành / the operational store.", no_args_is_help=True)


def _services(settings: Settings | None = None) -> Services:
    """The same services object as the server's, without the warehouse: these commands run
    beside a server that holds the DuckDB file."""
    from khoyte.services import build_services

    return build_services(settings or Settings(), warehouse=False)


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


@facility_app.command("list")
def facility_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
) -> None:
    """Liệt kê cơ sở / list facilities."""
    from khoyte.gateway.facilities import list_facilities

    with _services().sessions() as s:
        facs = list_facilities(s)
    if as_json:
        sys.stdout.write(json.dumps([f.__dict__ for f in facs], ensure_ascii=False) + "\n")
        return
    table = Table(title="Cơ sở KCB / facilities", title_justify="left")
    for col in ("MA_CSKCB", "tên / name", "tuyến / tier", "xã / commune", "mã truy cập / tokens"):
        table.add_column(col)
    for f in facs:
        table.add_row(f.code, f.name, f.tier or "", f.commune or "", str(f.live_credentials))
    Console().print(table)


@facility_app.command("token")
def facility_token(
    code: Annotated[str, typer.Argument(help="MA_CSKCB")],
    expires_days: Annotated[
        int | None,
        typer.Option("--expires-days", help="Hết hạn sau N ngày / expires after N days."),
    ] = None,
) -> None:
    """Tạo mã truy cập mới (in ra một lần) / issue a new credential (printed once, alone)."""
    from khoyte.gateway.facilities import UnknownFacility, new_token
    from khoyte.store.db import session_scope

    try:
        with session_scope(_services().sessions) as s:
            token = new_token(s, code.strip(), expires_days)
    except UnknownFacility:
        _err(f"Không có cơ sở / unknown facility: {code} (khoyte facility add {code} --name …)")
        raise typer.Exit(2) from None
    sys.stdout.write(token + "\n")


@facility_app.command("revoke")
def facility_revoke(code: Annotated[str, typer.Argument(help="MA_CSKCB")]) -> None:
    """Thu hồi mọi mã truy cập của cơ sở / revoke every credential of a facility."""
    from khoyte.gateway.facilities import UnknownFacility, revoke
    from khoyte.store.db import session_scope

    try:
        with session_scope(_services().sessions) as s:
            n = revoke(s, code.strip())
    except UnknownFacility:
        _err(f"Không có cơ sở / unknown facility: {code}")
        raise typer.Exit(2) from None
    _err(f"Đã thu hồi {n} mã truy cập / {n} credentials revoked: {code}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Cập nhật lược đồ CSDL / run the schema migrations."""
    _services().close()
    _err("Lược đồ đã cập nhật / schema up to date")


def serve(
    host: Annotated[str, typer.Option(help="Địa chỉ / host.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Cổng / port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Số tiến trình / worker processes.")] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Proxy tin cậy / reverse proxies whose X-Forwarded-For/-Proto are believed "
            "(comma-separated IPs or networks). Default: KHOYTE_FORWARDED_ALLOW_IPS, empty = none."
        ),
    ] = None,
    intake_only: Annotated[
        bool,
        typer.Option(
            "--intake-only",
            help="Chỉ cổng tiếp nhận (chạy được nhiều tiến trình, cạnh một máy chủ đầy đủ) / the "
            "intake tier only: submissions, receipts, health; any number of worker processes, "
            "beside one full server (docs/operations.md).",
        ),
    ] = False,
) -> None:
    """Chạy máy chủ / run the server (migrations run on start; SIGTERM finishes in-flight work)."""
    if workers > 1 and not intake_only:
        # The full server holds the embedded DuckDB warehouse (one process may open it) and runs
        # the background work (refresh, linking, alerts) that must run once: refuse rather than
        # start workers that answer half the dashboards with 503 and send every alert twice.
        _err(
            "Máy chủ đầy đủ chạy một tiến trình (kho phân tích DuckDB chỉ mở được trong một tiến "
            "trình). Để nhận nhiều hồ sơ hơn, chạy thêm cổng tiếp nhận: `khoyte serve "
            "--intake-only --workers N --port 8001` và cho proxy chuyển /api/v1/submissions tới "
            "đó (docs/operations.md).\n"
            "The full server runs as one process (the embedded DuckDB warehouse opens in one "
            "process only). To take more submissions, run the intake tier beside it: `khoyte "
            "serve --intake-only --workers N --port 8001`, and let the proxy send "
            "/api/v1/submissions there (docs/operations.md)."
        )
        raise typer.Exit(2)
    if workers > 1:
        _services().close()  # migrate once, before the workers start side by side
    # each app migrates on start (a no-op when up to date)
    run_server(host, port, workers, forwarded_allow_ips, intake_only=intake_only)


def proxy_options(forwarded_allow_ips: str | None) -> tuple[bool, str]:
    """uvicorn's proxy settings, always explicit: uvicorn alone believes X-Forwarded-For from
    127.0.0.1, so any local process could pick the address written to the audit trail and used
    by the sign-in rate limit (security test 2026-12, F19). No proxy is trusted unless named."""
    from khoyte.config import Settings

    ips = Settings().forwarded_allow_ips if forwarded_allow_ips is None else forwarded_allow_ips
    ips = ",".join(x.strip() for x in ips.split(",") if x.strip())
    return bool(ips), ips  # (proxy_headers, forwarded_allow_ips)


def run_server(
    host: str,
    port: int,
    workers: int = 1,
    forwarded_allow_ips: str | None = None,
    *,
    intake_only: bool = False,
) -> None:
    import uvicorn

    from khoyte.gateway import tier

    proxy_headers, trusted = proxy_options(forwarded_allow_ips)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    options: dict[str, Any] = {
        "timeout_graceful_shutdown": 30,  # in-flight submissions finish on SIGTERM/SIGINT
        "timeout_keep_alive": 30,  # longer than a client pool idles: no reuse-after-close race
        "log_level": "warning",
        "access_log": False,
        "proxy_headers": proxy_headers,
        "forwarded_allow_ips": trusted or None,
    }
    if intake_only and workers > 1 and tier.balanced():
        # a socket per process: the kernel spreads kept-alive connections (khoyte.gateway.tier)
        tier.run(host, port, workers, options)
        return
    uvicorn.run(
        tier.APP if intake_only else "khoyte.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **options,
    )


def progress_ingest(console: Console, paths: list[Path], submit: Submitter) -> IngestSummary:
    from khoyte.gateway.ingest import ingest as run_ingest
    from khoyte.gateway.ingest import iter_files

    files = list(iter_files(paths))
    with Progress(
        TextColumn("[bold]Tiếp nhận / ingest"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:,.0f} hồ sơ/s (records/s) · {task.fields[rej]} từ chối"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("ingest", total=len(files), rate=0.0, rej=0)
        t0 = time.perf_counter()

        def step(_p: Path, s: IngestSummary) -> None:
            rate = s.records / max(time.perf_counter() - t0, 1e-6)
            bar.update(task, advance=1, rate=rate, rej=s.rejected + s.refused + s.deferred)

        return run_ingest(files, submit, step)


def print_summary(console: Console, s: IngestSummary) -> None:
    console.print(
        f"[bold]Tổng cộng / total[/]: {s.files} tệp (files) — {s.new} mới (new), "
        f"{s.duplicates} đã nhận trước đó (duplicates), {s.rejected_files} bị từ chối toàn bộ "
        f"(wholly rejected), {s.refused} không được nhận (refused), {s.deferred} chờ gửi lại "
        f"(deferred: store busy) · "
        f"{s.records} hồ sơ (records): {s.accepted} đạt, {s.warnings} có cảnh báo, "
        f"{s.rejected} bị từ chối · {s.seconds:.1f} s "
        f"({s.records / max(s.seconds, 1e-6):,.0f} hồ sơ/s)"
    )
    for path, msg in s.errors[:20]:
        console.print(f"  [red]✘[/] {path}: {msg}")
    if s.deferred:
        console.print(
            f"[yellow]{s.deferred} tệp chưa được nhận vì kho bận; chạy lại lệnh sau ít phút "
            "(tệp đã nhận sẽ không bị nhận hai lần) / not taken in because the store was busy: "
            "run the same command again later (files already received are not stored twice)[/]"
        )


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Tệp XML hoặc thư mục / files or folders.")],
    url: Annotated[str | None, typer.Option(help="Máy chủ khoyte / a running server.")] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Mã truy cập / credential (with --url).", envvar="KHOYTE_TOKEN"),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            help="Số tiến trình đọc và kiểm tra tệp (0: trong tiến trình này) / processes that "
            "read and validate the files in-process (0: none). Default: one per core, at most "
            "4 (none on a single core)."
        ),
    ] = None,
    facility: Annotated[
        str | None,
        typer.Option(
            help="Mã cơ sở gửi mọi tệp (tệp của cơ sở khác bị từ chối; tệp XML12 không ghi cơ "
            "sở gửi thì thuộc cơ sở này) / the facility that sent every file (a file of another "
            "facility is refused; an XML12 document, which names no sender, is this one's)."
        ),
    ] = None,
) -> None:
    """Nạp tệp vào kho / ingest files (in-process, or into a running server with --url)."""
    import httpx

    from khoyte.gateway.bulk import BulkIntake, default_jobs
    from khoyte.gateway.ingest import bulk_submitter, iter_files, remote_submitter

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if not any(True for _ in iter_files(paths)):
        _err("Không có tệp XML nào / no XML file found")
        raise typer.Exit(2)
    if url:
        if not token:
            _err("--url cần --token / --url needs --token")
            raise typer.Exit(2)
        if facility:
            _err(
                "--facility chỉ dùng khi nạp trong tiến trình: với --url, mã truy cập đã xác định "
                "cơ sở gửi / --facility is for in-process ingest: with --url the credential "
                "names the sender"
            )
            raise typer.Exit(2)
        with httpx.Client(timeout=120) as client:
            summary = progress_ingest(console, paths, remote_submitter(client, url, token))
    else:
        services = _services()
        n = jobs if jobs is not None else default_jobs()
        try:
            with BulkIntake(services.intake, jobs=n) as bulk:
                summary = progress_ingest(
                    console, paths, bulk_submitter(bulk, paths, facility=facility)
                )
        finally:
            services.close()
    print_summary(console, summary)
    # 1: the operator must act (refused, or nothing usable in a file); 75 (EX_TEMPFAIL): only
    # transient failures, run again later.
    raise typer.Exit(
        1 if summary.refused or summary.rejected_files else 75 if summary.deferred else 0
    )


def watch(
    folder: Annotated[Path, typer.Argument(help="Thư mục nhận tệp / drop folder.")],
    once: Annotated[
        bool, typer.Option("--once", help="Quét một lần / one scan, then exit.")
    ] = False,
) -> None:
    """Theo dõi thư mục nhận tệp / watch a drop folder (inbox → processing → done | rejected)."""
    from khoyte.gateway.watch import DropFolder

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = Settings()
    services = _services(settings)
    drop = DropFolder(folder, services.intake)
    _err(f"Đang theo dõi / watching {folder / 'inbox'} (Ctrl+C để dừng / to stop)")
    if once:
        drop.scan()
        drop.scan()  # the second scan takes what was stable across the first
        return
    try:
        drop.run(settings.watch_interval)
    except KeyboardInterrupt:
        _err("Đã dừng / stopped")
    finally:
        services.close()


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("serve")(serve)
    app.command("ingest")(ingest)
    app.command("watch")(watch)
