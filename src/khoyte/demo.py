"""``khoyte demo``: a small synthetic province through the gateway and into the warehouse.

It drives every part (synth, gateway, security, warehouse), so it sits at the top of the
package, beside the command line, with plain imports.
"""

from __future__ import annotations

import csv
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from khoyte.config import Settings
from khoyte.gateway.bulk import BulkIntake, default_jobs
from khoyte.gateway.facilities import new_token
from khoyte.gateway.ingest import IngestSummary, bulk_submitter, ingest, iter_files
from khoyte.registry.facilities import import_file
from khoyte.security import service as security
from khoyte.services import Services, build_services
from khoyte.store.db import session_scope
from khoyte.synth.generate import SynthConfig, run


def demo_period(today: date | None = None) -> tuple[date, date]:
    """Three whole months ending with last month."""
    today = today or date.today()
    end = today.replace(day=1) - timedelta(days=1)
    start = end.replace(day=1)
    for _ in range(2):
        start = (start - timedelta(days=1)).replace(day=1)
    return start, end


@dataclass
class DemoResult:
    synth_dir: Path
    facility: str
    token: str
    summary: IngestSummary
    warehouse: bool
    login: tuple[str, str] | None = None  # (username, password) of the demo's leader account


def prepare_demo(
    settings: Settings,
    population: int = 3000,
    today: date | None = None,
    on_step: Callable[[str], None] | None = None,
    on_file: Callable[[Path, IngestSummary], None] | None = None,
    exporters: str = "families",
) -> DemoResult:
    say = on_step or (lambda _m: None)
    start, end = demo_period(today)
    out = settings.data_dir / "demo-province"
    # the demo's province is written by realistic exporter families (docs/synth.md); the hub
    # profile (the default) counts every visit and names each exporter's conventions
    # aggregate reports from January (the IOC groups compare the year so far with its plan);
    # the claims stay the three months
    history = date(start.year, 1, 1) if start.month > 1 else None
    stamp = f"{population}:{start}:{end}:{exporters}:{history}:programmes"
    marker = out / ".demo-config"
    if not (marker.exists() and marker.read_text() == stamp):
        say(f"Sinh tỉnh giả lập / generating the province: {population} dân, {start} → {end}")
        run(SynthConfig(population=population, start=start, end=end, exporters=exporters,
                        aggregates_from=history, programmes=True), out)  # fmt: skip
        marker.write_text(stamp)
    services = build_services(settings)
    try:
        with session_scope(services.sessions) as s:
            # the synth's facility list through `khoyte facility import`'s code: the registry
            n = import_file(s, out / "facilities.csv").rows
            facility = _first_facility(out / "facilities.csv")
            token = new_token(s, facility)
        say(f"{n} cơ sở đã đăng ký / facilities registered")
        files = list(iter_files([out / "xml"]))
        say(f"Tiếp nhận {len(files)} tệp / ingesting {len(files)} files")
        with BulkIntake(services.intake, jobs=default_jobs()) as bulk:
            summary = ingest([out / "xml"], bulk_submitter(bulk, [out / "xml"], "demo"), on_file)
        _import_aggregates(services, out / "aggregates", say)
        warehouse = services.warehouse is not None
        if services.warehouse is not None:
            say("Nạp kho phân tích / refreshing the warehouse")
            services.warehouse.refresh()
        login = _demo_user(services, say)
    finally:
        services.close()
    return DemoResult(out, facility, token, summary, warehouse, login)


def _import_aggregates(services: Services, folder: Path, say: Callable[[str], None]) -> None:
    """The synth's monthly aggregate reports through `khoyte aggregate import`'s code (CSV: the
    XLSX beside each is the same numbers in a workbook)."""
    from khoyte.aggregate import importer, store

    files = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    files = [f for f in files if f.name != "ke_hoach.csv"]  # the plan: below
    values = 0
    for path in files:
        data = path.read_bytes()
        fmt, cells, problems = importer.read(data, path.name)
        with session_scope(services.sessions) as s:
            receipt = store.store(s, cells, problems, data=data, filename=path.name, fmt=fmt,
                                  who="demo", now=services.clock())  # fmt: skip
        if receipt["status"] == "rejected":
            raise RuntimeError(f"{path.name}: {receipt}")
        values += len(cells)
    say(f"{len(files)} tệp báo cáo tổng hợp, {values} giá trị / aggregate reports imported")
    plan = folder / "ke_hoach.csv"
    if plan.is_file():  # the plan at the synthetic province's scale (`khoyte aggregate targets`)
        from khoyte.aggregate import targets
        from khoyte.aggregate.metadata import load

        with session_scope(services.sessions) as s:
            receipt = targets.store(s, plan.read_bytes(), load(), source=plan.name, who="demo",
                                    now=services.clock())  # fmt: skip
        if receipt["status"] == "rejected":
            raise RuntimeError(f"{plan.name}: {receipt}")
        say(f"Kế hoạch theo quy mô tỉnh giả lập / plan at the province's scale: {plan.name}")


DEMO_USER = "lanhdao"


def _demo_user(services: Services, say: Callable[[str], None]) -> tuple[str, str]:
    """A province-wide account for the demo (leader + DoH specialist + auditor), with a fresh
    random password each run."""
    password = "Demo-" + secrets.token_urlsafe(12)
    with session_scope(services.sessions) as s:
        user = security.get_user(s, DEMO_USER)
        if user is None:
            security.create_user(
                s,
                services.settings,
                username=DEMO_USER,
                password=password,
                roles=["province_leader", "doh_specialist", "auditor"],
                scopes=["province"],
                actor="khoyte demo",
                ip="local",
                full_name="Lãnh đạo Sở (demo)",
            )
        else:
            security.reset_password(s, services.settings, user, password, "khoyte demo", "local")
    say(f"Tài khoản xem bảng điều khiển / dashboard account: {DEMO_USER}")
    return DEMO_USER, password


def _first_facility(csv_path: Path) -> str:
    with csv_path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            return row["ma_cskcb"].strip()
    raise ValueError(f"no facility in {csv_path}")
