"""``khoyte warehouse …``: build and inspect the analytics store.

DuckDB lets one process write a database file: run these while the web app is stopped (the app
refreshes the warehouse itself while it runs).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from khoyte.config import Settings
from khoyte.handoff import VersionSource
from khoyte.validate.policy import settings_policy

app = typer.Typer(
    help="Kho phân tích (DuckDB) / the analytics store.",
    no_args_is_help=True,
    add_completion=False,
)
# kept only to point at `khoyte facility import` (the registry is in the operational store)
facilities_app = typer.Typer(hidden=True, no_args_is_help=True, add_completion=False)
app.add_typer(facilities_app, name="facilities", hidden=True)

SourceOpt = Annotated[
    Path | None,
    typer.Option(
        "--from",
        help="Thư mục tệp XML, ví dụ đầu ra `khoyte synth` / folder of claim files "
        "(default: the operational store, or KHOYTE_WAREHOUSE_SOURCE).",
    ),
]


def _source(settings: Settings, folder: Path | None) -> VersionSource | None:
    """``--from FOLDER`` when given, else None: the services' own source (the store, or
    KHOYTE_WAREHOUSE_SOURCE)."""
    from khoyte.warehouse.sources import FileVersionSource

    if folder is None:
        return None
    if not folder.is_dir():
        typer.echo(f"Không tìm thấy thư mục / folder not found: {folder}", err=True)
        raise typer.Exit(2)
    return FileVersionSource(
        folder, max_bytes=settings.max_file_bytes, policy=settings_policy(settings)
    )


def _print(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str, indent=1) + "\n")


def _load(source: Path | None, full: bool) -> None:
    from khoyte.services import build_services

    settings = Settings()
    src = _source(settings, source)
    services = build_services(settings)
    try:
        wh = services.warehouse
        if wh is None:
            typer.echo(
                f"Kho phân tích đang được tiến trình khác dùng / the warehouse "
                f"{settings.duckdb_path} is in use by another process (stop `khoyte serve`)",
                err=True,
            )
            raise typer.Exit(2)
        report = wh.rebuild(src) if full else wh.refresh(src)
        _print(report.__dict__)
    finally:
        services.close()


@app.command()
def refresh(source: SourceOpt = None) -> None:
    """Nạp các bản ghi mới (tăng dần) / load what is new since the last load."""
    _load(source, full=False)


@app.command()
def rebuild(source: SourceOpt = None) -> None:
    """Xây lại toàn bộ kho từ nguồn / rebuild the whole warehouse from the source."""
    _load(source, full=True)


@app.command()
def stats() -> None:
    """Số dòng mỗi bảng, mốc đã nạp / row counts and watermark."""
    from khoyte.warehouse.service import Warehouse

    wh = Warehouse(Settings())
    try:
        _print(wh.stats())
    finally:
        wh.close()


@facilities_app.command("import", hidden=True)
def import_facilities(file: Annotated[Path, typer.Argument()]) -> None:
    """Đã chuyển sang `khoyte facility import` / moved to `khoyte facility import`."""
    typer.echo(
        "Danh mục cơ sở nay chỉ có một, trong CSDL vận hành: dùng `khoyte facility import "
        f"{file}`; kho phân tích tự cập nhật từ đó. / There is one facility registry now, in the "
        f"operational store: run `khoyte facility import {file}`; the warehouse follows it.",
        err=True,
    )
    raise typer.Exit(2)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="warehouse")
