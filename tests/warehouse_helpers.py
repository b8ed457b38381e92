"""Shared helpers for the warehouse and dashboard tests: a synthetic province, loaded once, and
expected numbers computed from the synth's truth files and, independently, from the records."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from khoyte.config import Settings
from khoyte.handoff import RecordVersion
from khoyte.standards.model import Record
from khoyte.standards.reader import DocumentKind
from khoyte.validate.engine import RecordStatus, validate_file
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from tests.synth_helpers import RECEIVED, generate

START, END = date(2024, 1, 1), date(2025, 2, 28)
MEASURES = (
    "visits", "emergencies", "deaths", "bed_days", "t_tongchi_bv", "t_bhtt", "patient_paid",
    "bhyt_records",
)  # fmt: skip
INPATIENT = {"03", "04", "06", "09"}


@dataclass
class Province:
    root: Path
    settings: Settings
    manifest: dict[str, Any]
    facilities: dict[str, dict[str, str]]


def make_province(root: Path, data: Path) -> Province:
    manifest = generate(root, seed=7, population=1500, start=START, end=END)
    # exact numbers against the ground truth: small-count suppression off (tested on its own)
    settings = Settings(data_dir=data, open_dashboard=True, warehouse_refresh_seconds=0,
                        small_count_threshold=0)  # fmt: skip
    wh = Warehouse(settings)
    try:
        wh.rebuild(FileVersionSource(root))
    finally:
        wh.close()
    with (root / "facilities.csv").open(encoding="utf-8") as fh:
        facilities = {r["ma_cskcb"]: r for r in csv.DictReader(fh)}
    return Province(root, settings, manifest, facilities)


def truth_rows(p: Province, name: str) -> list[dict[str, str]]:
    with (p.root / "truth" / f"{name}.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def expected_from_truth(
    p: Province,
    rows: list[dict[str, str]],
    *,
    keep: Any,
) -> dict[str, Any]:
    """Sum the truth cube rows ``keep(row, facility)`` selects, in the JSON twin's terms."""
    tot: dict[str, Decimal] = dict.fromkeys(MEASURES, Decimal(0))
    by_loai: Counter[str] = Counter()
    by_sex: Counter[str] = Counter()
    by_band: Counter[str] = Counter()
    facs: set[str] = set()
    for r in rows:
        fac = p.facilities[r["ma_cskcb"]]
        if not keep(r, fac):
            continue
        n = int(r["visits"])
        for m in MEASURES:
            tot[m] += Decimal(r[m])
        by_loai[r["ma_loai_kcb"]] += n
        if "gioi_tinh" in r:
            by_sex[r["gioi_tinh"]] += n
            by_band[r["age_band"]] += n
        if n:
            facs.add(r["ma_cskcb"])
    inpatient = sum(v for k, v in by_loai.items() if k in INPATIENT)
    return {
        "facilities_reporting": len(facs),
        "total": int(tot["visits"]),
        "by_loai_kcb": {k: v for k, v in sorted(by_loai.items()) if v},
        "by_sex": {k: v for k, v in by_sex.items() if v},
        "by_age_band": {k: v for k, v in by_band.items() if v},
        "inpatient": inpatient,
        "outpatient": int(tot["visits"]) - inpatient,
        "emergencies": int(tot["emergencies"]),
        "deaths": int(tot["deaths"]),
        "bed_days": int(tot["bed_days"]),
        "costs": {
            "total": tot["t_tongchi_bv"],
            "bhyt": tot["t_bhtt"],
            "patient": tot["patient_paid"],
        },
        "bhyt_records": int(tot["bhyt_records"]),
    }


def twin_numbers(twin: dict[str, Any]) -> dict[str, Any]:
    """The same numbers out of a JSON twin (zero entries dropped, money as Decimal)."""
    v = twin["visits"]
    return {
        "facilities_reporting": twin["facilities_reporting"],
        "total": v["total"],
        "by_loai_kcb": {k: n for k, n in v["by_loai_kcb"].items() if n},
        "by_sex": {k: n for k, n in v["by_sex"].items() if n},
        "by_age_band": {k: n for k, n in v["by_age_band"].items() if n},
        "inpatient": v["inpatient"],
        "outpatient": v["outpatient"],
        "emergencies": twin["emergencies"],
        "deaths": twin["deaths"],
        "bed_days": twin["bed_days"],
        "costs": {k: Decimal(str(x)).quantize(Decimal("0.01")) for k, x in twin["costs"].items()},
        "bhyt_records": twin["bhyt_records"],
    }


def accepted_records(root: Path) -> list[tuple[str, Record]]:
    """(sending facility, record) of every accepted claim record, current version only, read
    straight from the files (no warehouse code involved; the assessment council's XML12
    documents are not claims)."""
    current: dict[tuple[str, str], Record] = {}
    for path in sorted((root / "xml").rglob("*.xml")):
        res = validate_file(path, received_at=RECEIVED)
        if res.kind is not DocumentKind.CLAIMS:
            continue
        for rr in res.records:
            if rr.status is RecordStatus.REJECTED or rr.record is None or not rr.ma_lk:
                continue
            current[(res.facility or "", rr.ma_lk)] = rr.record
    return [(fac, rec) for (fac, _), rec in current.items()]


def direct_count(records: list[tuple[str, Record]], keep: Any) -> dict[str, Any]:
    """The headline numbers by plain iteration over records."""
    out: Counter[str] = Counter()
    money: dict[str, Decimal] = dict.fromkeys(("total", "bhyt", "patient"), Decimal(0))
    facs: set[str] = set()
    for fac, rec in records:
        ep = rec.episode
        if not keep(fac, ep):
            continue
        facs.add(fac)
        out["total"] += 1
        out["inpatient"] += ep.visit_type in INPATIENT
        out["emergencies"] += ep.text("MA_DOITUONG_KCB") == "2"
        out["deaths"] += str(ep.get("KET_QUA_DTRI")) in ("5", "8")
        out["bed_days"] += int(ep.get("SO_NGAY_DTRI") or 0)  # type: ignore[arg-type]
        out["bhyt_records"] += bool(ep.cards)
        money["total"] += ep.total_cost or 0
        money["bhyt"] += ep.insurance_paid or 0
        money["patient"] += ep.patient_paid
    return {"facilities_reporting": len(facs), **out, "costs": money}


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class WithExtra:
    """A folder's versions (``FileVersionSource``), then versions made in a test (not
    validated: as stored) — a source for ``Warehouse.rebuild``."""

    def __init__(self, files: FileVersionSource, extra: list[RecordVersion]) -> None:
        self.files, self.extra = files, extra
        self.registry_key = files.registry_key

    def iter_versions(self, since_id: int = 0) -> Iterator[RecordVersion]:
        yield from self.files.iter_versions(since_id)
        yield from (v for v in self.extra if v.version_id > since_id)

    def facilities_since(self, revision: int = 0) -> list[Any]:
        return self.files.facilities_since(revision)
