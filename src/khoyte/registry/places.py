"""Places in the operational store: the 2025 provinces and communes (``vietnam-provinces``), and
the map from pre-07/2025 commune and district codes to the 2025 communes.

``vietnam-provinces`` ships the 2025 list only (no old → new table), and no well-kept package
ships the General Statistics Office's conversion table by code, so the map is imported from a
file in a documented format (docs/registry.md, "Old → new commune codes"):

    ma_cu,cap_cu,ma_xa_moi,hieu_luc_tu,nguon
    28477,xa,28474,2025-07-01,Nghị quyết 1663/NQ-UBTVQH15

(English headers ``old_code, old_level, new_commune_code, valid_from, source`` work too.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.registry.adminunits import REFORM_DATE, communes, provinces
from khoyte.registry.facilities import Problem, RegistryError, _date, read_table
from khoyte.registry.models import CommuneMap, Place

LEVELS = {"xa": "commune", "commune": "commune", "huyen": "district", "district": "district"}
MAP_COLUMNS = {
    "ma_cu": "old_code", "old_code": "old_code",
    "cap_cu": "old_level", "old_level": "old_level",
    "ma_xa_moi": "new_commune", "new_commune_code": "new_commune", "new_commune": "new_commune",
    "hieu_luc_tu": "valid_from", "valid_from": "valid_from",
    "nguon": "source", "source": "source",
}  # fmt: skip


def place_rows() -> list[dict[str, object]]:
    """Every 2025 province and commune as rows of ``rg_place``."""
    rows: list[dict[str, object]] = [
        {"code": c, "level": "province", "name": n, "parent": None, "valid_from": REFORM_DATE}
        for c, n in sorted(provinces().items())
    ]
    rows += [
        {"code": c, "level": "commune", "name": n, "parent": p, "valid_from": REFORM_DATE}
        for c, (n, p) in sorted(communes().items())
    ]
    return rows


def sync_places(session: Session) -> int:
    """Add the units of the installed ``vietnam-provinces`` the store does not have yet, and
    take its names (a later release may correct one). Returns how many rows changed."""
    have = {p.code: p for p in session.scalars(select(Place))}
    n = 0
    for row in place_rows():
        found = have.get(str(row["code"]))
        if found is None:
            session.add(Place(**row))
            n += 1
        elif found.name != row["name"]:
            found.name = str(row["name"])
            n += 1
    session.flush()
    return n


@dataclass(frozen=True, slots=True)
class MapEntry:
    old_code: str
    old_level: str
    new_commune: str
    valid_from: date | None
    source: str


def _map_row(raw: Mapping[str, str], file: str, row: int) -> tuple[MapEntry | None, list[Problem]]:
    vals = {MAP_COLUMNS[k]: (v or "").strip() for k, v in raw.items() if k in MAP_COLUMNS}
    probs: list[Problem] = []

    def bad(column: str, value: str, vi: str, en: str) -> None:
        probs.append(Problem(file, row, column, value[:80], vi, en))

    level = LEVELS.get(vals.get("old_level", "").lower())
    if level is None:
        bad("cap_cu", vals.get("old_level", ""), "cấp cũ phải là xa hoặc huyen",
            "the old level must be xa (commune) or huyen (district)")  # fmt: skip
    old = vals.get("old_code", "")
    width = 5 if level == "commune" else 3
    if not (old.isascii() and old.isdigit() and len(old) <= width):
        bad("ma_cu", old, f"mã cũ phải là số, tối đa {width} chữ số",
            f"the old code must be digits, at most {width}")  # fmt: skip
    new = vals.get("new_commune", "")
    new = new.zfill(5) if new.isascii() and new.isdigit() else new
    if new not in communes():
        bad("ma_xa_moi", new, "không phải mã xã/phường năm 2025", "not a 2025 commune code")
    valid_from = _date(vals.get("valid_from", ""), "hieu_luc_tu", bad) or REFORM_DATE
    source = vals.get("source", "")
    if not source:
        bad("nguon", "", "ghi rõ nguồn (văn bản, ngày)", "name the source (act, date)")
    if probs or level is None:
        return None, probs
    return MapEntry(old.zfill(width), level, new, valid_from, source[:255]), []


def import_map(session: Session, path: Path) -> int:
    """Old → new commune codes from a CSV/XLSX file; every row checked before any is written.
    A code already mapped is replaced. Returns how many rows were imported."""
    probs: list[Problem] = []
    entries: list[MapEntry] = []
    table = read_table(path)
    if not table:
        raise RegistryError([Problem(path.name, 1, "", "", "tệp không có dòng dữ liệu nào",
                                     "the file has no data row")])  # fmt: skip
    for i, raw in table:
        entry, found = _map_row(raw, path.name, i)
        probs += found
        if entry is not None:
            entries.append(entry)
    if probs:
        raise RegistryError(probs)
    for e in entries:
        row = session.get(CommuneMap, (e.old_code, e.old_level))
        if row is None:
            session.add(CommuneMap(old_code=e.old_code, old_level=e.old_level,
                                   new_commune=e.new_commune, valid_from=e.valid_from,
                                   source=e.source))  # fmt: skip
        else:
            row.new_commune, row.valid_from, row.source = e.new_commune, e.valid_from, e.source
    session.flush()
    return len(entries)


def new_commune_of(session: Session, old_code: str, level: str = "commune") -> str | None:
    row = session.get(CommuneMap, (old_code, level))
    return row.new_commune if row is not None else None
