"""``khoyte aggregate …``: import aggregate report files (CSV / XLSX in the synth's layout) and
plan targets."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Báo cáo tổng hợp / aggregate reports (issue 13).",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="Tệp CSV/XLSX / CSV or XLSX files.")],
) -> None:
    """Nhập tệp báo cáo tổng hợp, mỗi tệp trọn vẹn hoặc không / import aggregate files, each
    all-or-nothing; prints one receipt per file (JSON). Exit 1 when a file was rejected."""
    from khoyte.aggregate import importer, store
    from khoyte.config import Settings
    from khoyte.services import build_services
    from khoyte.store.db import session_scope

    services = build_services(Settings(), warehouse=False)
    failed = False
    try:
        for path in files:
            data = path.read_bytes()
            fmt, cells, problems = importer.read(data, path.name)
            with session_scope(services.sessions) as s:
                receipt = store.store(s, cells, problems, data=data, filename=path.name,
                                      fmt=fmt, who="cli", now=services.clock())  # fmt: skip
            failed |= receipt["status"] == "rejected"
            sys.stdout.write(json.dumps(receipt, ensure_ascii=False) + "\n")
    finally:
        services.close()
    if failed:
        raise typer.Exit(1)


@app.command("targets")
def targets_(
    file: Annotated[
        Path, typer.Argument(help="CSV hoặc XLSX / CSV or XLSX: indicator, orgunit, year, target.")
    ],
) -> None:
    """Nhập kế hoạch (chỉ tiêu × đơn vị × năm), trọn vẹn hoặc không / import plan targets,
    all-or-nothing; they replace the package's targets.csv for the same key. Prints the receipt
    (JSON); exit 1 when rejected."""
    from khoyte.aggregate import targets
    from khoyte.aggregate.metadata import load
    from khoyte.config import Settings
    from khoyte.services import build_services
    from khoyte.store.db import session_scope

    services = build_services(Settings(), warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            receipt = targets.store(s, file.read_bytes(), load(), source=file.name, who="cli",
                                    now=services.clock())  # fmt: skip
    finally:
        services.close()
    sys.stdout.write(json.dumps(receipt, ensure_ascii=False) + "\n")
    if receipt["status"] == "rejected":
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="aggregate")
