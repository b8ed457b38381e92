"""Shared setup of the aggregate tests: a synthetic quarter loaded into the warehouse, test
callers by header, and the forms' expected numbers computed from the synth's truth files."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.testclient import TestClient

from khoyte.access import Permission, Principal, Scope
from khoyte.config import Settings
from khoyte.registry.facilities import import_file
from khoyte.services import build_services
from khoyte.store.db import session_scope
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from khoyte.web.app import create_app
from tests.synth_helpers import generate

INPATIENT = {"03", "04", "06", "09"}
TIERS = ("tinh", "khu_vuc", "xa", "tu_nhan")


@dataclass
class Quarter:
    root: Path
    settings: Settings
    facilities: dict[str, dict[str, str]]
    monthly: list[dict[str, str]]


def make_quarter(root: Path, data: Path) -> Quarter:
    generate(root, seed=5, population=3000, start=date(2025, 1, 1), end=date(2025, 3, 31))
    settings = Settings(data_dir=data, warehouse_refresh_seconds=0, small_count_threshold=0)
    wh = Warehouse(settings)
    try:
        wh.rebuild(FileVersionSource(root))
    finally:
        wh.close()
    services = build_services(settings, warehouse=False)
    with session_scope(services.sessions) as s:
        import_file(s, root / "facilities.csv")  # the registry knows the synth's facilities
    services.close()
    with (root / "facilities.csv").open(encoding="utf-8") as fh:
        facilities = {r["ma_cskcb"]: r for r in csv.DictReader(fh)}
    with (root / "truth" / "monthly.csv").open(encoding="utf-8") as fh:
        monthly = list(csv.DictReader(fh))
    return Quarter(root, settings, facilities, monthly)


def scoped(request: Request) -> Principal | None:
    """``X-Test-Scope: province`` / ``commune:CODE`` / ``facility:CODE`` / ``viewer`` /
    ``approver:CODE`` (a commune's, who may also approve)."""
    value = request.headers.get("x-test-scope")
    if value is None:
        return None
    kind, _, code = value.partition(":")
    scope = {
        "facility": Scope(facilities=frozenset({code})),
        "commune": Scope(communes=frozenset({code})),
        "approver": Scope(communes=frozenset({code})),
        "province": Scope.whole_province(),
        "viewer": Scope.whole_province(),
    }.get(kind, Scope())
    perms = {Permission.VIEW_DASHBOARD, Permission.EXPORT, Permission.ENTER_AGGREGATE}
    if kind == "viewer":
        perms = {Permission.VIEW_DASHBOARD}
    if kind == "approver":
        perms.add(Permission.APPROVE_AGGREGATE)
    return Principal(kind="user", name=value, permissions=frozenset(perms), scope=scope)


@contextmanager
def client_for(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    app.state.services.hooks.authenticators.insert(0, scoped)
    with TestClient(app) as c:
        yield c
    app.state.services.close()


def busiest_commune(q: Quarter) -> str:
    n: Counter[str] = Counter()
    for r in q.monthly:
        n[q.facilities[r["ma_cskcb"]]["ma_xa"]] += int(r["visits"])
    return n.most_common(1)[0][0]


def expected_b9(q: Quarter, months: set[str], keep: Any) -> dict[tuple[str, str], int]:
    """b9 from facilities.csv and truth/monthly.csv, for facilities ``keep(facility row)``."""
    acc: dict[str, Counter[str]] = {t: Counter() for t in (*TIERS, "tong")}
    for f in q.facilities.values():
        if keep(f):
            for key in (f["tuyen"], "tong"):
                acc[key]["co_so"] += 1
                acc[key]["giuong"] += int(f["giuong"] or 0)
    for r in q.monthly:
        f = q.facilities[r["ma_cskcb"]]
        if r["month"] not in months or not keep(f):
            continue
        inp = r["ma_loai_kcb"] in INPATIENT
        v = int(r["visits"])
        for key in (f["tuyen"], "tong"):
            a = acc[key]
            a["luot_kcb"] += v
            a["ngoai_tru"] += 0 if inp else v
            a["noi_tru"] += v if inp else 0
            a["ngay_noi_tru"] += int(r["bed_days"]) if inp else 0
            a["cap_cuu"] += int(r["emergencies"])
            a["tu_vong"] += int(r["deaths"])
    return {(row, col): n for row, c in acc.items() for col, n in c.items()}


def expected_b14(q: Quarter, months: set[str], keep: Any) -> dict[tuple[str, str], int]:
    chapters = {"I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII",
                "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX", "XXI", "XXII"}  # fmt: skip
    acc: Counter[tuple[str, str]] = Counter()
    for r in q.monthly:
        if r["month"] not in months or not keep(q.facilities[r["ma_cskcb"]]):
            continue
        row = r["icd10_chapter"] if r["icd10_chapter"] in chapters else "khac"
        prefix = "nt" if r["ma_loai_kcb"] in INPATIENT else "ngt"
        subsets = ["tong"]
        subsets += ["nu"] if r["gioi_tinh"] == "2" else []
        subsets += ["u15"] if r["age_band"] in ("0-4", "5-14") else []
        subsets += ["u5"] if r["age_band"] == "0-4" else []
        for s in subsets:
            for key in (row, "tong"):
                acc[(key, f"{prefix}_{s}")] += int(r["visits"])
                acc[(key, f"tv_{s}")] += int(r["deaths"])
    return dict(acc)
