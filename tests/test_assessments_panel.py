"""IOC group 7's XML12 panel and the forms' measures on ``fact_assessment``: by meeting day and
by the assessed person's commune of residence, unknown communes kept at province level, small
counts hidden — every count against the synth council's ``truth/assessments.csv``."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from khoyte.aggregate.metadata import load
from khoyte.config import Settings
from khoyte.handoff import RecordVersion
from khoyte.registry.adminunits import communes_of
from khoyte.registry.facilities import import_file
from khoyte.registry.models import CommuneMap
from khoyte.services import build_services
from khoyte.standards.assessment import assessment_key
from khoyte.standards.model import Record, Standard, make_row
from khoyte.store.db import session_scope
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from tests.aggregate_helpers import client_for
from tests.assessment_helpers import (
    MONTHS,
    Council,
    by_month_kind,
    check_warehouse,
)
from tests.warehouse_helpers import WithExtra


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, council: Council) -> Settings:
    """The warehouse loaded from the files (the demo's and `khoyte warehouse`'s file source),
    the registry knowing the province's facilities and the council."""
    return _load(tmp_path_factory.mktemp("gdyk-data"), council, FileVersionSource(council.root))


def _load(folder: Path, c: Council, source: Any, commune_map: CommuneMap | None = None) -> Settings:
    """Settings of a data folder whose warehouse is built from ``source`` and whose registry
    knows the province's facilities (and ``commune_map``, an old commune code's new one)."""
    settings = Settings(data_dir=folder, warehouse_refresh_seconds=0, small_count_threshold=0)
    wh = Warehouse(settings)
    try:
        wh.rebuild(source)
        if isinstance(source, FileVersionSource):
            check_warehouse(wh, c)
    finally:
        wh.close()
    services = build_services(settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            import_file(s, c.root / "facilities.csv")
            if commune_map is not None:
                s.add(commune_map)
    finally:
        services.close()
    return settings


@pytest.fixture(scope="module")
def client(loaded: Settings) -> Iterator[TestClient]:
    with client_for(loaded) as c:
        yield c


def _panel(client: TestClient, who: str, **params: str) -> dict[str, Any]:
    r = client.get("/api/v1/ioc/giam_dinh", params={"from": "2025-01", "to": "2025-03", **params},
                   headers={"x-test-scope": who})  # fmt: skip
    assert r.status_code == 200, r.text
    return next(p for p in r.json()["panels"] if p["code"] == "giam_dinh_xml12")


def _check_panel(panel: dict[str, Any], rows: list[dict[str, str]]) -> None:
    """The panel's total, months and kinds equal ``rows`` of the truth."""
    want = by_month_kind(rows)
    assert panel["actual"] == len(rows)
    assert {m["month"]: m["actual"] for m in panel["monthly"]} == {
        m: sum(n for (mo, _), n in want.items() if mo == m) for m in MONTHS
    }
    assert {o["code"]: o["value"] for o in panel["by_option"]} == {
        k: sum(n for (_, kk), n in want.items() if kk == k)
        for k in load().combos["giam_dinh"].combinations
    }


def _breakdown(panel: dict[str, Any]) -> dict[str | None, int]:
    return {r["code"]: r["actual"] for r in panel["breakdown"]}


def test_group_7_xml12_panel_places_each_assessment_in_the_persons_commune(
    loaded: Settings, client: TestClient, council: Council
) -> None:
    c = council
    panel = _panel(client, "province")
    _check_panel(panel, c.truth)
    # by the assessed person's commune of residence (MAXA_CU_TRU), not the council's
    by_commune = Counter(r["maxa_cu_tru"] for r in c.truth)
    assert len(by_commune) > 10  # the synth's persons live across the province
    assert _breakdown(panel) == dict(by_commune)
    assert {r["level"] for r in panel["breakdown"]} == {"commune"}  # no "commune unknown" row
    # a commune's leader sees exactly their residents' assessments (months × kinds), whoever
    # sent them; the council's own commune only its residents; a commune with none sees none
    busiest = by_commune.most_common(1)[0][0]
    other = next(x for x, _ in by_commune.most_common() if x not in (busiest, c.commune))
    nobody = next(x for x, _ in communes_of(c.code[:2]) if x not in by_commune)
    for commune in (busiest, other, c.commune, nobody):
        mine = [r for r in c.truth if r["maxa_cu_tru"] == commune]
        scoped = _panel(client, f"commune:{commune}")
        _check_panel(scoped, mine)
        assert _breakdown(scoped) == ({commune: len(mine)} if mine else {})
        # the province's drill-down into the commune says the same
        drilled = _panel(client, "province", orgunit=commune)
        _check_panel(drilled, mine)
    # the council chosen as a facility: the assessments it sent, by where the persons live
    sent = _panel(client, "province", orgunit=c.code)
    _check_panel(sent, c.truth)
    assert _breakdown(sent) == dict(by_commune)
    # the assessed persons' communes, as the warehouse holds them (MAXA_CU_TRU)
    wh = Warehouse(loaded)
    try:
        got = Counter(
            (f"{d:%Y-%m}", str(x))
            for d, x in wh.engine.query("SELECT ngay_hop, maxa_cu_tru FROM fact_assessment")
        )
    finally:
        wh.close()
    assert got == Counter((r["month"], r["maxa_cu_tru"]) for r in c.truth)


def test_form_measures_on_xml12_count_by_meeting_day_and_residence(
    loaded: Settings, council: Council
) -> None:
    """A form cell on ``fact_assessment`` (none of the package's forms has one yet) counts the
    council's records by ``NGAY_HOP`` and the person's commune of residence — not through an
    episode they do not have: a commune's form counts its residents, the council's its own."""
    from khoyte.access import Scope
    from khoyte.aggregate.form_claims import claims_values, measure_problems
    from khoyte.aggregate.metadata import FormMeasure
    from khoyte.aggregate.periods import Period, parse
    from khoyte.analytics.filters import Filters

    c = council
    measures = [
        FormMeasure("all", "fact_assessment", "rows", (), "XML12"),
        FormMeasure("nkt", "fact_assessment", "rows", (("ma_doi_tuong", "has", "NKT"),), "XML12"),
        FormMeasure("first", "fact_assessment", "rows", (("kham_giam_dinh", "=", "1"),), "XML12"),
        FormMeasure("rate", "fact_assessment", "sum:tyle_ttct_moi", (), "XML12"),
    ]
    assert all(measure_problems(m) == [] for m in measures)
    bad = FormMeasure("x", "fact_assessment", "rows", (("e.age", ">", 60),), "XML12")
    assert measure_problems(bad) == ["measure x: fact_assessment has no episode ('e.age')"]

    def values(period: Period, scope: Scope, **target: str) -> dict[str, int]:
        wh = Warehouse(loaded)
        try:
            flt = Filters(period.start, period.end, **target)
            return claims_values(wh.engine, scope, measures, flt, period)
        finally:
            wh.close()

    province = Scope(province=True)
    for period, rows in (
        (parse("2025Q1"), c.truth),
        (parse("202502"), [r for r in c.truth if r["month"] == "2025-02"]),
    ):
        got = values(period, province)
        assert got["all"] == len(rows) > 0
        assert got["nkt"] == sum(r["ma_doi_tuong"] == "NKT" for r in rows)
        assert got["first"] == sum(r["kham_giam_dinh"] == "1" for r in rows)
    q1 = parse("2025Q1")
    for commune in {r["maxa_cu_tru"] for r in c.truth} | {c.commune}:
        mine = [r for r in c.truth if r["maxa_cu_tru"] == commune]
        # a commune leader's scope, and the province's form for that commune
        assert values(q1, Scope(communes=frozenset({commune})))["all"] == len(mine)
        assert values(q1, province, commune=commune)["all"] == len(mine)
    # the council's form (a facility): what it sent; a facility's scope sees what it sent
    assert values(q1, province, facility=c.code)["all"] == len(c.truth)
    assert values(q1, Scope(facilities=frozenset({c.code})))["all"] == len(c.truth)
    assert values(parse("2025Q2"), province)["all"] == 0


def test_assessment_submissions_are_dated_by_the_meeting_and_counted_as_reporting(
    loaded: Settings, council: Council
) -> None:
    """``fact_submission`` dates an assessment version by its ``NGAY_HOP`` (as a claim's by its
    ``NGAY_VAO``): the completeness and timeliness view counts the council."""
    from khoyte.access import Scope
    from khoyte.analytics.completeness import completeness
    from khoyte.analytics.filters import Filters

    c = council
    wh = Warehouse(loaded)
    try:
        dated = {
            str(m): d
            for m, d in wh.engine.query(
                "SELECT ma_lk, ngay_vao FROM fact_submission WHERE facility = ?", [c.code]
            )
        }
        assert dated == {
            assessment_key(r["so_bien_ban"]): date.fromisoformat(r["ngay_hop"]) for r in c.truth
        }
        flt = Filters(date(2025, 1, 1), date(2025, 3, 31))
        by_day = completeness(wh.engine, Scope.whole_province(), flt, grid=True)
        by_month = completeness(wh.engine, Scope.whole_province(), flt, unit="month")
        feb = completeness(wh.engine, Scope.whole_province(), Filters(date(2025, 2, 1),
                                                                      date(2025, 2, 28)))  # fmt: skip
    finally:
        wh.close()
    mine = next(f for f in by_day["facilities"] if f["facility"] == c.code)
    days = {r["ngay_hop"] for r in c.truth}
    assert (mine["records"], mine["rejected"], mine["days_with_data"]) == (len(c.truth), 0,
                                                                            len(days))  # fmt: skip
    assert mine["last_day_with_data"] == max(days)
    assert not mine["silent"]
    assert c.code not in by_day["silent"]
    grid = Counter({r["day"]: r["records"] for r in by_day["grid"] if r["facility"] == c.code})
    assert grid == Counter(r["ngay_hop"] for r in c.truth)
    months = {r["month"]: r["records"] for r in by_month["grid"] if r["facility"] == c.code}
    assert months == dict(Counter(r["month"] for r in c.truth))
    in_feb = next(f for f in feb["facilities"] if f["facility"] == c.code)
    assert in_feb["records"] == sum(r["month"] == "2025-02" for r in c.truth)


@dataclass
class Placed:
    settings: Settings
    extra: dict[str, str | None]  # SO_BIEN_BAN -> MAXA_CU_TRU as sent
    old: str  # a pre-2025 commune code the registry maps to ``into``
    into: str


@pytest.fixture(scope="module")
def placed(tmp_path_factory: pytest.TempPathFactory, council: Council) -> Placed:
    """The council's quarter and four more February assessments: no MAXA_CU_TRU, a code that
    is no commune, a commune of another province, and a pre-2025 code the registry maps to a
    commune of the province (``rg_commune_map``)."""
    from khoyte.registry.adminunits import communes

    c = council
    into = Counter(r["maxa_cu_tru"] for r in c.truth).most_common(1)[0][0]
    old = next(f"{n:05d}" for n in range(int(into) + 1, 99999) if f"{n:05d}" not in communes())
    elsewhere = communes_of("01")[0][0]  # Hà Nội
    extra: dict[str, str | None] = {"90001/2025/BB-GĐYK": None, "90002/2025/BB-GĐYK": "99999",
                                    "90003/2025/BB-GĐYK": elsewhere, "90004/2025/BB-GĐYK": old}  # fmt: skip
    assert "99999" not in communes()
    versions = []
    for i, (number, commune) in enumerate(extra.items()):
        values: dict[str, Any] = {"SO_BIEN_BAN": number, "NGAY_HOP": date(2025, 2, 11),
                                  "MA_DOI_TUONG": "NKT", "KHAM_GIAM_DINH": "1",
                                  "NGAY_SINH": date(1970, 1, 1), "MATINH_CU_TRU": c.code[:2]}  # fmt: skip
        if commune is not None:
            values["MAXA_CU_TRU"] = commune
        key = str(assessment_key(number))
        record = Record(key, Standard.QD130, {"XML12": [make_row("XML12", values)]})
        versions.append(RecordVersion(10_000_000 + i, c.code, key, 1, f"x{i}",
                                      datetime(2025, 2, 12, tzinfo=UTC), "accepted", record))  # fmt: skip
    mapped = CommuneMap(old_code=old, old_level="commune", new_commune=into, source="test")
    source = WithExtra(FileVersionSource(c.root), versions)
    settings = _load(tmp_path_factory.mktemp("gdyk-placed"), c, source, mapped)
    return Placed(settings, extra, old, into)


def test_an_assessment_of_no_known_commune_counts_in_the_province_only(
    placed: Placed, council: Council
) -> None:
    from khoyte.access import Scope
    from khoyte.aggregate import residence
    from khoyte.aggregate.form_claims import claims_values
    from khoyte.aggregate.metadata import FormMeasure
    from khoyte.aggregate.periods import parse
    from khoyte.analytics.filters import Filters

    c, into = council, placed.into
    residents = sum(r["maxa_cu_tru"] == into for r in c.truth)
    with client_for(placed.settings) as client:
        panel = _panel(client, "province")
        scoped = _panel(client, f"commune:{into}")
        by_commune = Counter(r["maxa_cu_tru"] for r in c.truth)
        others = {x: _panel(client, f"commune:{x}")["actual"] for x in list(by_commune)[:5]}
    # nothing lost: missing, no commune and another province's commune in one row of the
    # province (no link down); the old code in the commune it became
    assert panel["actual"] == len(c.truth) + 4
    assert sum(o["value"] for o in panel["by_option"]) == len(c.truth) + 4
    assert {m["month"]: m["actual"] for m in panel["monthly"]}["2025-02"] == 4 + sum(
        r["month"] == "2025-02" for r in c.truth
    )
    unknown = [r for r in panel["breakdown"] if r["code"] is None]
    assert [(r["level"], r["actual"], r["plan"]) for r in unknown] == [("province", 3, None)]
    assert unknown[0]["name"].startswith("Không rõ xã cư trú")
    assert "unknown" in unknown[0]["name"]
    assert panel["breakdown"][-1] is unknown[0]  # listed last
    assert _breakdown(panel) == {**by_commune, into: residents + 1, None: 3}
    assert sum(r["actual"] for r in panel["breakdown"]) == panel["actual"]
    # a commune sees its residents (the old code's included), never the unknown ones
    assert scoped["actual"] == residents + 1
    assert _breakdown(scoped) == {into: residents + 1}
    assert others == {x: by_commune[x] + (x == into) for x in others}
    # a form for the commune counts the same, reading old codes through the registry's map
    services = build_services(placed.settings, warehouse=False)
    try:
        with session_scope(services.sessions) as s:
            places = residence.load(s)
    finally:
        services.close()
    assert places.codes([into]) == sorted([into, placed.old])
    q1 = parse("2025Q1")
    every = [FormMeasure("all", "fact_assessment", "rows", (), "XML12")]
    wh = Warehouse(placed.settings)
    try:

        def count(scope: Scope, res: residence.Residence | None, **target: str) -> int:
            flt = Filters(q1.start, q1.end, **target)
            return claims_values(wh.engine, scope, every, flt, q1, res)["all"]

        province = Scope.whole_province()
        assert count(province, places) == len(c.truth) + 4
        assert count(province, places, commune=into) == residents + 1
        assert count(Scope(communes=frozenset({into})), places) == residents + 1
        assert count(province, None, commune=into) == residents  # 2025 codes only
    finally:
        wh.close()


def test_small_counts_of_the_xml12_panel_are_hidden(placed: Placed, council: Council) -> None:
    settings = placed.settings.model_copy(update={"small_count_threshold": 5})
    with client_for(settings) as client:
        panel = _panel(client, "province")
    rows = _breakdown(panel)
    assert rows[None] is None  # 3 papers of no known commune: hidden
    full = Counter(r["maxa_cu_tru"] for r in council.truth)
    full[placed.into] += 1
    assert {k: v for k, v in rows.items() if k is not None} == {
        k: (None if 0 < n < 5 else n) for k, n in full.items()
    }
    assert any(v is None for k, v in rows.items() if k)
    assert any(v for v in rows.values())
    assert panel["actual"] == len(council.truth) + 4
