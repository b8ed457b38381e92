"""The ``khoyte`` command line."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from khoyte import backup_cli
from khoyte.aggregate import cli as aggregate_cli
from khoyte.findings import Finding, Severity
from khoyte.gateway import cli as gateway_cli
from khoyte.persons import cli as persons_cli
from khoyte.registry import cli as registry_cli
from khoyte.security import cli as security_cli
from khoyte.store import keys_cli
from khoyte.surveillance import alerts_cli
from khoyte.surveillance import cli as surveillance_cli
from khoyte.synth import cli as synth_cli
from khoyte.validate.engine import FileResult, FileStatus, RecordStatus, validate_file
from khoyte.validate.policy import Policy, PolicyError, load_policy
from khoyte.warehouse import cli as warehouse_cli

app = typer.Typer(
    help="khoyte — Kho dữ liệu y tế tập trung Sở Y tế / provincial health data hub.",
    no_args_is_help=True,
    add_completion=False,
)


class Format(StrEnum):
    text = "text"
    json = "json"


def _files(paths: list[Path]) -> Iterator[Path]:
    for p in paths:
        if p.is_dir():
            yield from sorted(x for x in p.rglob("*") if x.is_file() and x.suffix.lower() == ".xml")
        else:
            yield p


_STATUS_VI = {
    FileStatus.ACCEPTED: ("[green]✔ chấp nhận[/] / accepted", "green"),
    FileStatus.PARTIAL: ("[yellow]◐ chấp nhận một phần[/] / partially accepted", "yellow"),
    FileStatus.REJECTED: ("[red]✘ từ chối[/] / rejected", "red"),
}
_REC_VI = {
    RecordStatus.ACCEPTED: "[green]chấp nhận[/]",
    RecordStatus.WARNINGS: "[yellow]chấp nhận, có cảnh báo[/]",
    RecordStatus.REJECTED: "[red]từ chối[/]",
}


_LABELS = {
    Severity.ERROR: ("red", "LỖI", "ERROR"),
    Severity.WARNING: ("yellow", "CẢNH BÁO", "WARNING"),
    Severity.INFO: ("cyan", "GHI CHÚ", "NOTE"),
}
_SEVERITY_TEXT = {"error": "lỗi / error", "warning": "cảnh báo / warning", "info": "ghi chú / note"}


def _finding_line(f: Finding, english: bool) -> str:
    colour, vi, en = _LABELS[f.severity]
    label = en if english else vi
    msg = f.message_en if english else f.message_vi
    return f"    [{colour}]{label}[/] [bold]{f.code}[/]: {msg}"


def _print_text(console: Console, res: FileResult, english: bool, quiet: bool) -> None:
    if quiet and res.status is FileStatus.ACCEPTED and not res.findings:
        return
    status, _ = _STATUS_VI[res.status]
    c = res.counts()
    console.print(
        f"[bold]{res.file}[/] — {status} · {res.standard or '?'} · cơ sở {res.facility or '?'} · "
        f"{c['records']} hồ sơ: {c['accepted']} đạt, {c['accepted_with_warnings']} có cảnh báo, "
        f"{c['rejected']} bị từ chối",
        highlight=False,
    )
    for f in res.findings:
        console.print(_finding_line(f, english), highlight=False)
    for r in res.records:
        if not r.findings or (quiet and r.status is not RecordStatus.REJECTED):
            continue
        console.print(
            f"  Hồ sơ #{r.index} MA_LK [bold]{r.ma_lk or '?'}[/]: {_REC_VI[r.status]}",
            highlight=False,
        )
        for f in r.findings:
            if quiet and f.severity is not Severity.ERROR:
                continue
            console.print(_finding_line(f, english), highlight=False)


_PROFILE = typer.Option(
    "--profile",
    help="Hồ sơ đánh giá / judging profile: hub (mặc định / default) or payer.",
)
_POLICY = typer.Option(
    "--policy", help="Tệp chính sách riêng (TOML) / a policy file laid over the built-in one."
)


def _policy(profile: str | None, policy_file: Path | None) -> Policy:
    """The profile named on the command line, else the deployment's (settings)."""
    from khoyte.config import Settings

    settings = Settings()
    try:
        return load_policy(
            profile or settings.validation_profile, policy_file or settings.validation_policy
        )
    except PolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


