"""``khoyte facility add|import|show`` and ``khoyte place sync|import-map``: the registry in the
operational store. (``facility token|revoke|list`` are the gateway's: they add to this group.)"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from khoyte.config import Settings

facility_app = typer.Typer(
    help="Cơ sở KCB (danh mục) và mã truy cập / facilities (the registry) and their credentials.",
    no_args_is_help=True,
)
place_app = typer.Typer(
    help="Tỉnh, xã/phường 2025 và bảng chuyển mã cũ → mới / 2025 units and the old → new map.",
    no_args_is_help=True,
)


@contextmanager
def store_session() -> Iterator[Session]:
    """A unit of work on the operational store, its schema brought up to date first; the store
    is opened by the composition root (``khoyte.services``), as in every command group."""
    from khoyte.services import build_services
    from khoyte.store.db import session_scope

    services = build_services(Settings(), warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            yield s
    finally:
        services.close()


def _audit(s: Session, action: str, target: str, details: dict[str, object]) -> None:
    """Registry changes from the command line go into the audit trail, in their transaction."""
    from khoyte.security import audit

    audit.record(s, audit.cli_actor(), action, target, "success", "local", details=details)


def _err(msg: str) -> None:
    typer.echo(msg, err=True)


def _refused(exc: Exception) -> typer.Exit:
    _err(str(exc))
    return typer.Exit(2)


@facility_app.command("import")
def facility_import(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8) hoặc XLSX / CSV (UTF-8) or XLSX.")],
) -> None:
    """Nhập danh mục cơ sở từ CSV/XLSX / import facilities from a CSV or XLSX file.

    Cột / columns: ma_cskcb, ten, loai, tuyen, ma_xa, ma_tinh, giuong, nhan_luc, hieu_luc_tu,
    hieu_luc_den, hoat_dong (docs/registry.md). Mọi dòng được kiểm tra trước; có lỗi thì không
    nhập dòng nào / every row is checked first; nothing is imported when one is wrong."""
    from khoyte.registry.facilities import RegistryError, import_file

    if not file.is_file():
        _err(f"Không tìm thấy tệp / file not found: {file}")
        raise typer.Exit(2)
    try:
        with store_session() as s:
            r = import_file(s, file)
            if r.codes:
                _audit(s, "facility.import", f"file:{file.name}"[:500], {
                    "sha256": hashlib.sha256(file.read_bytes()).hexdigest(), "rows": r.rows,
                    "created": r.created, "updated": r.updated, "codes": r.codes[:500],
                })  # fmt: skip
    except RegistryError as exc:
        raise _refused(exc) from None
    _err(
        f"Đã nhập {r.rows} cơ sở: {r.created} mới, {r.updated} thay đổi, {r.unchanged} không đổi"
        f" / {r.rows} facilities: {r.created} new, {r.updated} changed, {r.unchanged} unchanged"
    )


@facility_app.command("add")
def facility_add(
    code: Annotated[str, typer.Argument(help="MA_CSKCB")],
    name: Annotated[str, typer.Option("--name", help="Tên cơ sở / facility name.")],
    tier: Annotated[str | None, typer.Option(help="Tuyến / tier: tinh|khu_vuc|xa|tu_nhan.")] = None,
    commune: Annotated[str | None, typer.Option(help="Mã xã 2025 / 2025 commune code.")] = None,
    kind: Annotated[str | None, typer.Option(help="Loại / type (hospital, clinic…).")] = None,
    beds: Annotated[str | None, typer.Option(help="Số giường / beds.")] = None,
    staff: Annotated[str | None, typer.Option(help="Nhân lực / staff.")] = None,
) -> None:
    """Thêm (hoặc cập nhật) một cơ sở / add or update one facility (the checks of an import)."""
    from khoyte.registry.facilities import RegistryError, old_commune_map, parse_row, upsert

    raw = {"ma_cskcb": code.strip(), "ten": name, "hoat_dong": "1"}
    for col, value in (("tuyen", tier), ("ma_xa", commune), ("loai", kind), ("giuong", beds),
                       ("nhan_luc", staff)):  # fmt: skip
        if value is not None:
            raw[col] = value
    try:
        with store_session() as s:
            entry, problems, given = parse_row(raw, "khoyte facility add", 1, old_commune_map(s))
            if entry is None:
                raise RegistryError(problems)
            outcome = upsert(s, entry, given)
            if outcome != "unchanged":
                _audit(s, f"facility.{'create' if outcome == 'created' else 'update'}",
                       f"facility:{entry.code}", {"fields": sorted(given)})  # fmt: skip
    except RegistryError as exc:
        raise _refused(exc) from None
    _err(f"Đã lưu cơ sở / facility saved: {code}")


@facility_app.command("show")
def facility_show(code: Annotated[str, typer.Argument(help="MA_CSKCB")]) -> None:
    """Một cơ sở trong danh mục (JSON) / one facility of the registry, as JSON."""
    from khoyte.registry.facilities import get

    with store_session() as s:
        found = get(s, code.strip())
    if found is None:
        _err(f"Không có cơ sở / unknown facility: {code} (khoyte facility import FILE)")
        raise typer.Exit(2)
    sys.stdout.write(json.dumps(asdict(found), ensure_ascii=False, default=str) + "\n")


@place_app.command("sync")
def place_sync() -> None:
    """Cập nhật tỉnh, xã/phường theo vietnam-provinces đã cài / take the installed list."""
    from khoyte.registry.places import sync_places

    with store_session() as s:
        n = sync_places(s)
    _err(f"{n} đơn vị thêm hoặc đổi tên / {n} units added or renamed")


@place_app.command("import-map")
def place_import_map(
    file: Annotated[Path, typer.Argument(help="CSV (UTF-8) hoặc XLSX / CSV or XLSX.")],
) -> None:
    """Nhập bảng chuyển mã xã/huyện cũ → xã mới / import the old → new code map.

    Cột / columns: ma_cu, cap_cu (xa|huyen), ma_xa_moi, hieu_luc_tu, nguon (docs/registry.md)."""
    from khoyte.registry.facilities import RegistryError
    from khoyte.registry.places import import_map

    if not file.is_file():
        _err(f"Không tìm thấy tệp / file not found: {file}")
        raise typer.Exit(2)
    try:
        with store_session() as s:
            n = import_map(s, file)
    except RegistryError as exc:
        raise _refused(exc) from None
    _err(f"Đã nhập {n} dòng chuyển mã / {n} code mappings imported")


def register(app: typer.Typer) -> None:
    app.add_typer(facility_app, name="facility")
    app.add_typer(place_app, name="place")
