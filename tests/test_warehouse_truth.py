"""The JSON twin of the KCB dashboard against the synth's ground truth (manifest and truth
cubes) for several filter combinations, and against a direct count over the accepted records."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from khoyte.web.app import create_app
from tests.warehouse_helpers import (
    Province,
    accepted_records,
    direct_count,
    expected_from_truth,
    make_province,
    truth_rows,
    twin_numbers,
)

pytestmark = pytest.mark.slow  # a synthetic province generated and loaded: about a minute


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Province:
    return make_province(tmp_path_factory.mktemp("synth"), tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def client(province: Province) -> Iterator[TestClient]:
    app = create_app(province.settings)
    with TestClient(app) as c:
        yield c
    app.state.services.close()


def twin(client: TestClient, **params: str) -> dict[str, Any]:
    r = client.get("/api/v1/dashboards/kcb", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def pick(p: Province, attr: str, rank: int = 0) -> str:
    """A commune / facility with many visits (so the filter is not trivially empty)."""
    counts: dict[str, int] = {}
    for fac, vals in p.manifest["by_facility"].items():
        key = p.facilities[fac]["ma_xa"] if attr == "commune" else fac
        counts[key] = counts.get(key, 0) + vals["visits"]
    return sorted(counts, key=lambda k: (-counts[k], k))[rank]


def test_shape_is_the_documented_one(client: TestClient) -> None:
    body = twin(client, **{"from": "2025-01-01", "to": "2025-01-31"})
    assert list(body) == [
        "period", "filters", "facilities_reporting", "visits", "emergencies", "deaths",
        "bed_days", "costs", "bhyt_records", "top_icd10", "monthly", "suppressed_below", "as_of",
        "ready", "catching_up_since",  # added (issue 12): whether the numbers are complete
    ]  # fmt: skip
    assert list(body["visits"]) == [
        "total", "by_loai_kcb", "outpatient", "inpatient", "by_sex", "by_age_band",
    ]  # fmt: skip
    assert set(body["visits"]["by_sex"]) == {"1", "2", "3"}
    assert list(body["costs"]) == ["total", "bhyt", "patient"]
    assert body["period"] == {"from": "2025-01-01", "to": "2025-01-31"}
    assert body["as_of"]
    for item in body["top_icd10"]:
        assert set(item) >= {"code", "name_vi", "count"}


def test_whole_period_equals_the_manifest(client: TestClient, province: Province) -> None:
    m = province.manifest
    body = twin(client, **{"from": "2024-01-01", "to": "2025-02-28"})
    tot = m["totals"]
    assert body["visits"]["total"] == tot["visits"]
    assert body["emergencies"] == tot["emergencies"]
    assert body["deaths"] == tot["deaths"] > 0
    assert body["bed_days"] == tot["bed_days"]
    assert Decimal(str(body["costs"]["total"])) == Decimal(tot["t_tongchi_bv"])
    assert Decimal(str(body["costs"]["bhyt"])) == Decimal(tot["t_bhtt"])
    assert Decimal(str(body["costs"]["patient"])) == Decimal(tot["patient_paid"])
    assert body["bhyt_records"] == tot["bhyt_records"]
    assert body["facilities_reporting"] == len(m["by_facility"])
    assert body["visits"]["by_loai_kcb"] == {k: v["visits"] for k, v in m["by_visit_type"].items()}
    assert {k: v for k, v in body["visits"]["by_sex"].items() if v} == {
        k: v["visits"] for k, v in m["by_sex"].items()
    }
    assert {k: v for k, v in body["visits"]["by_age_band"].items() if v} == {
        k: v["visits"] for k, v in m["by_age_band"].items() if v["visits"]
    }
    assert [(t["code"], t["count"]) for t in body["top_icd10"]] == [
        (t["code"], t["visits"]) for t in m["top_icd10"][:10]
    ]
    monthly = {row["month"]: row["visits"] for row in body["monthly"]}
    assert monthly == {k: v["visits"] for k, v in m["by_month"].items()}
    # Same period last year: January 2025 is compared with January 2024.
    jan = next(r for r in body["monthly"] if r["month"] == "2025-01")
    assert jan["visits_last_year"] == m["by_month"]["2024-01"]["visits"] > 0


MONTH_CASES = [
    ("none", {}),
    ("commune", {"commune": 0}),
    ("facility", {"facility": 0}),
    ("second facility", {"facility": 1}),
    ("tier", {"tier": "xa"}),
    ("visit type", {"loai_kcb": "03"}),
    ("tier and visit type", {"tier": "tinh", "loai_kcb": "01"}),
    ("commune and visit type", {"commune": 1, "loai_kcb": "01"}),
]


@pytest.mark.parametrize(("label", "case"), MONTH_CASES, ids=[c[0] for c in MONTH_CASES])
def test_filters_over_months_equal_the_truth_cube(
    client: TestClient, province: Province, label: str, case: dict[str, Any]
) -> None:
    params = {"from": "2024-11-01", "to": "2025-01-31"}
    for key, value in case.items():
        params[key] = pick(province, key, value) if isinstance(value, int) else value
    months = {"2024-11", "2024-12", "2025-01"}

    def keep(r: dict[str, str], fac: dict[str, str]) -> bool:
        return (
            r["month"] in months
            and ("commune" not in params or fac["ma_xa"] == params["commune"])
            and ("facility" not in params or r["ma_cskcb"] == params["facility"])
            and ("tier" not in params or fac["tuyen"] == params["tier"])
            and ("loai_kcb" not in params or r["ma_loai_kcb"] == params["loai_kcb"])
        )

    want = expected_from_truth(province, truth_rows(province, "monthly"), keep=keep)
    body = twin(client, **params)
    assert body["filters"] == {
        k: params.get(k) for k in ("commune", "facility", "tier", "loai_kcb")
    }
    assert want["total"] > 0
    assert twin_numbers(body) == want


DAY_CASES = [
    ("days", {}),
    ("days, tier", {"tier": "khu_vuc"}),
    ("days, facility", {"facility": 0}),
    ("days, visit type", {"loai_kcb": "05"}),
]


@pytest.mark.parametrize(("label", "case"), DAY_CASES, ids=[c[0] for c in DAY_CASES])
def test_filters_over_days_equal_the_daily_truth(
    client: TestClient, province: Province, label: str, case: dict[str, Any]
) -> None:
    params = {"from": "2024-07-10", "to": "2024-07-24"}
    for key, value in case.items():
        params[key] = pick(province, key, value) if isinstance(value, int) else value
    lo, hi = date(2024, 7, 10), date(2024, 7, 24)

    def keep(r: dict[str, str], fac: dict[str, str]) -> bool:
        return (
            lo <= date.fromisoformat(r["date"]) <= hi
            and ("facility" not in params or r["ma_cskcb"] == params["facility"])
            and ("tier" not in params or fac["tuyen"] == params["tier"])
            and ("loai_kcb" not in params or r["ma_loai_kcb"] == params["loai_kcb"])
        )

    want = expected_from_truth(province, truth_rows(province, "daily"), keep=keep)
    got = twin_numbers(twin(client, **params))
    assert want["total"] > 0
    # The daily cube has no sex or age band: compare everything else.
    for key in ("by_sex", "by_age_band"):
        del want[key]
        assert sum(got.pop(key).values()) == want["total"]
    assert got == want


@pytest.mark.parametrize("tier", [None, "xa"])
def test_twin_equals_a_direct_count_over_accepted_records(
    client: TestClient, province: Province, tier: str | None
) -> None:
    records = accepted_records(province.root)
    lo, hi = date(2024, 3, 1), date(2024, 8, 31)

    def keep(fac: str, ep: Any) -> bool:
        admitted = ep.admitted.date()
        return lo <= admitted <= hi and (tier is None or province.facilities[fac]["tuyen"] == tier)

    want = direct_count(records, keep)
    params = {"from": lo.isoformat(), "to": hi.isoformat()}
    if tier:
        params["tier"] = tier
    got = twin_numbers(twin(client, **params))
    assert got["total"] == want["total"] > 0
    assert got["facilities_reporting"] == want["facilities_reporting"]
    for key in ("inpatient", "emergencies", "deaths", "bed_days", "bhyt_records"):
        assert got[key] == want[key], key
    assert got["costs"] == want["costs"]


def test_breakdown_rows_add_up_to_the_total(client: TestClient) -> None:
    params = {"from": "2024-06-01", "to": "2024-09-30"}
    total = twin(client, **params)["visits"]["total"]
    for by in ("commune", "facility"):
        r = client.get("/api/v1/dashboards/kcb/breakdown", params={**params, "by": by})
        assert r.status_code == 200
        assert sum(row["visits"] for row in r.json()["rows"]) == total


def test_daily_series_adds_up_to_the_total(client: TestClient) -> None:
    params = {"from": "2025-01-01", "to": "2025-01-31"}
    body = client.get("/api/v1/dashboards/kcb/daily", params=params).json()
    assert len(body["daily"]) == 31
    assert sum(d["visits"] for d in body["daily"]) == twin(client, **params)["visits"]["total"]
    assert (
        sum(d["visits_last_year"] for d in body["daily"])
        == (twin(client, **{"from": "2024-01-01", "to": "2024-01-31"})["visits"]["total"])
    )


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2025-13-01", "to": "2025-01-31"},
        {"from": "2025-02-01", "to": "2025-01-01"},
        {"from": "2025-01-01", "to": "2025-01-31", "tier": "nope"},
        {"from": "2025-01-01", "to": "2025-01-31", "facility": "x' OR 1=1 --"},
        {"from": "1900-01-01", "to": "2025-01-31"},
        {"from": "0001-01-01", "to": "0001-12-31"},
        {"from": "2025-01-01", "to": "9999-12-31"},
        {"from": "2025-01-01", "to": "2025-01-31", "loai_kcb": "0" * 50},
    ],
)
def test_bad_parameters_get_the_one_error_shape(client: TestClient, params: dict[str, str]) -> None:
    r = client.get("/api/v1/dashboards/kcb", params=params)
    assert r.status_code == 422
    assert set(r.json()["error"]) >= {"status", "code", "message_vi", "message_en"}