@app.command()
def validate(
    paths: Annotated[
        list[Path], typer.Argument(help="Tệp XML hoặc thư mục / XML files or folders.")
    ],
    format: Annotated[
        Format, typer.Option("--format", "-f", help="text hoặc json (JSON Lines).")
    ] = Format.text,
    english: Annotated[bool, typer.Option("--english", "-e", help="Messages in English.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Chỉ in lỗi / errors only.")] = False,
    profile: Annotated[str | None, _PROFILE] = None,
    policy_file: Annotated[Path | None, _POLICY] = None,
) -> None:
    """Kiểm tra tệp XML theo QĐ 130/4750 và QĐ 4210 / validate claim XML files.

    Exit status: 0 no record rejected, 1 some record rejected, 2 an input is unusable.
    """
    policy = _policy(profile, policy_file)
    console = Console(highlight=False, soft_wrap=True)
    worst = 0
    any_file = False
    summary = _Summary()
    for path in _files(paths):
        any_file = True
        if not path.exists():
            typer.echo(f"Không tìm thấy tệp / file not found: {path}", err=True)
            worst = 2
            continue
        res = validate_file(path, str(path), keep_records=False, policy=policy)
        summary.add(res)
        if format is Format.json:
            sys.stdout.write(json.dumps(res.as_dict(), ensure_ascii=False) + "\n")
        else:
            _print_text(console, res, english, quiet)
        if res.unusable:
            worst = 2
        elif any(r.status is RecordStatus.REJECTED for r in res.records):
            worst = max(worst, 1)
    if not any_file:
        typer.echo("Không có tệp XML nào / no XML file found", err=True)
        worst = 2
    elif format is Format.text and summary.files > 1:
        summary.print(console)
    raise typer.Exit(worst)


class _Summary:
    """Totals over every file of one run, and the most frequent findings."""

    def __init__(self) -> None:
        self.files = 0
        self.by_file_status: Counter[str] = Counter()
        self.by_record_status: Counter[str] = Counter()
        self.codes: Counter[tuple[str, str]] = Counter()
        self.profile = ""

    def add(self, res: FileResult) -> None:
        self.profile = res.profile
        self.files += 1
        self.by_file_status[res.status.value] += 1
        for r in res.records:
            self.by_record_status[r.status.value] += 1
            self.codes.update((f.code, f.severity.value) for f in r.findings)
        self.codes.update((f.code, f.severity.value) for f in res.findings)

    def print(self, console: Console) -> None:
        f, r = self.by_file_status, self.by_record_status
        console.print(
            f"\n[bold]Tổng cộng / total[/]: {self.files} tệp (files) — {f['accepted']} chấp nhận, "
            f"{f['partially_accepted']} chấp nhận một phần, {f['rejected']} từ chối · "
            f"{sum(r.values())} hồ sơ (records) — {r['accepted']} đạt, "
            f"{r['accepted_with_warnings']} có cảnh báo, {r['rejected']} bị từ chối"
        )
        if not self.codes:
            return
        table = Table(
            title=f"Phát hiện thường gặp nhất / most frequent findings — hồ sơ đánh giá / "
            f"profile: {self.profile}",
            title_justify="left",
        )
        table.add_column("mã / code")
        table.add_column("mức / severity")
        table.add_column("số lần / count", justify="right")
        for (code, severity), n in self.codes.most_common(10):
            table.add_row(code, _SEVERITY_TEXT.get(severity, severity), str(n))
        console.print(table)


