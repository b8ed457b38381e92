"""The facility registry: one table (``rg_facility``), one importer for CSV and XLSX files, and
the feed the warehouse reads its facility dimension from.

Every way a facility gets into khoyte goes through :func:`parse_row` (the checks) and
:func:`upsert` (the write): ``khoyte facility import FILE``, ``khoyte facility add``, the IT
administrators' page, and the demo. The warehouse never reads a file of its own: it asks
:func:`changes_since` (through the hand-off) for the facilities changed after its registry
watermark.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from khoyte.registry.adminunits import communes, provinces
from khoyte.registry.models import CommuneMap, Facility, Place, Revision

TIERS = ("tinh", "khu_vuc", "xa", "tu_nhan")
KINDS = ("hospital", "centre", "station", "private_hospital", "clinic", "other")

# File column -> field. The Vietnamese names are those of ``khoyte synth``'s facilities.csv;
# the English ones are accepted too.
COLUMNS: dict[str, str] = {
    "ma_cskcb": "code", "code": "code",
    "ten": "name", "name": "name",
    "loai": "kind", "kind": "kind", "type": "kind",
    "tuyen": "tier", "tier": "tier",
    "ma_xa": "commune", "commune": "commune",
    "ma_tinh": "province", "province": "province",
    "giuong": "beds", "beds": "beds",
    "nhan_luc": "staff", "staff": "staff",
    "hieu_luc_tu": "valid_from", "valid_from": "valid_from",
    "hieu_luc_den": "valid_to", "valid_to": "valid_to",
    "hoat_dong": "active", "active": "active",
    "ten_xa": "", "commune_name": "",  # derived from the commune code; ignored on import
}  # fmt: skip
FIELDS = ("name", "kind", "tier", "commune", "province", "beds", "staff", "valid_from",
          "valid_to", "active")  # fmt: skip
_CODE = re.compile(r"[0-9A-Za-z_.\-]{1,16}")
_TRUE = {"1", "true", "yes", "x", "có", "co", "c"}
_FALSE = {"0", "false", "no", "không", "khong", "k"}


@dataclass(frozen=True, slots=True)
class FacilityEntry:
    """A facility as the rest of khoyte sees it (also what the warehouse's feed carries)."""

    code: str
    name: str
    kind: str | None = None
    tier: str | None = None
    commune: str | None = None
    province: str | None = None
    beds: int | None = None
    staff: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    active: bool = True
    commune_name: str | None = None
    revision: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in an input: where, and what to do about it."""

    file: str
    row: int
    column: str
    value: str
    vi: str
    en: str

    def __str__(self) -> str:
        where = f"{self.file}, dòng/row {self.row}"
        if self.column:
            where += f", cột/column {self.column}"
        shown = f" = {self.value!r}" if self.value else ""
        return f"{where}{shown}: {self.vi} / {self.en}"


class RegistryError(ValueError):
    """Input the registry refuses; nothing was written. ``problems`` name each cell."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = (
            f"{len(problems)} lỗi, không nhập dòng nào / {len(problems)} problem(s), "
            "nothing imported"
        )
        super().__init__(head + "\n" + "\n".join(f"  {p}" for p in problems[:50]))


class UnknownFacility(LookupError):
    pass


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    revision: int | None = None
    codes: list[str] = field(default_factory=list)


def now() -> datetime:
    return datetime.now(UTC)


# --- reading a file ---------------------------------------------------------------------------


