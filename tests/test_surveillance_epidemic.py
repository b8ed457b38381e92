"""GET /api/v1/signals and /epidemic (issue 15 item 7): series with expected values, bounds and
alarms from the documented algorithm per signal, communes ranked by excess, the caller's scope."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from khoyte.surveillance.detect import current_alarms
from tests.alerts_helpers import alerts_env, auth, services
from tests.security_helpers import Env

JUDGED = date(2026, 2, 16)  # the env's clock: Sunday 2026-03-01 → last complete week


def episodes(seed: int, outbreak_in: str | None) -> list[tuple[str, str, date]]:
    rng = np.random.default_rng(seed)
    out: list[tuple[str, str, date]] = []
    start = JUDGED - timedelta(weeks=52 * 3)
    for week in range(52 * 3 + 2):
        monday = start + timedelta(weeks=week)
        for commune in ("C1", "C2"):
            n = int(rng.poisson(6))
            if commune == outbreak_in and monday == JUDGED:
                n += 30
            out += [
                ("A90", commune, monday + timedelta(days=int(d))) for d in rng.integers(0, 7, n)
            ]
    return out


def fill(env: Env, rows: list[tuple[str, str, date]]) -> None:
    eng = services(env).warehouse.engine  # type: ignore[union-attr]
    for i, (icd, commune, day) in enumerate(rows):
        eng.execute(
            "INSERT INTO fact_episode (facility, ma_lk, ngay_vao, ma_xa_cu_tru, ma_benh_chinh, "
            "age_band) VALUES (?, ?, ?, ?, ?, ?)",
            ["F1", f"LK{i}", day, commune, icd, "15-59"],
        )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    mp = pytest.MonkeyPatch()
    e = alerts_env(tmp_path_factory.mktemp("epi"), mp)
    mp.undo()
    fill(e, episodes(7, outbreak_in="C2"))
    return e


def get(env: Env, who: str, **params: str) -> dict[str, object]:
    r = env.client().get("/api/v1/signals", params=params, headers=auth(env.token(who)))
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


def test_the_province_sees_every_commune_and_the_outbreak_ranks_first(env: Env) -> None:
    d = get(env, "tinh")
    assert d["frequency"] == "week"
    assert d["period"] == {"from": (JUDGED - timedelta(weeks=51)).isoformat(),
                           "to": (JUDGED + timedelta(days=6)).isoformat()}  # fmt: skip
    sig = {s["code"]: s for s in d["signals"]}  # type: ignore[attr-defined]
    dengue = sig["dengue"]
    assert dengue["algorithm"] == "farrington_flexible"
    assert len(dengue["points"]) == 52
    last = dengue["points"][-1]
    assert last["label"] == "2026-W08"
    assert last["alarm"] is True
    assert last["observed"] > last["upperbound"] > last["expected"] > 0
    assert sig["measles"]["algorithm"] == "ears_c2"
    assert all(p["alarm"] is None for p in sig["measles"]["points"])  # no case: not judged
    ranking = d["ranking"]
    assert [(r["commune"], r["signal"]) for r in ranking] == [("C2", "dengue"), ("C1", "dengue")]  # type: ignore[index]
    top = ranking[0]  # type: ignore[index]
    assert top["alarm"] is True
    assert top["excess"] == top["observed"] - top["upperbound"] > 0
    # the same verdict as the alert cycle's for that commune and week
    (alarm,) = current_alarms(services(env), today=date(2026, 3, 1))
    assert (alarm.place, alarm.period_start.isoformat()) == ("C2", top["period"])
    assert alarm.upperbound == pytest.approx(top["upperbound"], rel=1e-12)
    assert alarm.expected == pytest.approx(top["expected"], rel=1e-12)


def test_a_commune_leader_sees_only_their_commune(env: Env) -> None:
    d = get(env, "xa1", signal="dengue")
    assert [s["code"] for s in d["signals"]] == ["dengue"]  # type: ignore[attr-defined]
    assert [r["commune"] for r in d["ranking"]] == ["C1"]  # type: ignore[attr-defined]
    area = d["signals"][0]["points"]  # type: ignore[index]
    assert area[-1]["alarm"] is False  # C1 alone: no outbreak
    province = get(env, "tinh", signal="dengue", commune="C1")["signals"][0]["points"]  # type: ignore[index]
    assert [p["observed"] for p in area] == [p["observed"] for p in province]
    other = get(env, "xa1", signal="dengue", commune="C2")
    assert other["ranking"] == []
    assert all(p["observed"] == 0 for p in other["signals"][0]["points"])  # type: ignore[index]


def test_days_ranges_and_refusals(env: Env) -> None:
    d = get(
        env, "tinh", frequency="day", signal="dengue", **{"from": "2026-02-01", "to": "2026-02-22"}
    )
    (s,) = d["signals"]  # type: ignore[misc]
    assert s["algorithm"] == "ears_c2"
    assert len(s["points"]) == 22
    assert s["points"][0]["label"] == "2026-02-01"
    c = env.client()
    tok = auth(env.token("tinh"))
    assert c.get("/api/v1/signals", params={"signal": "cholera"}, headers=tok).status_code == 422
    bad = {"from": "2026-02-10", "to": "2026-02-01"}
    assert c.get("/api/v1/signals", params=bad, headers=tok).status_code == 422
    assert c.get("/api/v1/signals", params={"from": "2000-01-03"}, headers=tok).status_code == 422
    for far in ({"to": "0001-01-01"}, {"from": "9999-12-31"}):  # no overflow: a 422, not a 500
        assert c.get("/api/v1/signals", params=far, headers=tok).status_code == 422
    assert c.get("/api/v1/signals", headers=auth(env.token("nv1"))).status_code == 403
    assert c.get("/api/v1/signals").status_code == 401


def test_the_page_is_vietnamese_first(env: Env, tmp_path: Path) -> None:
    c = env.client()
    tok = auth(env.token("xa1"))
    vi = c.get("/epidemic", headers=tok)
    assert vi.status_code == 200
    assert "Giám sát dịch bệnh" in vi.text
    assert "/static/epidemic.js" in vi.text
    assert "<script>" not in vi.text  # strict CSP: no inline script
    en = c.get("/epidemic", params={"lang": "en"}, headers=tok)
    assert "Epidemic watch" in en.text
