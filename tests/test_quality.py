"""The data-quality workspace (issue 11 item 4) on SQLite and PostgreSQL: its twins equal a
direct count over the stored findings, scoping holds (a facility sees its own records only,
another facility's is 404), exports open and hold the rows, identifying values stay masked for
who may not see them, and aggregates-only callers get small counts suppressed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from khoyte.findings import Severity
from khoyte.gateway.models import FindingRow, RecordHead, RecordVersionRow
from khoyte.quality.rules import explain, payer_severity
from khoyte.standards.serialize import record_from_json
from khoyte.standards.writer import envelope
from khoyte.store.crypto import keyring
from khoyte.validate.catalog import RULES
from khoyte.validate.policy import load_policy
from tests.factories import record
from tests.gateway_helpers import FAC_A, FAC_B, fresh_pg_database, register_facilities
from tests.quality_helpers import load
from tests.security_helpers import Env, make_env

PAYER = load_policy("payer")
PERIOD = {"from": "2025-08-01", "to": "2025-10-31"}


@dataclass
class Site:
    env: Env
    client: TestClient
    tokens: dict[str, str]

    def get(self, user: str, path: str, **params: str) -> Any:
        return self.client.get(
            path, params=params, headers={"Authorization": f"Bearer {self.tokens[user]}"}
        )


@pytest.fixture(
    name="site",
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def site_fixture(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One loaded province per store for the whole module: the tests using it only read."""
    database: Iterator[str] | None = None
    url = None
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")  # skips (or fails in CI) without PostgreSQL
        database = fresh_pg_database()
        url = next(database)
    mp = pytest.MonkeyPatch()
    env = make_env(tmp_path_factory.mktemp("quality"), mp, database_url=url)
    mp.undo()
    services = env.app.state.services
    fac_tokens = register_facilities(services.intake)
    with TestClient(env.app) as client:
        load(client, services, fac_tokens)
        env.add_user("chuyenvien", ["doh_specialist"], ["province"])
        env.add_user("nhanvien", ["facility_staff"], [f"facility:{FAC_A}"])
        tokens = {u: env.token(u) for u in ("chuyenvien", "nhanvien")}
        yield Site(env, client, tokens)
    services.close()
    if database is not None:
        next(database, None)  # drops the database


def direct(site: Site, d_from: str, d_to: str, facility: str | None = None) -> dict[str, Any]:
    """The numbers computed in Python from the raw rows, without the workspace's SQL."""
    unseal = keyring(site.env.app.state.services.engine).unseal  # the store's identifiers
    with site.env.app.state.services.engine.connect() as conn:
        heads = conn.execute(select(RecordHead)).all()
        versions = {v.id: v for v in conn.execute(select(RecordVersionRow)).all()}
        findings = conn.execute(select(FindingRow)).all()
    by_key: dict[tuple[str, str], list[Any]] = {}
    for f in findings:
        by_key.setdefault((f.submission_id, f.ma_lk), []).append(f)
    out: dict[str, Any] = {"records": 0, "with": 0, "rejected": 0, "rules": {}, "fac": {},
                           "conv": {}, "risk": Decimal(0), "risk_n": 0}  # fmt: skip
    for h in heads:
        v = versions[h.latest_version_id]
        x1 = record_from_json(v.record, unseal).tables["XML1"][0].values
        day = x1["NGAY_VAO"].date().isoformat()
        if not (d_from <= day <= d_to) or (facility and h.facility != facility):
            continue
        mine = by_key.get((v.submission_id, h.ma_lk), [])
        flagged = any(f.severity in ("error", "warning") for f in mine)
        fac = out["fac"].setdefault(h.facility, [0, 0, 0])
        out["records"] += 1
        fac[0] += 1
        out["with"] += flagged
        fac[1] += flagged
        out["rejected"] += v.status == "rejected"
        fac[2] += v.status == "rejected"
        for code, sev in {(f.code, f.severity) for f in mine}:
            out["rules"][(code, sev)] = out["rules"].get((code, sev), 0) + 1
        for conv in {f.convention for f in mine if f.convention}:
            key = (h.facility, conv)
            out["conv"][key] = out["conv"].get(key, 0) + 1
        if any(PAYER.severity(f.code, RULES[f.code.rsplit(".", 1)[-1]].severity) is Severity.ERROR
               for f in mine):  # fmt: skip
            out["risk"] += x1["T_BHTT"] if x1["T_BHTT"] is not None else x1["T_TONGCHI_BH"]
            out["risk_n"] += 1
    return out


