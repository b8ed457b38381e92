"""`khoyte backup` and `khoyte restore`: the command line of ``khoyte.backup``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from khoyte.backup import BackupError, backup, restore
from khoyte.config import Settings


def _fail(err: BackupError) -> typer.Exit:
    typer.echo(f"✘ {err.vi}\n  {err.en}", err=True)
    return typer.Exit(2)


def backup_command(
    dest: Annotated[Path, typer.Argument(help="Thư mục sao lưu / backup folder.")],
) -> None:
    """Sao lưu kho vận hành, kho tệp gốc (tăng dần), khóa, đầu chuỗi nhật ký / back up the
    store, the raw archive (incremental), keys and the audit head."""
    try:
        r = backup(Settings(), dest)
    except BackupError as err:
        raise _fail(err) from err
    typer.echo(
        f"✔ Đã sao lưu / backed up: {r.snapshot}\n  {r.submissions} lần gửi / submissions, "
        f"{r.archive_files} tệp gốc / archived files ({r.archive_copied} mới / new), "
        f"nhật ký đến mục / audit head #{r.audit_seq}"
    )
    for w in r.warnings:
        typer.echo(f"⚠ {w}", err=True)
    raise typer.Exit(1 if r.warnings else 0)


def restore_command(
    src: Annotated[
        Path,
        typer.Argument(help="Bản sao lưu (thư mục snapshot, hoặc thư mục sao lưu: bản mới nhất)."),
    ],
    no_warehouse: Annotated[
        bool, typer.Option("--no-warehouse", help="Không xây lại kho phân tích / skip the rebuild.")
    ] = False,
) -> None:
    """Khôi phục vào thư mục dữ liệu và cơ sở dữ liệu trống / restore into an empty data folder
    and an empty database; the warehouse is rebuilt."""
    try:
        r = restore(Settings(), src, rebuild_warehouse=not no_warehouse)
    except BackupError as err:
        raise _fail(err) from err
    typer.echo(
        f"✔ Đã khôi phục / restored: {r.snapshot}\n  {r.submissions} lần gửi / submissions, "
        f"{r.archive_files} tệp gốc / archived files; chuỗi nhật ký toàn vẹn đến mục / audit "
        f"chain intact up to #{r.audit_seq}"
        + ("" if no_warehouse else "; kho phân tích đã xây lại / warehouse rebuilt")
    )
    for w in r.warnings:
        typer.echo(f"⚠ {w}", err=True)
    raise typer.Exit(1 if r.warnings else 0)


def register(app: typer.Typer) -> None:
    app.command("backup")(backup_command)
    app.command("restore")(restore_command)