@app.command()
def rules(
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.text,
    profile: Annotated[str | None, _PROFILE] = None,
    policy_file: Annotated[Path | None, _POLICY] = None,
    conventions: Annotated[
        bool,
        typer.Option("--conventions", help="Các quy ước của phần mềm xuất / exporter conventions."),
    ] = False,
) -> None:
    """Chính sách đánh giá đang áp dụng / the effective judging policy: every rule, its level
    under the profile, tolerance, exemptions, legal basis, BHXH code, fix hint."""
    from khoyte.validate.catalog import RULES
    from khoyte.validate.policy import conventions_table

    policy = _policy(profile, policy_file)
    if conventions:
        rows = conventions_table()
        if format is Format.json:
            sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
            return
        out = Console(highlight=False, soft_wrap=True)
        for c in rows:
            out.print(f"[bold]{c['code']}[/]: {c['vi']} / {c['en']} — {', '.join(c['explains'])}")
        return
    rows = policy.rows()
    if format is Format.json:
        doc = {
            "profile": policy.name,
            "source": policy.source,
            "rules": rows,
            "kinds": {
                k: {"emitted": r.severity.value, "vi": r.vi, "en": r.en} for k, r in RULES.items()
            },
        }
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=1) + "\n")
        return
    console = Console(highlight=False, soft_wrap=True, width=max(Console().width, 140))
    vi, en = policy.title
    console.print(f"[bold]Hồ sơ đánh giá / profile: {policy.name}[/] ({policy.source})\n{vi}\n{en}")
    table = Table("quy tắc / rule", "mức / level", "dung sai / tolerance", "căn cứ / basis")
    table.columns[0].no_wrap = True
    shown = {"cap": "warning (error → warning)", "keep": "as emitted"}
    for r in rows:
        tol = ", ".join(f"{k}: {v}" for k, v in r.get("tolerance", {}).items())
        level = str(r["level"])
        table.add_row(r["rule"], shown.get(level, level), tol, r.get("legal_basis") or "")
    console.print(table)
    console.print(
        "Mọi quy tắc khác / every other rule: "
        + (
            "lỗi thành cảnh báo / errors become warnings"
            if policy.default == "cap"
            else "như phát ra / as emitted"
        )
    )
    console.print("\n[bold]Các loại quy tắc / rule kinds[/] (mức khi phát ra / as emitted):")
    for key, spec in RULES.items():
        console.print(f"[bold]{key}[/] ({spec.severity.value}): {spec.vi} / {spec.en}")


@app.command()
def demo(
    population: Annotated[int, typer.Option(help="Dân số / population.")] = 3000,
    port: Annotated[int, typer.Option(help="Cổng / port.")] = 8000,
    host: Annotated[str, typer.Option(help="Địa chỉ / host.")] = "127.0.0.1",
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Không chạy máy chủ / prepare only.")
    ] = False,
) -> None:
    """Tỉnh giả lập → cổng tiếp nhận → máy chủ / a synthetic province through the system."""
    from khoyte.config import Settings
    from khoyte.demo import prepare_demo

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    result = prepare_demo(Settings(), population, on_step=lambda m: console.print(f"• {m}"))
    gateway_cli.print_summary(console, result.summary)
    url = f"http://{host}:{port}/"
    if result.login is not None:
        console.print(
            f"\nĐăng nhập / sign in at {url}login — tên / user: [bold]{result.login[0]}[/]  "
            f"mật khẩu / password: [bold]{result.login[1]}[/]"
        )
    console.print(
        f"\n[bold green]Sẵn sàng / ready[/]: {url}\n"
        f"Mã truy cập của cơ sở / facility credential ({result.facility}):\n"
        f"  {result.token}\n"
        f"Thử / try:  curl -H 'Authorization: Bearer {result.token}' "
        f"http://{host}:{port}/api/v1/submissions"
    )
    if not no_serve:
        gateway_cli.run_server(host, port)


# Command groups live beside the code they drive.
synth_cli.register(app)
registry_cli.register(app)  # `facility` (the gateway adds token/revoke/list) and `place`
gateway_cli.register(app)
warehouse_cli.register(app)
security_cli.register(app)
persons_cli.register(app)
backup_cli.register(app)
keys_cli.register(app)
surveillance_cli.register(app)
app.add_typer(alerts_cli.app, name="alerts")
aggregate_cli.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