def read_table(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, cells by lower-cased header) of a CSV (UTF-8,
    header row) or XLSX (first sheet, header row) file. Blank rows are skipped."""
    name = path.name
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise RegistryError([Problem(name, 0, "", "", "không phải tệp XLSX đọc được; hãy lưu "
                                 "lại bằng Excel hoặc xuất CSV UTF-8", "not a readable XLSX file; "
                                 "save it again from Excel or export CSV (UTF-8)")]) from exc  # fmt: skip
        try:
            it = wb.worksheets[0].iter_rows(values_only=True)
            header = [str(h or "").strip().lower() for h in next(it, ())]
            rows = [
                (i, {h: _cell(v) for h, v in zip(header, values, strict=False) if h})
                for i, values in enumerate(it, start=2)
            ]
        finally:
            wb.close()
    else:
        try:
            text = path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise RegistryError([Problem(name, 0, "", "", "tệp CSV phải mã hoá UTF-8",
                                         "a CSV file must be UTF-8 encoded")]) from exc  # fmt: skip
        first = text.split("\n", 1)[0]
        # cells copied from a spreadsheet and pasted come tab-separated
        delimiter = "\t" if "\t" in first and "," not in first else ","
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        rows = [
            (i, {(k or "").strip().lower(): (v or "") for k, v in r.items() if k})
            for i, r in enumerate(reader, start=2)
        ]
    return [(i, r) for i, r in rows if any(v.strip() for v in r.values())]


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.date().isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # Excel stores 850 as 850.0 and codes such as 82001 as numbers
    return str(v)


# --- checking one row -------------------------------------------------------------------------


def parse_row(
    raw: Mapping[str, str],
    file: str,
    row: int,
    old_communes: Mapping[str, str] | None = None,
) -> tuple[FacilityEntry | None, list[Problem], set[str]]:
    """The entry a row describes, the problems found (the entry is None when there are any),
    and the fields the row gave (a column that is absent is left as it is on update)."""
    probs: list[Problem] = []
    given: set[str] = set()
    vals: dict[str, str] = {}
    for col, v in raw.items():
        f = COLUMNS.get(col.strip().lower())
        if f:
            vals[f] = (v or "").strip()
            given.add(f)

    def bad(column: str, value: str, vi: str, en: str) -> None:
        probs.append(Problem(file, row, column, value[:80], vi, en))

    code = vals.get("code", "")
    if len(code) == 4 and code.isascii() and code.isdigit():
        # MA_CSKCB has 5 digits, the province first: a spreadsheet that took 01001 for a
        # number wrote 1001 (provinces 01–09)
        code = code.zfill(5)
    if not code:
        bad("ma_cskcb", "", "thiếu mã cơ sở KCB (MA_CSKCB)", "the facility code (MA_CSKCB) is missing")  # fmt: skip
    elif not _CODE.fullmatch(code):
        bad("ma_cskcb", code, "mã cơ sở chỉ gồm chữ, số, '.', '_', '-' (tối đa 16 ký tự)",
            "a facility code has letters, digits, '.', '_', '-' only (at most 16)")  # fmt: skip
    name = vals.get("name", "")
    if "name" in given and not name:
        bad("ten", "", "thiếu tên cơ sở", "the facility name is missing")
    if len(name) > 255:
        bad("ten", name, "tên dài quá 255 ký tự", "the name is longer than 255 characters")
    tier = vals.get("tier") or None
    if tier is not None and tier not in TIERS:
        bad("tuyen", tier, f"tuyến phải là một trong {', '.join(TIERS)}",
            f"the tier must be one of {', '.join(TIERS)}")  # fmt: skip
    kind = vals.get("kind") or None
    if kind is not None and not _CODE.fullmatch(kind):
        bad("loai", kind, f"loại cơ sở không hợp lệ (ví dụ: {', '.join(KINDS)})",
            f"invalid facility type (e.g. {', '.join(KINDS)})")  # fmt: skip
    commune = vals.get("commune") or None
    if commune is not None:
        key = commune.zfill(5) if commune.isascii() and commune.isdigit() else commune
        if key in communes():
            commune = key
        elif old_communes and key in old_communes:
            commune = old_communes[key]  # a pre-07/2025 code, mapped to its 2025 commune
        else:
            bad("ma_xa", commune, "không phải mã xã/phường năm 2025 (QĐ 19/2025/QĐ-TTg), cũng "
                "không có trong bảng chuyển mã cũ → mới; sửa mã hoặc nhập bảng chuyển mã "
                "(khoyte place import-map)", "not a 2025 commune code, nor in the old → new "
                "code map; fix the code or import the map (khoyte place import-map)")  # fmt: skip
    province = vals.get("province") or None
    if province is not None:
        province = province.zfill(2) if province.isascii() and province.isdigit() else province
        if province not in provinces():
            bad("ma_tinh", province, "không phải mã tỉnh năm 2025", "not a 2025 province code")
    if commune is not None and commune in communes():
        home = communes()[commune][1]
        if province is None:
            province = home
        elif province != home:
            bad("ma_tinh", province, f"xã {commune} thuộc tỉnh {home}, không phải {province}",
                f"commune {commune} is in province {home}, not {province}")  # fmt: skip
    beds = _int(vals.get("beds", ""), "giuong", bad)
    staff = _int(vals.get("staff", ""), "nhan_luc", bad)
    valid_from = _date(vals.get("valid_from", ""), "hieu_luc_tu", bad)
    valid_to = _date(vals.get("valid_to", ""), "hieu_luc_den", bad)
    if valid_from and valid_to and valid_to < valid_from:
        bad("hieu_luc_den", valid_to.isoformat(), "ngày hết hiệu lực trước ngày có hiệu lực",
            "valid-to is before valid-from")  # fmt: skip
    active_raw = vals.get("active", "").lower()
    active = True
    if active_raw in _FALSE:
        active = False
    elif active_raw and active_raw not in _TRUE:
        bad("hoat_dong", active_raw, "hoạt động: 1/0, có/không", "active: 1/0, yes/no")
    if probs:
        return None, probs, given
    entry = FacilityEntry(
        code=code, name=name or code, kind=kind, tier=tier, commune=commune, province=province,
        beds=beds, staff=staff, valid_from=valid_from, valid_to=valid_to, active=active,
        commune_name=commune_name(commune),
    )  # fmt: skip
    return entry, [], given


def _int(value: str, column: str, bad: Any) -> int | None:
    if not value:
        return None
    if value.isascii() and value.isdigit() and len(value) < 9:
        return int(value)
    bad(column, value, "phải là số nguyên không âm", "must be a whole number, 0 or more")
    return None


def _date(value: str, column: str, bad: Any) -> date | None:
    if not value:
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value[:10], fmt).date()
        except ValueError:
            continue
    bad(column, value, "ngày phải có dạng YYYY-MM-DD hoặc DD/MM/YYYY",
        "a date must be YYYY-MM-DD or DD/MM/YYYY")  # fmt: skip
    return None


def read_entries(
    path: Path, old_communes: Mapping[str, str] | None = None
) -> list[tuple[FacilityEntry, set[str]]]:
    """Every facility of a file, checked; :class:`RegistryError` lists every problem."""
    probs: list[Problem] = []
    out: list[tuple[FacilityEntry, set[str]]] = []
    seen: dict[str, int] = {}
    table = read_table(path)
    if not table:
        raise RegistryError([Problem(path.name, 1, "", "", "tệp không có dòng dữ liệu nào",
                                     "the file has no data row")])  # fmt: skip
    if not any(COLUMNS.get(k) == "code" for k in table[0][1]):
        raise RegistryError([Problem(path.name, 1, "ma_cskcb", "", "thiếu cột ma_cskcb ở dòng "
                                     "tiêu đề", "the header row has no ma_cskcb column")])  # fmt: skip
    for i, raw in table:
        entry, found, given = parse_row(raw, path.name, i, old_communes)
        probs += found
        if entry is None:
            continue
        if entry.code in seen:
            probs.append(Problem(path.name, i, "ma_cskcb", entry.code,
                                 f"mã trùng với dòng {seen[entry.code]}",
                                 f"the same code as row {seen[entry.code]}"))  # fmt: skip
            continue
        seen[entry.code] = i
        out.append((entry, given))
    if probs:
        raise RegistryError(probs)
    return out


# --- writing ----------------------------------------------------------------------------------


def _revision(session: Session) -> int:
    """The revision of this transaction's changes (taken once per transaction)."""
    tx = session.get_transaction()
    cached = session.info.get("rg_revision")
    if cached is not None and cached[0] is tx:
        return int(cached[1])
    session.execute(update(Revision).where(Revision.id == 1).values(value=Revision.value + 1))
    value = int(session.execute(select(Revision.value).where(Revision.id == 1)).scalar_one())
    session.info["rg_revision"] = (tx, value)
    return value


