"""``khoyte demo``: a small synthetic province through the gateway, then the server."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from khoyte.config import Settings
from khoyte.gateway.facilities import import_facilities, new_token
from khoyte.gateway.ingest import IngestSummary, ingest, iter_files, local_submitter
from khoyte.gateway.intake import IntakeService, ensure_schema
from khoyte.store.db import session_scope


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
) -> DemoResult:
    from khoyte.synth.generate import SynthConfig, run

    say = on_step or (lambda _m: None)
    start, end = demo_period(today)
    out = settings.data_dir / "demo-province"
    stamp = f"{population}:{start}:{end}"
    marker = out / ".demo-config"
    if not (marker.exists() and marker.read_text() == stamp):
        say(f"Sinh tỉnh giả lập / generating the province: {population} dân, {start} → {end}")
        run(SynthConfig(population=population, start=start, end=end), out)
        marker.write_text(stamp)
    service = IntakeService(settings)
    ensure_schema(service.engine)
    with session_scope(service.sessions) as s:
        n = import_facilities(s, out / "facilities.csv")
        facility = _first_facility(out / "facilities.csv")
        token = new_token(s, facility)
    say(f"{n} cơ sở đã đăng ký / facilities registered")
    files = list(iter_files([out / "xml"]))
    say(f"Tiếp nhận {len(files)} tệp / ingesting {len(files)} files")
    summary = ingest([out / "xml"], local_submitter(service, channel="demo"), on_file)
    warehouse = _warehouse_hook(settings, say)
    login = _demo_user(settings, service, say)
    service.engine.dispose()
    return DemoResult(out, facility, token, summary, warehouse, login)


DEMO_USER = "lanhdao"


def _demo_user(
    settings: Settings, service: IntakeService, say: Callable[[str], None]
) -> tuple[str, str] | None:
    """A province-wide account for the demo (leader + DoH specialist + auditor), with a fresh
    random password each run; none when the security component is not installed."""
    try:
        sec: Any = importlib.import_module("khoyte.security.service")
    except ModuleNotFoundError as exc:
        if exc.name and "khoyte.security.service".startswith(exc.name):
            return None
        raise
    import secrets

    password = "Demo-" + secrets.token_urlsafe(12)
    with session_scope(service.sessions) as s:
        user = sec.get_user(s, DEMO_USER)
        if user is None:
            sec.create_user(
                s,
                settings,
                username=DEMO_USER,
                password=password,
                roles=["province_leader", "doh_specialist", "auditor"],
                scopes=["province"],
                actor="khoyte demo",
                ip="local",
                full_name="Lãnh đạo Sở (demo)",
            )
        else:
            sec.reset_password(s, settings, user, password, "khoyte demo", "local")
    say(f"Tài khoản xem bảng điều khiển / dashboard account: {DEMO_USER}")
    return DEMO_USER, password


def _first_facility(csv_path: Path) -> str:
    import csv

    with csv_path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            return row["ma_cskcb"].strip()
    raise ValueError(f"no facility in {csv_path}")


def _warehouse_hook(settings: Settings, say: Callable[[str], None]) -> bool:
    try:
        mod: Any = importlib.import_module("khoyte.warehouse.demo")
    except ModuleNotFoundError as exc:
        if exc.name and "khoyte.warehouse.demo".startswith(exc.name):
            return False
        raise
    prepare = getattr(mod, "prepare", None)
    if prepare is None:
        return False
    say("Nạp kho phân tích / refreshing the warehouse")
    prepare(settings)
    return True