@pytest.mark.parametrize(
    ("d_from", "d_to", "facility"),
    [("2025-08-01", "2025-10-31", None), ("2025-09-01", "2025-09-30", None),
     ("2025-08-01", "2025-10-31", FAC_B)],
)  # fmt: skip
def test_twin_equals_a_direct_count(
    site: Site, d_from: str, d_to: str, facility: str | None
) -> None:
    params = {"from": d_from, "to": d_to, **({"facility": facility} if facility else {})}
    r = site.get("chuyenvien", "/api/v1/quality", **params)
    assert r.status_code == 200, r.text
    got, want = r.json(), direct(site, d_from, d_to, facility)
    assert want["records"] > 10
    assert want["with"] > 0
    assert want["rejected"] > 0
    assert got["period"] == {"from": d_from, "to": d_to}
    assert (got["records"], got["records_with_findings"], got["rejected"]) == (
        want["records"], want["with"], want["rejected"],
    )  # fmt: skip
    assert {(r["code"], r["severity"]): r["records"] for r in got["by_rule"]} == want["rules"]
    assert {f["facility"]: [f["records"], f["with_findings"], f["rejected"]]
            for f in got["by_facility"]} == want["fac"]  # fmt: skip
    assert {(f["facility"], c["code"]): c["records"]
            for f in got["by_facility"] for c in f["conventions"]} == want["conv"]  # fmt: skip
    assert got["records_at_risk"] == want["risk_n"]
    assert got["amount_at_risk"] == pytest.approx(float(want["risk"]), abs=0.01)
    shares = [f["share_with_findings"] for f in got["by_facility"]]
    worst = [f["facility"] for f in sorted(got["by_facility"],
                                           key=lambda f: -f["share_with_findings"])]  # fmt: skip
    assert got["worst_facilities"][0] == worst[0]
    assert max(shares) > 0


def test_months_and_ageing_add_up(site: Site) -> None:
    got = site.get("chuyenvien", "/api/v1/quality/months", **PERIOD).json()
    summary = site.get("chuyenvien", "/api/v1/quality", **PERIOD).json()
    assert [m["month"] for m in got["months"]] == ["2025-08", "2025-09", "2025-10"]
    assert sum(m["records"] for m in got["months"]) == summary["records"]
    assert sum(m["with_findings"] for m in got["months"]) == summary["records_with_findings"]
    assert sum(f["records"] for f in got["facility_months"]) == summary["records"]
    sept = direct(site, "2025-09-01", "2025-09-30")
    cells = [c for c in got["cells"] if c["month"] == "2025-09"]
    flagged_rules = {k: n for k, n in sept["rules"].items() if k[1] != "info"}
    assert sum(c["records"] for c in cells) == sum(flagged_rules.values())
    bands = summary["ageing"]["bands"]
    assert sum(b["with_findings"] for b in bands) == summary["records_with_findings"]
    assert sum(b["rejected"] for b in bands) == summary["rejected"]
    assert all(b["with_findings"] == 0 for b in bands if b["band"] in ("0-30", "unknown"))


def test_latest_version_counts_once(site: Site) -> None:
    """The three records resent corrected count once each, as sent last (clean, September)."""
    got = site.get("nhanvien", "/api/v1/quality/records", **PERIOD, status="").json()
    listed = {r["ma_lk"] for r in got["rows"]}
    assert not listed & {f"LK{FAC_A}{i:03d}" for i in range(3)}
    sept = site.get("chuyenvien", "/api/v1/quality/months", **PERIOD).json()
    assert sum(m["records"] for m in sept["months"]) == 72  # 2 × 36 records, never 2 × 39


def test_facility_staff_see_their_own_records_only(site: Site) -> None:
    mine = site.get("nhanvien", "/api/v1/quality/records", **PERIOD)
    assert mine.status_code == 200
    rows = mine.json()["rows"]
    want = direct(site, PERIOD["from"], PERIOD["to"], FAC_A)
    assert mine.json()["total"] == len(rows) > 0
    assert {r["facility"] for r in rows} == {FAC_A}
    assert len(rows) == sum(1 for _ in rows)
    assert want["records"] >= len(rows)
    for r in rows:
        assert r["receipt_url"] == f"/api/v1/submissions/{r['submission_id']}"
        assert site.get("nhanvien", r["receipt_url"]).status_code == 200
    assert site.get("nhanvien", "/api/v1/quality/records", **PERIOD,
                    facility=FAC_B).status_code == 404  # fmt: skip
    assert site.get("nhanvien", "/findings", **PERIOD, facility=FAC_B).status_code == 404
    assert site.get("nhanvien", "/api/v1/quality", **PERIOD).status_code == 403
    assert site.get("nhanvien", "/quality", **PERIOD).status_code == 403
    page = site.get("nhanvien", "/findings", **PERIOD)
    assert page.status_code == 200
    assert f'data-facility="{FAC_B}"' not in page.text
    assert f'data-facility="{FAC_A}"' in page.text


def test_filters_by_rule_and_month(site: Site) -> None:
    code = "XML1.MA_BENH_CHINH.REQUIRED"
    got = site.get("chuyenvien", "/api/v1/quality/records", **PERIOD, code=code,
                   month="2025-09").json()  # fmt: skip
    want = direct(site, "2025-09-01", "2025-09-30")
    assert got["total"] == sum(n for (c, _), n in want["rules"].items() if c == code) > 0
    assert all(code in r["codes"] and r["month"] == "2025-09" for r in got["rows"])