def upsert(session: Session, entry: FacilityEntry, fields: Iterable[str] | None = None) -> str:
    """Create or change one facility; ``fields`` limits what changes on an existing one (all
    when None). Returns ``created``, ``updated`` or ``unchanged``; a change takes a revision."""
    outcome = _apply(session, session.get(Facility, entry.code), entry, fields)
    session.flush()
    return outcome


def _apply(
    session: Session, fac: Facility | None, entry: FacilityEntry, fields: Iterable[str] | None
) -> str:
    names = FIELDS if fields is None else tuple(f for f in FIELDS if f in set(fields))
    if fac is None:
        fac = Facility(code=entry.code, created_at=now())
        for f in FIELDS:
            setattr(fac, f, getattr(entry, f))
        fac.revision = _revision(session)
        session.add(fac)
        return "created"
    changed = [f for f in names if getattr(fac, f) != getattr(entry, f)]
    if not changed:
        return "unchanged"
    for f in changed:
        setattr(fac, f, getattr(entry, f))
    fac.updated_at = now()
    fac.revision = _revision(session)
    return "updated"


def old_commune_map(session: Session) -> dict[str, str]:
    """Pre-07/2025 commune codes → 2025 commune (district codes are not facility communes)."""
    rows = session.execute(
        select(CommuneMap.old_code, CommuneMap.new_commune).where(CommuneMap.old_level == "commune")
    )
    return {str(a): str(b) for a, b in rows}


