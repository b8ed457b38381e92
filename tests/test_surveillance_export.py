"""The epidemic page's exports (GET /api/v1/signals/export.{csv,xlsx}): the communes ranked by
excess and the signals over time, in the caller's scope, with the small-count rule of every
export (analytics.disclosure): counts of 1–4 written "< 5" together with their complement, the
excess of a hidden count hidden; the other cells equal the twin's."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from openpyxl import load_workbook

from tests.alerts_helpers import alerts_env, auth
from tests.security_helpers import Env
from tests.test_surveillance_epidemic import JUDGED, fill

LEVELS = {"C1": 9, "C2": 8, "C3": 2.5}  # weekly dengue visits; C3 a handful


def episodes(seed: int) -> list[tuple[str, str, date]]:
    rng = np.random.default_rng(seed)
    out: list[tuple[str, str, date]] = []
    start = JUDGED - timedelta(weeks=52 * 3)
    for week in range(52 * 3 + 1):
        monday = start + timedelta(weeks=week)
        for commune, level in LEVELS.items():
            n = int(rng.poisson(level)) + (40 if commune == "C2" and monday == JUDGED else 0)
            if commune == "C3" and monday == JUDGED:
                n = 2  # a small count at the ranking's period
            out += [
                ("A90", commune, monday + timedelta(days=int(d))) for d in rng.integers(0, 7, n)
            ]
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    mp = pytest.MonkeyPatch()
    e = alerts_env(tmp_path_factory.mktemp("epi-export"), mp)
    mp.undo()
    e.add_user("chuyenvien", ["doh_specialist"], ["province"])
    e.add_user("cvxa1", ["doh_specialist"], ["commune:C1"])
    fill(e, episodes(3))
    return e


def _get(env: Env, who: str, path: str, **params: str) -> Any:
    return env.client().get(path, params=params, headers=auth(env.token(who)))


def _csv(content: bytes) -> list[dict[str, str]]:
    text = content.decode("utf-8")
    assert text.startswith("\ufeff")  # spreadsheet programs read the diacritics
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_ranking_as_csv_and_xlsx_with_small_counts_hidden(env: Env) -> None:
    twin = _get(env, "chuyenvien", "/api/v1/signals", signal="dengue").json()
    exact = {r["commune"]: r for r in twin["ranking"]}
    assert exact["C3"]["observed"] == 2  # the twin (the page) is exact
    r = _get(env, "chuyenvien", "/api/v1/signals/export.csv", signal="dengue")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = _csv(r.content)
    assert list(rows[0])[:6] == ["Tín hiệu", "Bệnh / hội chứng", "Mã xã", "Xã cư trú", "Kỳ",
                                 "Số ca"]  # fmt: skip
    got = {row["Mã xã"]: row for row in rows}
    assert [row["Mã xã"] for row in rows] == [x["commune"] for x in twin["ranking"]]
    # C3's 2 is hidden, and its complement (the next smallest cell of the week) with it
    smallest = min(("C1", "C2"), key=lambda c: exact[c]["observed"])
    for c, row in got.items():
        hidden = c in ("C3", smallest)
        assert row["Số ca"] == ("< 5" if hidden else str(exact[c]["observed"]))
        assert row["Vượt ngưỡng"] == ("" if hidden else str(round(exact[c]["excess"], 3)))
        assert row["Ngưỡng trên"] == str(round(exact[c]["upperbound"], 3))
        assert row["Báo động"] == ("có" if exact[c]["alarm"] else "không")
    assert got["C2"]["Báo động"] == "có"  # the outbreak, still said
    x = _get(env, "chuyenvien", "/api/v1/signals/export.xlsx", signal="dengue", lang="en")
    assert x.status_code == 200
    ws = load_workbook(io.BytesIO(x.content)).active
    values = [list(row) for row in ws.iter_rows(values_only=True)]
    head = next(i for i, v in enumerate(values) if v and v[0] == "Signal")
    table = [dict(zip(values[head], v, strict=True)) for v in values[head + 1 :]]
    assert [(t["Commune code"], t["Cases"]) for t in table] == [
        (c, "< 5" if c in ("C3", smallest) else exact[c]["observed"]) for c in got
    ]


def test_signals_over_time_and_scope(env: Env) -> None:
    twin = _get(env, "cvxa1", "/api/v1/signals").json()
    r = _get(env, "cvxa1", "/api/v1/signals/export.csv", table="signals")
    assert r.status_code == 200
    rows = _csv(r.content)
    points = [(s["code"], p) for s in twin["signals"] for p in s["points"]]
    assert len(rows) == len(points) == 6 * 52
    for row, (code, p) in zip(rows, points, strict=True):
        assert (row["Tín hiệu"], row["Kỳ"]) == (code, p["label"])
        if row["Số ca"] != "< 5":
            assert row["Số ca"] == str(p["observed"])
        else:
            assert 0 <= p["observed"] < 5 or code == "dengue"  # small, or its complement
    # a commune scope exports its commune only
    ranking = _csv(_get(env, "cvxa1", "/api/v1/signals/export.csv").content)
    assert {row["Mã xã"] for row in ranking} == {"C1"}


def test_who_may_export(env: Env) -> None:
    assert _get(env, "xa1", "/api/v1/signals/export.csv").status_code == 403  # no `export`
    assert _get(env, "nv1", "/api/v1/signals/export.csv").status_code == 403
    assert _get(env, "chuyenvien", "/api/v1/signals/export.pdf").status_code == 404
    assert _get(env, "chuyenvien", "/api/v1/signals/export.csv", table="x").status_code == 422
    page = _get(env, "chuyenvien", "/epidemic").text
    assert "/api/v1/signals/export.xlsx?table=ranking" in page
    assert "export.csv" not in _get(env, "xa1", "/epidemic").text