def test_identifying_values_masked_for_who_may_not_see_them(site: Site) -> None:
    code = "XML1.SO_CCCD.MISMATCH"
    spec = site.get("chuyenvien", "/api/v1/quality/records", **PERIOD, code=code,
                    facility=FAC_A).json()  # fmt: skip
    staff = site.get("nhanvien", "/api/v1/quality/records", **PERIOD, code=code).json()
    assert spec["rows"]
    assert staff["rows"]
    spec_vals = [f["value"] for r in spec["rows"] for f in r["findings"] if f["code"] == code]
    staff_vals = [f["value"] for r in staff["rows"] for f in r["findings"] if f["code"] == code]
    assert set(spec_vals) == {None}
    assert "082099526620" in staff_vals


def test_exports_open_and_hold_the_rows(site: Site) -> None:
    r = site.get("nhanvien", "/api/v1/quality/records/export.xlsx", **PERIOD)
    assert r.status_code == 200
    twin = site.get("nhanvien", "/api/v1/quality/records", **PERIOD).json()
    ws = load_workbook(io.BytesIO(r.content)).active
    rows = list(ws.iter_rows(values_only=True))
    head = next(i for i, row in enumerate(rows) if row[0] == "MA_CSKCB")
    body = rows[head + 1 :]
    assert len(body) == sum(max(1, len(x["findings"])) for x in twin["rows"])
    assert {row[1] for row in body} == {x["ma_lk"] for x in twin["rows"]}
    assert all(row[0] == FAC_A for row in body)
    xlsx = site.get("chuyenvien", "/api/v1/quality/export.xlsx", **PERIOD, table="rules")
    ws = load_workbook(io.BytesIO(xlsx.content)).active
    codes = {row[0] for row in ws.iter_rows(values_only=True)}
    summary = site.get("chuyenvien", "/api/v1/quality", **PERIOD).json()
    assert {x["code"] for x in summary["by_rule"]} <= codes
    # the facility export is an aggregate export: it needs `export` (facility staff lack it)
    assert site.get("nhanvien", "/api/v1/quality/export.xlsx", **PERIOD).status_code == 403


def test_aggregates_only_caller_gets_small_counts_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(tmp_path, monkeypatch, open_dashboard=True)
    fac_tokens = register_facilities(env.app.state.services.intake)
    recs = [record(f"LKS{i}", facility=FAC_A) for i in range(2)]
    recs[0].episode.values["MA_LOAI_KCB"] = ""  # rejected under every profile
    with TestClient(env.app) as client:
        client.post("/api/v1/submissions", content=envelope(recs, FAC_A, date(2025, 8, 28)),
                    headers={"Authorization": f"Bearer {fac_tokens[FAC_A]}",
                             "Content-Type": "application/xml"})  # fmt: skip
        got = client.get("/api/v1/quality", params=PERIOD).json()
        assert got["suppressed_below"] > 2
        assert got["records"] is None
        assert got["rejected"] is None
        assert got["by_facility"][0]["records"] is None
        assert client.get("/api/v1/quality/records", params=PERIOD).status_code in (401, 403)
        page = client.get("/quality", params=PERIOD)
        assert page.status_code == 200
        assert 'id="suppressed-note"' in page.text
        assert 'class="drill"' not in page.text
    env.app.state.services.close()


def test_pages_render_for_the_specialist(site: Site) -> None:
    page = site.get("chuyenvien", "/quality", **PERIOD)
    assert page.status_code == 200
    for anchor in ('id="q-kpis"', 'id="q-facilities"', 'id="q-rules"', 'id="q-trend"',
                   'id="q-ageing"', 'id="q-grid-facilities"', 'data-convention="GDV_ZERO"',
                   'href="/findings?'):  # fmt: skip
        assert anchor in page.text, anchor
    en = site.get("chuyenvien", "/quality", **PERIOD, lang="en")
    assert "Data quality" in en.text
    assert "Chất lượng dữ liệu" in page.text


def test_payer_severity_and_rule_texts() -> None:
    assert payer_severity("XML1.T_BHTT_GDV.SUM") == "error"
    assert payer_severity("XML14.MA_TTDV.MAX_LENGTH") == "warning"
    assert payer_severity("XML1.T_BHTT.NOT_A_RULE") == "warning"  # unknown never blocks
    info = explain("XML14.MA_TTDV.MAX_LENGTH")
    assert info["conventions"] == ["MA_TTDV_CCHN"]
    assert info["meaning_vi"].startswith("XML14.MA_TTDV ")
    assert "{" not in info["meaning_vi"]
    assert "DRUG_LINES_ABSENT" in explain("XML1.T_THUOC.SUM")["conventions"]
