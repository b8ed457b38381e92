"""The warehouse counts people: persons served, visits per person, re-admissions within 30 days
and referral flows (with the destination's follow-up) equal the synth's ground truth
(``truth/episodes.csv``: the true person of every visit) for the province and a commune-scoped
user, with the person key taken from the master person index through the hand-off; a merge
and an unmerge in the index change the dashboard's count of persons."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from khoyte.access import Scope
from khoyte.analytics import people
from khoyte.analytics.filters import Filters
from khoyte.analytics.people import FOLLOWUP_DAYS, READMISSION_DAYS
from khoyte.persons.feed import StorePersonSource
from khoyte.persons.identity import identity_of
from khoyte.persons.index import PersonIndex
from khoyte.persons.models import PersonRecord
from khoyte.store.db import make_engine, migrate
from khoyte.synth.generate import SynthConfig, run
from khoyte.validate.codelists import INPATIENT_TYPES
from khoyte.warehouse.engine import DuckDBEngine
from khoyte.warehouse.loader import Loader
from khoyte.warehouse.sources import FileVersionSource

pytestmark = pytest.mark.slow  # a province generated, linked and loaded: about a minute

KEY = b"p" * 32
PERIOD = Filters(date(2025, 2, 1), date(2025, 3, 31))


@dataclass
class World:
    root: Path
    store: Engine
    loader: Loader
    source: FileVersionSource
    episodes: list[dict[str, Any]]
    commune_of: dict[str, str]

    def refresh(self) -> None:
        self.loader.refresh(self.source, persons=StorePersonSource(self.store))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("people")
    root = tmp / "synth"
    cfg = SynthConfig(seed=3, population=3000, start=date(2025, 1, 1), end=date(2025, 3, 31),
                      aggregates=False, referral_followup=0.8)  # fmt: skip
    run(cfg, root)
    store = make_engine(url=f"sqlite:///{tmp / 'store.sqlite3'}")
    migrate(store)
    source = FileVersionSource(root)
    ids = [(v.version_id, identity_of(v.facility, v.record)) for v in source.iter_versions()]
    with Session(store) as s:
        PersonIndex().batch(s, ids)
        s.commit()
    loader = Loader(DuckDBEngine(tmp / "wh.duckdb"), KEY)
    with (root / "truth" / "episodes.csv").open(encoding="utf-8") as fh:
        episodes = [
            {**r, "ngay_vao": date.fromisoformat(r["ngay_vao"]),
             "ngay_ra": date.fromisoformat(r["ngay_ra"])}
            for r in csv.DictReader(fh)
        ]  # fmt: skip
    with (root / "facilities.csv").open(encoding="utf-8") as fh:
        commune_of = {r["ma_cskcb"]: r["ma_xa"] for r in csv.DictReader(fh)}
    w = World(root, store, loader, source, episodes, commune_of)
    w.refresh()
    return w


def _in(w: World, e: dict[str, Any], scope: Scope, day: date) -> bool:
    held = scope.province or w.commune_of[e["ma_cskcb"]] in scope.communes
    return held and PERIOD.date_from <= day <= PERIOD.date_to


def expected(w: World, scope: Scope) -> dict[str, Any]:
    """The measures counted on the true persons, by the documented rules."""
    eps = w.episodes
    seen = [e for e in eps if _in(w, e, scope, e["ngay_vao"])]
    persons = {e["person_id"] for e in seen}
    inpatient = [e for e in eps if e["ma_loai_kcb"] in INPATIENT_TYPES]
    stays = [
        e for e in inpatient
        if _in(w, e, scope, e["ngay_ra"]) and e["died"] == "0" and e["chuyen_tuyen"] == "0"
    ]  # fmt: skip
    readmitted = sum(1 for e in stays if _readmitted(e, inpatient))
    flows: Counter[tuple[str, str]] = Counter()
    followed: Counter[tuple[str, str]] = Counter()
    for e in seen:
        if not e["ma_noi_den"]:
            continue
        k = (e["ma_cskcb"], e["ma_noi_den"])
        flows[k] += 1
        followed[k] += any(
            n["person_id"] == e["person_id"] and n["ma_cskcb"] == e["ma_noi_den"]
            and e["ngay_ra"] <= n["ngay_vao"] <= e["ngay_ra"] + timedelta(FOLLOWUP_DAYS)
            for n in eps
        )  # fmt: skip
    return {
        "served": len(persons),
        "visits_per_person": round(len(seen) / len(persons), 2),
        "discharges": len(stays),
        "readmitted": readmitted,
        "flows": {k: (n, followed[k]) for k, n in flows.items()},
    }


def _readmitted(e: dict[str, Any], inpatient: list[dict[str, Any]]) -> bool:
    end = e["ngay_ra"] + timedelta(READMISSION_DAYS)
    return any(
        n["person_id"] == e["person_id"]
        and n["ma_lk"] != e["ma_lk"]
        and e["ngay_ra"] <= n["ngay_vao"] <= end
        for n in inpatient
    )


def got(w: World, scope: Scope, small: int = 0) -> dict[str, Any]:
    body = people.people(w.loader.engine, scope, PERIOD, small)
    p, r = body["persons"], body["referrals"]
    return {
        "served": p["served"],
        "visits_per_person": p["visits_per_person"],
        "discharges": p["readmissions"]["discharges"],
        "readmitted": p["readmissions"]["readmitted"],
        "flows": {(f["from"], f["to"]): (f["count"], f["followed_up"]) for f in r["flows"]},
        "body": body,
    }


def _busy_commune(w: World) -> str:
    counts = Counter(w.commune_of[e["ma_cskcb"]] for e in w.episodes)
    return counts.most_common(1)[0][0]


def test_truth_is_not_trivial(world: World) -> None:
    exp = expected(world, Scope.whole_province())
    assert exp["served"] > 500
    assert exp["visits_per_person"] > 1
    assert exp["readmitted"] > 0
    assert sum(n for n, _ in exp["flows"].values()) > 10
    assert sum(k for _, k in exp["flows"].values()) > 5  # the synth's follow-ups are there


@pytest.mark.parametrize("who", ["province", "commune"])
def test_people_equal_the_truth(world: World, who: str) -> None:
    scope = (
        Scope.whole_province() if who == "province"
        else Scope(communes=frozenset({_busy_commune(world)}))
    )  # fmt: skip
    exp, have = expected(world, scope), got(world, scope)
    have.pop("body")
    assert have == exp
    if who == "commune":
        assert have["served"] < expected(world, Scope.whole_province())["served"]


def test_records_not_linked_fall_back_to_their_own_key(world: World, tmp_path: Path) -> None:
    """Without the person index, the key is the record's identifiers' hash: a person whose
    CCCD was not written on one visit counts twice."""
    alone = Loader(DuckDBEngine(tmp_path / "alone.duckdb"), KEY)
    alone.refresh(world.source)
    served = people.people(alone.engine, Scope.whole_province(), PERIOD)["persons"]["served"]
    assert served > expected(world, Scope.whole_province())["served"]
    alone.engine.close()


def test_a_merge_reaches_the_dashboard(world: World) -> None:
    scope = Scope.whole_province()
    before = got(world, scope)["served"]
    with Session(world.store) as s:
        # two persons, each with a visit in the period
        recs = {(r.facility, r.ma_lk): r.health_id for r in s.scalars(select(PersonRecord))}
        in_period = sorted({recs[(e["ma_cskcb"], e["ma_lk"])] for e in world.episodes
                            if _in(world, e, scope, e["ngay_vao"])})  # fmt: skip
        event = PersonIndex().merge(s, in_period[0], in_period[1], "test")
        s.commit()
    world.refresh()
    assert got(world, scope)["served"] == before - 1
    with Session(world.store) as s:
        PersonIndex().unmerge(s, event, "test")
        s.commit()
    world.refresh()
    assert got(world, scope)["served"] == before


def test_small_counts_are_hidden_for_aggregate_roles(world: World) -> None:
    commune = Scope(communes=frozenset({_busy_commune(world)}))
    exact = got(world, commune)["body"]
    hidden = got(world, commune, small=5)["body"]
    flows = exact["referrals"]["flows"]
    for a, b in zip(flows, hidden["referrals"]["flows"], strict=True):
        if 0 < a["count"] < 5:
            assert b["count"] is None
        if 0 < a["followed_up"] < 5:
            assert b["followed_up"] is None
    assert hidden["persons"]["served"] == exact["persons"]["served"]  # a large count stays
    r = exact["persons"]["readmissions"]
    if 0 < r["readmitted"] < 5:
        assert hidden["persons"]["readmissions"]["readmitted"] is None
        assert hidden["persons"]["readmissions"]["rate"] is None


def test_the_feed_in_small_pages_and_chunks_gives_the_same_keys(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's feed read 50 rows a page, applied 97 a transaction (chunks ending inside a
    batch link's one revision), records loaded after: the same person keys as one pass."""
    from khoyte.persons import feed

    monkeypatch.setattr(feed, "_PAGE", 50)
    other = Loader(DuckDBEngine(tmp_path / "paged.duckdb"), KEY)
    changes, mark = other.refresh_persons(StorePersonSource(world.store), batch_size=97)
    with Session(world.store) as s:
        linked = len(list(s.scalars(select(PersonRecord.ma_lk))))
    assert changes >= linked  # each record at least once (a merge and unmerge add changes)
    assert mark == other.persons_watermark() > 0
    other.refresh(world.source)
    q = "SELECT facility, ma_lk, person_key FROM fact_episode ORDER BY 1, 2"
    assert other.engine.query(q) == world.loader.engine.query(q)
    assert other.refresh_persons(StorePersonSource(world.store)) == (0, mark)  # nothing new
    other.engine.close()