def import_file(session: Session, path: Path) -> ImportReport:
    """``khoyte facility import FILE``: every row checked first; nothing is written when any
    row is wrong (:class:`RegistryError` names each cell), else all rows in this transaction."""
    entries = read_entries(path, old_commune_map(session))
    report = ImportReport(rows=len(entries))
    # the file's facilities in a few queries and one flush at the end, not a round trip per row
    codes = [e.code for e, _ in entries]
    have: dict[str, Facility] = {}
    for lo in range(0, len(codes), 500):
        q = select(Facility).where(Facility.code.in_(codes[lo : lo + 500]))
        have.update((f.code, f) for f in session.scalars(q))
    for entry, given in entries:
        with session.no_autoflush:
            outcome = _apply(session, have.get(entry.code), entry, given)
        setattr(report, outcome, getattr(report, outcome) + 1)
        if outcome != "unchanged":
            report.codes.append(entry.code)
    session.flush()
    if report.codes:
        report.revision = _revision(session)
    return report


def add_facility(
    session: Session,
    code: str,
    name: str,
    tier: str | None = None,
    commune: str | None = None,
) -> Facility:
    """Create or update a facility from code (tests, benchmarks, scripts): the given fields
    change, the others stay; the facility is active afterwards."""
    entry = FacilityEntry(code=code, name=name, tier=tier, commune=commune)
    fields = {"name", "active"} | {f for f, v in (("tier", tier), ("commune", commune)) if v}
    upsert(session, entry, fields)
    found = session.get(Facility, code)
    if found is None:  # just written in this transaction
        raise UnknownFacility(code)
    return found


def set_active(session: Session, code: str, active: bool) -> str:
    fac = session.get(Facility, code)
    if fac is None:
        raise UnknownFacility(code)
    return upsert(session, replace(entry_of(fac), active=active), {"active"})


# --- reading ----------------------------------------------------------------------------------


def entry_of(fac: Facility, commune_name: str | None = None) -> FacilityEntry:
    return FacilityEntry(
        code=fac.code, name=fac.name, kind=fac.kind, tier=fac.tier, commune=fac.commune,
        province=fac.province, beds=fac.beds, staff=fac.staff, valid_from=fac.valid_from,
        valid_to=fac.valid_to, active=fac.active, commune_name=commune_name,
        revision=fac.revision,
    )  # fmt: skip


def _names(session: Session, codes: set[str] | None = None) -> dict[str, str]:
    """Place names from the store (of ``codes`` only, when given)."""
    q = select(Place.code, Place.name)
    if codes is not None:
        if not codes:
            return {}
        q = q.where(Place.code.in_(sorted(codes)))
    return {str(c): str(n) for c, n in session.execute(q)}


def get(session: Session, code: str) -> FacilityEntry | None:
    fac = session.get(Facility, code)
    if fac is None:
        return None
    names = _names(session, {fac.commune} if fac.commune else set())
    return entry_of(fac, names.get(fac.commune or "") or commune_name(fac.commune))


def list_all(session: Session) -> list[FacilityEntry]:
    names = _names(session)
    facs = session.scalars(select(Facility).order_by(Facility.code))
    return [entry_of(f, names.get(f.commune or "") or commune_name(f.commune)) for f in facs]


def changes_since(session: Session, revision: int) -> list[FacilityEntry]:
    """Facilities changed after ``revision``, oldest change first (the warehouse's feed). No
    limit: one import is one revision, and a page boundary inside it would lose rows; a
    province has a few thousand facilities at most."""
    facs = session.scalars(
        select(Facility)
        .where(Facility.revision > revision)
        .order_by(Facility.revision, Facility.code)
    ).all()
    if not facs:
        return []  # the poller's usual answer: one indexed query, nothing else
    names = _names(session, {f.commune for f in facs if f.commune})
    return [entry_of(f, names.get(f.commune or "") or commune_name(f.commune)) for f in facs]


def commune_name(code: str | None) -> str | None:
    """The 2025 name of a commune, from the national list when the store has no place table."""
    if not code:
        return None
    found = communes().get(code)
    return found[0] if found else None
