"""The dashboards on ``khoyte demo``'s own path (synth → ``facility import`` → ingest through the
gateway → warehouse fed through the hand-off → served), against the synth's manifest: facility
names, communes and tiers, the commune breakdown, a commune-scoped user; then registry edits on
the administrators' page reaching the dashboards through the warehouse's poller.

Before the one registry, this path left ``dim_facility`` empty (architecture review §R2,
security review F21): names were null, the commune breakdown was one row with no code, and a
commune-scoped user saw nothing.
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import pyotp
import pytest
from fastapi.testclient import TestClient

from khoyte.config import Settings
from khoyte.demo import prepare_demo
from khoyte.registry.adminunits import communes
from khoyte.security import service
from khoyte.store.db import session_scope
from khoyte.web.app import create_app
from tests.gateway_helpers import fresh_pg_database
from tests.security_helpers import PASSWORD, csrf_from, sign_in

pytestmark = pytest.mark.slow  # the demo path (synth → ingest → serve) per store: half a minute

PERIOD = {"from": "2025-01-01", "to": "2025-03-31"}  # demo_period(today=2025-04-15)
T = TypeVar("T")


@dataclass
class Demo:
    settings: Settings
    client: TestClient
    manifest: dict[str, Any]
    facilities: dict[str, dict[str, str]]  # facilities.csv by MA_CSKCB
    leader: dict[str, str]  # bearer header of the demo's province-wide account

    def visits(self) -> dict[str, int]:
        return {c: int(v["visits"]) for c, v in self.manifest["by_facility"].items()}

    def by_commune(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for code, n in self.visits().items():
            out[self.facilities[code]["ma_xa"]] += n
        return out

    def token(self, username: str) -> dict[str, str]:
        r = self.client.post(
            "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    def add_user(self, username: str, roles: list[str], scopes: list[str]) -> str | None:
        with session_scope(self.client.app.state.security.factory) as s:  # type: ignore[attr-defined]
            _, uri = service.create_user(
                s, self.settings, username=username, password=PASSWORD, roles=roles,
                scopes=scopes, actor="test", ip="test",
            )  # fmt: skip
        return uri

    def get(self, path: str, who: dict[str, str] | None = None, **params: str) -> Any:
        r = self.client.get(path, params={**PERIOD, **params}, headers=who or self.leader)
        assert r.status_code == 200, r.text
        return r.json()

    def breakdown(self, by: str, who: dict[str, str] | None = None, **params: str) -> Any:
        rows = self.get("/api/v1/dashboards/kcb/breakdown", who, by=by, **params)["rows"]
        return {r["code"]: r for r in rows}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def demo(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Demo]:
    """The demo's path with the operational store on SQLite (the demo's default) and on
    PostgreSQL (production's)."""
    data = tmp_path_factory.mktemp("demo")
    database: Iterator[str] | None = None
    url = None
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")  # skips (or fails in CI) without PostgreSQL
        database = fresh_pg_database()
        url = next(database)
    # a short poll, so an edit shows within the 5 s bound with room to spare
    # exact counts (the manifest is the oracle): small-count suppression has its own tests
    settings = Settings(
        data_dir=data, database_url=url, warehouse_refresh_seconds=0.2, small_count_threshold=0
    )
    # the demo's own province: every exporter family (issue 11); the hub profile counts them all
    result = prepare_demo(settings, population=150, today=date(2025, 4, 15))
    assert result.summary.rejected == 0  # every record counts: the manifest is the oracle
    assert result.login is not None
    manifest = json.loads((result.synth_dir / "manifest.json").read_text(encoding="utf-8"))
    with (result.synth_dir / "facilities.csv").open(encoding="utf-8") as fh:
        facilities = {r["ma_cskcb"]: r for r in csv.DictReader(fh)}
    app = create_app(settings)
    with TestClient(app, follow_redirects=False) as client:
        r = client.post(
            "/api/v1/auth/token",
            json={"username": result.login[0], "password": result.login[1]},
        )
        assert r.status_code == 200, r.text
        leader = {"Authorization": f"Bearer {r.json()['access_token']}"}
        yield Demo(settings, client, manifest, facilities, leader)
    app.state.services.close()
    if database is not None:
        next(database, None)  # drops the database


def test_facility_names_communes_and_tiers_are_the_registrys(demo: Demo) -> None:
    rows = demo.breakdown("facility")
    visits = demo.visits()
    assert {c: (r["name"], r["tier"], r["active"], r["visits"]) for c, r in rows.items()} == {
        c: (demo.facilities[c]["ten"], demo.facilities[c]["tuyen"], True, n)
        for c, n in visits.items()
        if n
    }
    for tier, m in demo.manifest["by_tier"].items():
        assert demo.get("/api/v1/dashboards/kcb", tier=tier)["visits"]["total"] == m["visits"]


def test_the_commune_breakdown_equals_the_manifest(demo: Demo) -> None:
    want = demo.by_commune()
    rows = demo.breakdown("commune")
    assert {c: r["visits"] for c, r in rows.items()} == {c: n for c, n in want.items() if n}
    assert None not in rows
    for code, r in rows.items():
        assert r["name"] == communes()[code][0]
    top = max(want, key=lambda c: (want[c], c))
    assert demo.get("/api/v1/dashboards/kcb", commune=top)["visits"]["total"] == want[top]


def test_a_commune_scoped_user_sees_exactly_their_communes(demo: Demo) -> None:
    want = demo.by_commune()
    mine = sorted(want, key=lambda c: (-want[c], c))[1:3]  # two communes with visits
    other = next(c for c in want if c not in mine)
    demo.add_user("chuyenvien_xa", ["doh_specialist"], [f"commune:{c}" for c in mine])
    who = demo.token("chuyenvien_xa")
    assert {c: r["visits"] for c, r in demo.breakdown("commune", who).items()} == {
        c: want[c] for c in mine
    }
    held = {c for c, f in demo.facilities.items() if f["ma_xa"] in mine and demo.visits().get(c)}
    assert set(demo.breakdown("facility", who)) == held
    total = demo.get("/api/v1/dashboards/kcb", who)["visits"]["total"]
    assert total == sum(want[c] for c in mine)
    assert demo.get("/api/v1/dashboards/kcb", who, commune=other)["visits"]["total"] == 0


def _within(bound: float, fetch: Callable[[], T], ok: Callable[[T], bool]) -> T:
    """Poll ``fetch`` until ``ok`` (a bound on waiting, not a measure of speed)."""
    deadline = time.monotonic() + bound
    while True:
        value = fetch()
        if ok(value):
            return value
        assert time.monotonic() < deadline, f"not on the dashboard within {bound} s: {value}"
        time.sleep(0.05)


def test_registry_edits_reach_the_dashboard_through_the_poller(demo: Demo) -> None:
    """Rename, move to another commune, deactivate on the IT page: each shows on the
    dashboard within 5 s, carried by the warehouse's registry feed (its watermark moves)."""
    uri = demo.add_user("quantri", ["it_admin"], ["province"])
    assert uri is not None
    admin = TestClient(demo.client.app, follow_redirects=False)
    code = pyotp.parse_uri(uri).now()
    assert sign_in(admin, "quantri", otp=code).status_code == 303
    visits = demo.visits()
    fac = max(visits, key=lambda c: (visits[c], c))
    old_commune = demo.facilities[fac]["ma_xa"]
    new_commune = next(
        c for c in sorted(communes()) if communes()[c][1] == "82" and c not in demo.by_commune()
    )
    demo.breakdown("facility")  # the poller runs since the app started (lifespan)
    wh = demo.client.app.state.services.warehouse  # type: ignore[attr-defined]
    mark = wh.loader.registry_watermark("store")

    def edit(**changes: str) -> None:
        page = admin.get(f"/admin/facilities/{fac}")
        assert page.status_code == 200
        current = admin.get(f"/api/v1/admin/facilities/{fac}").json()
        form = {
            "csrf_token": csrf_from(page.text), "ten": current["name"],
            "loai": current["kind"] or "", "tuyen": current["tier"] or "",
            "ma_xa": current["commune"] or "", "giuong": str(current["beds"] or ""),
            "nhan_luc": str(current["staff"] or ""), "hoat_dong": "1", **changes,
        }  # fmt: skip
        form = {k: v for k, v in form.items() if v != "<absent>"}
        r = admin.post(f"/admin/facilities/{fac}", data=form)
        assert r.status_code == 200, r.text
        assert 'id="registry-message"' in r.text

    edit(ten="Bệnh viện Đổi Tên")
    _within(5, lambda: demo.breakdown("facility")[fac]["name"], lambda n: n == "Bệnh viện Đổi Tên")

    edit(ten="Bệnh viện Đổi Tên", ma_xa=new_commune)
    moved = _within(5, lambda: demo.breakdown("commune"), lambda rows: new_commune in rows)
    assert moved[new_commune]["visits"] == visits[fac]
    assert moved[new_commune]["name"] == communes()[new_commune][0]
    assert (
        moved.get(old_commune, {"visits": 0})["visits"]
        == demo.by_commune()[old_commune] - (visits[fac])
    )
    demo.add_user("chuyenvien_moi", ["doh_specialist"], [f"commune:{new_commune}"])
    scoped = demo.breakdown("facility", demo.token("chuyenvien_moi"))
    assert set(scoped) == {fac}

    def silent_in_june() -> list[str]:  # a month with no data: every active facility silent
        june = {"from": "2025-06-01", "to": "2025-06-30"}
        r = demo.client.get("/api/v1/dashboards/completeness", params=june, headers=demo.leader)
        assert r.status_code == 200, r.text
        found: list[str] = r.json()["silent"]
        return found

    assert fac in silent_in_june()
    edit(ten="Bệnh viện Đổi Tên", ma_xa=new_commune, hoat_dong="<absent>")
    _within(5, lambda: demo.breakdown("facility")[fac]["active"], lambda a: a is False)
    assert fac not in silent_in_june()  # a closed facility is not expected to send
    assert wh.loader.registry_watermark("store") > mark  # it came through the registry feed
    # each change is in the audit trail, by the administrator who made it
    with session_scope(demo.client.app.state.security.factory) as s:  # type: ignore[attr-defined]
        from sqlalchemy import select

        from khoyte.security.models import AuditEntry

        actions = [
            (e.action, e.actor)
            for e in s.scalars(select(AuditEntry).where(AuditEntry.target == f"facility:{fac}"))
        ]
    assert actions == [
        ("facility.update", "user:quantri"),
        ("facility.update", "user:quantri"),
        ("facility.deactivate", "user:quantri"),
    ]


def test_the_demo_loads_the_aggregate_reports(demo: Demo) -> None:
    """The synth's monthly aggregate files went through the importer: every value is stored."""
    from sqlalchemy import func, select

    from khoyte.aggregate.importer import read
    from khoyte.aggregate.models import AggValue
    from khoyte.store.db import make_engine

    folder = demo.settings.data_dir / "demo-province" / "aggregates"
    reports = [p for p in folder.glob("*.csv") if p.name != "ke_hoach.csv"]  # the plan: below
    expected = sum(len(read(p.read_bytes(), p.name)[1]) for p in reports)
    assert expected > 0
    engine = make_engine(demo.settings)
    try:
        with engine.connect() as conn:
            assert conn.scalar(select(func.count()).select_from(AggValue)) == expected
    finally:
        engine.dispose()


def test_the_ioc_groups_show_the_demos_aggregates(demo: Demo) -> None:
    """`khoyte demo` loads the synth's aggregate reports: the IOC twin counts their births."""
    folder = demo.settings.data_dir / "demo-province" / "aggregates"
    births = sprayed_in_files = 0
    for path in sorted(folder.glob("*.csv")):
        if path.name == "ke_hoach.csv":
            continue
        with path.open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                births += int(r["gia_tri"]) if r["chi_tieu"] == "tre_sinh" else 0
                sprayed_in_files += (
                    int(r["gia_tri"]) if r["chi_tieu"] == "dan_so_bao_ve_hoa_chat" else 0
                )
    r = demo.client.get("/api/v1/ioc/dan_so", params={"from": "2025-01", "to": "2025-03"},
                        headers=demo.leader)  # fmt: skip
    assert r.status_code == 200, r.text
    panels = {p["code"]: p for p in r.json()["panels"]}
    assert panels["dan_so_trung_binh"]["actual"]  # the population reports are there
    assert panels["so_tre_sinh"]["actual"] == births
    # groups 6 and 7 have the synth's programme reports, against the plan at the demo's scale
    with (folder / "ke_hoach.csv").open(encoding="utf-8") as fh:
        plan = {(r["indicator"], r["year"]): float(r["target"]) for r in csv.DictReader(fh)}
    r = demo.client.get("/api/v1/ioc/kiem_soat_benh", params={"from": "2025-01", "to": "2025-03"},
                        headers=demo.leader)  # fmt: skip
    sprayed = {p["code"]: p for p in r.json()["panels"]}["dan_so_bao_ve_hoa_chat"]
    assert sprayed["actual"] == sprayed_in_files
    assert sprayed["plan"] == pytest.approx(plan[("dan_so_bao_ve_hoa_chat", "2025")] / 4)
