"""The master person index in a real operational store: batch then online linking, stable
health IDs, merge and unmerge with history and audit, review decisions, and the CLI path
(synth → ingest through the gateway → ``khoyte persons link`` → ``links --format csv``)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from khoyte.cli import app
from khoyte.persons.identity import Identity
from khoyte.persons.index import PersonIndex
from khoyte.persons.models import PersonEvent, PersonRecord, PersonRow, ReviewItem
from khoyte.security.models import AuditEntry
from khoyte.store.db import make_engine, migrate
from khoyte.synth.identity_noise import noisy
from tests.persons_helpers import Province, pairwise, province


@pytest.fixture(scope="module")
def prov(tmp_path_factory: pytest.TempPathFactory) -> Province:
    return province(
        tmp_path_factory.mktemp("persons") / "p", population=4000, end=date(2025, 2, 28)
    )


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(url=f"sqlite:///{tmp_path / 'store.sqlite3'}")
    migrate(e)
    return e


def _assignment(s: Session) -> dict[str, str]:
    return {f"{r.facility}|{r.ma_lk}": r.health_id for r in s.scalars(select(PersonRecord))}


def test_batch_then_online_keeps_every_health_id(prov: Province, engine: Engine) -> None:
    items = [(v, noisy(i, prov.communes)) for v, i in prov.identities]
    cut = len(items) * 4 // 5
    index = PersonIndex()
    with Session(engine) as s:
        summary = index.batch(s, items[:cut])
        s.commit()
        assert summary.records == cut
        assert summary.compared > 0
        before = _assignment(s)
        # Online: each later record against the blocking index, one at a time.
        methods = [index.link_one(s, i, v).method for v, i in items[cut:]]
        s.commit()
        after = _assignment(s)
    assert {k: after[k] for k in before} == before  # nobody's ID moved
    assert {"cccd", "bhxh", "new"} <= set(methods)
    precision, recall = pairwise(after, prov.truth)
    assert precision >= 0.995
    assert recall >= 0.98
    # A second batch over everything proposes, and changes no assignment.
    with Session(engine) as s:
        again = index.batch(s, items)
        s.commit()
        assert again.new_records == 0
        assert _assignment(s) == after


def test_merge_then_unmerge_restores_exactly(prov: Province, engine: Engine) -> None:
    index = PersonIndex()
    with Session(engine) as s:
        index.batch(s, prov.identities)
        s.commit()
        start = _assignment(s)
        persons = {r.health_id: r.merged_into for r in s.scalars(select(PersonRow))}
        by_id: dict[str, list[str]] = {}
        for k, h in start.items():
            by_id.setdefault(h, []).append(k)
        a, b = sorted(h for h, ks in by_id.items() if len(ks) >= 2)[:2]
        event = index.merge(s, a, b, "tester")
        s.commit()
        merged = _assignment(s)
        assert all(merged[k] == a for k in by_id[a] + by_id[b])
        assert {k: h for k, h in merged.items() if h != a} == {
            k: h for k, h in start.items() if h not in (a, b)
        }  # an untouched person keeps their ID
        assert s.get(PersonRow, b).merged_into == a  # type: ignore[union-attr]
        index.unmerge(s, event, "tester")
        s.commit()
        assert _assignment(s) == start
        assert {r.health_id: r.merged_into for r in s.scalars(select(PersonRow))} == persons
        kinds = [e.kind for e in s.scalars(select(PersonEvent).order_by(PersonEvent.id))]
        assert kinds == ["merge", "unmerge"]
        with pytest.raises(LookupError):
            index.unmerge(s, event, "tester")  # once only
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"person.merge", "person.unmerge"} <= actions


def test_review_decision_same_merges_distinct_does_not(prov: Province, engine: Engine) -> None:
    index = PersonIndex()
    # Records of two people written again without phone or card and with another commune:
    # name, date of birth and sex agree, residence disagrees — uncertain, so review items.
    with Session(engine) as s:
        index.batch(s, prov.identities)
        s.commit()
        start = _assignment(s)
        q = select(PersonRecord).where(
            PersonRecord.cccd_bi.is_(None), PersonRecord.bhxh_bi.is_not(None)
        )
        recs, got = [], []
        for n, rec in enumerate(s.scalars(q.limit(40)).all()):
            moved = Identity(rec.facility, f"NEW-{n}", rec.ho_ten, rec.name_norm, rec.family,
                             rec.given, rec.name_key, rec.dob, rec.birth_year, rec.sex, None, None,
                             None, "99999", None)  # fmt: skip
            res = index.link_one(s, moved, 10**9 + n)
            assert res.method in ("new", "splink")
            if res.review:
                recs.append(rec)
                got.append((moved, res))
            if len(got) == 2:
                break
        s.commit()
        assert len(got) == 2
        items = list(s.scalars(select(ReviewItem).where(ReviewItem.status == "open")
                               .order_by(ReviewItem.id)))  # fmt: skip
        assert [i.left_key for i in items[-2:]] == [m.key for m, _ in got]
        assert all(r.health_id not in (recs[0].health_id, recs[1].health_id) for _, r in got)
        index.decide(s, items[-2].id, True, "reviewer")
        index.decide(s, items[-1].id, False, "reviewer")
        s.commit()
        now = _assignment(s)
        assert now[got[0][0].key] == recs[0].health_id  # same: the older health ID survives
        assert now[got[1][0].key] == got[1][1].health_id  # distinct: stays a person of its own
        assert {k: now[k] for k in start} == start  # nobody else moved
        with pytest.raises(LookupError):
            index.decide(s, items[-1].id, True, "reviewer")  # decided once
        assert "person.review" in set(s.scalars(select(AuditEntry.action)))


@pytest.mark.slow  # the `khoyte` CLI in subprocesses, as the other CLI end-to-end tests
def test_cli_link_and_links_csv(
    prov: Province, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KHOYTE_DATABASE_URL", raising=False)
    runner = CliRunner()

    def ok(args: list[str]) -> str:
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
        return res.stdout

    ok(["facility", "import", str(prov.root / "facilities.csv")])
    days = sorted(p for p in (prov.root / "xml").iterdir() if p.is_dir())
    half = len(days) // 2
    ok(["ingest", *(str(d) for d in days[:half])])
    out = ok(["persons", "link"])
    assert "pairs compared" in out
    assert "review items" in out
    ok(["ingest", *(str(d) for d in days[half:])])  # received after the batch
    rows = list(csv.DictReader(io.StringIO(ok(["persons", "links", "--format", "csv"]))))
    assert list(rows[0]) == ["ma_cskcb", "ma_lk", "health_id"]
    found = {f"{r['ma_cskcb']}|{r['ma_lk']}": r["health_id"] for r in rows}
    assert set(found) == set(prov.truth)  # every accepted record has a health ID
    precision, recall = pairwise(found, prov.truth)
    assert precision >= 0.995
    assert recall >= 0.99


def test_identity_normal_forms() -> None:
    from khoyte.persons.identity import bhxh_of, cccd_of, fold, identity_of, phone_of
    from khoyte.standards.model import BirthDate
    from tests.factories import record

    assert fold("  NGUYỄN  Thị Ánh  Đào ") == "nguyen thi anh dao"
    assert bhxh_of("GD4828212345678") == "8212345678" == bhxh_of("ht2828212345678")
    assert bhxh_of("XX48282123456") is None  # not a card code
    assert cccd_of("082 190 001 234") == "082190001234"
    assert cccd_of("123456789") is None  # a 9-digit CMND is not a key
    assert phone_of("+84 912 345 678") == "0912345678"
    rec = record("LK1", facility="82001")
    rec.episode.values.update(NGAY_SINH=BirthDate(1990, 5, None), MAXA_CU_TRU="11111")
    ident = identity_of("82001", rec, {"11111": "22222"})
    assert ident.dob == "19900500"
    assert ident.birth_year == 1990
    assert ident.commune == "22222"  # the old code mapped to the 2025 commune
    assert ident.name_key == "nguyen tuyet"  # family + given: what survives a dropped middle
