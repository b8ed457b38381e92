"""Decree 13/2023 (issue 14): no direct identifier readable in the operational store's files
without the key — the raw SQLite file (and its WAL) and every PostgreSQL table read with raw
SQL — while the product still works with the key (batch and online linkage, the health record,
the warehouse); without it, or with a wrong one, nothing opens (a clear error); a rotation
re-encrypts everything under a new key id and keeps the product working."""

from __future__ import annotations

import csv
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from khoyte.config import Settings
from khoyte.gateway.ingest import ingest, local_submitter
from khoyte.gateway.versions import StoreVersionSource
from khoyte.persons.identity import identity_of
from khoyte.persons.index import PersonIndex, store_identities
from khoyte.persons.models import PersonRecord
from khoyte.persons.record import health_record
from khoyte.registry.facilities import import_file
from khoyte.services import build_services
from khoyte.standards.personal import is_identifying
from khoyte.store.crypto import StoreKeyError
from khoyte.store.db import make_engine
from khoyte.synth.generate import SynthConfig, run
from khoyte.warehouse.engine import DuckDBEngine
from khoyte.warehouse.service import Warehouse
from khoyte.warehouse.sources import FileVersionSource
from khoyte.warehouse.transform import FIELDS
from tests.gateway_helpers import db_url_fixture  # noqa: F401  (fixture)
from tests.persons_helpers import pairwise

pytestmark = pytest.mark.slow  # a synthetic province through the gateway, per store


@dataclass
class Manifest:
    names: set[str]  # as written, and folded (what the person index normalises)
    cccd: set[str]
    cards: set[str]
    phones: set[str]
    addresses: set[str]
    truth: dict[str, int]  # "MA_CSKCB|MA_LK" -> person
    person_name: dict[int, str]
    # values of fields that are not the patient's (a doctor's name, TEN_BS, stays readable):
    # a patient's name equal to one of these cannot tell a leak, so it is not looked for
    clear: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("synth")
    run(SynthConfig(seed=13, population=1200, end=date(2025, 3, 31), aggregates=False), out)
    m = Manifest(set(), set(), set(), set(), set(), {}, {})
    with (out / "truth" / "persons.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            m.person_name[int(r["person_id"])] = r["ho_ten"]
            m.names.add(r["ho_ten"])
            m.cccd.add(r["so_cccd"])
            m.cards.add(r["ma_the_bhyt"])
    with (out / "truth" / "visits.csv").open(encoding="utf-8") as fh:
        m.truth = {f"{r['ma_cskcb']}|{r['ma_lk']}": int(r["person_id"]) for r in csv.DictReader(fh)}
    for v in FileVersionSource(out).iter_versions():  # what the records say (noise included)
        # a claim's XML1, or the council's XML12 (the assessed person: same field names)
        x = (v.record.tables.get("XML1") or v.record.tables["XML12"])[0].values
        for name, into in (("HO_TEN", m.names), ("SO_CCCD", m.cccd), ("DIEN_THOAI", m.phones),
                            ("DIA_CHI", m.addresses)):  # fmt: skip
            if isinstance(x.get(name), str):
                into.add(str(x[name]))
        cards = x.get("MA_THE_BHYT")
        m.cards.update(c for c in (cards if isinstance(cards, list) else [cards]) if c)
        m.clear.update(str(val) for rows in v.record.tables.values() for row in rows
                       for k, val in row.values.items()
                       if isinstance(val, str) and not is_identifying(k))  # fmt: skip
        ident = identity_of(v.facility, v.record)
        m.names.update(n for n in (ident.name_norm,) if n)
        m.phones.update(p for p in (ident.phone,) if p)
    shared = m.names & m.clear
    assert len(shared) < len(m.names) / 50, shared  # a few doctors share a patient's name
    for s in (m.names, m.cccd, m.cards, m.phones, m.addresses):
        s.discard("")
        s -= m.clear
    return out, m


@dataclass
class Store:
    settings: Settings
    engine: Engine


@pytest.fixture
def store(synth: tuple[Path, Manifest], tmp_path: Path, db_url: str | None) -> Iterator[Store]:
    out, _ = synth
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    services = build_services(settings, warehouse=False)
    with Session(services.engine) as s:
        import_file(s, out / "facilities.csv")
        s.commit()
    summary = ingest([out / "xml"], local_submitter(services.intake))
    assert summary.files > 0
    assert not summary.errors
    with Session(services.engine) as s:
        PersonIndex().batch(s, store_identities(services.engine))
        s.commit()
    yield Store(settings, services.engine)
    services.close()


def _raw_text(st: Store) -> str:
    """Everything the store holds, as an attacker with the files (no key) reads it."""
    st.engine.dispose()
    if st.engine.dialect.name == "sqlite":
        path = st.settings.sqlite_path
        files = [p for p in path.parent.iterdir() if p.name.startswith(path.name)]
        assert path in files
        return b"".join(p.read_bytes() for p in files).decode("utf-8", errors="replace")
    parts = []
    with st.engine.connect() as conn:
        for t in inspect(conn).get_table_names():
            q = text(f'SELECT CAST(t AS text) FROM "{t}" t')  # nosec B608  (names from the catalogue)
            parts.extend(str(r[0]) for r in conn.execute(q))
    return "\n".join(parts)


def _leaks(raw: str, m: Manifest) -> dict[str, list[str]]:
    numbers = set(re.findall(r"(?<![0-9])[0-9]{9,12}(?![0-9])", raw))
    codes = set(re.findall(r"[A-Z]{2}[0-9]{13}", raw))
    words = re.findall(r"[^\W\d_]+", raw)
    grams = {" ".join(words[i : i + n]) for n in (2, 3, 4, 5) for i in range(len(words))}
    return {
        "cccd": sorted(m.cccd & numbers),
        "phone": sorted(m.phones & numbers),
        "card": sorted(m.cards & codes),
        "name": sorted(m.names & grams),
        "address": sorted(a for a in m.addresses if a in raw),
    }


def test_no_identifier_readable_without_the_key(store: Store, synth: tuple[Path, Manifest]) -> None:
    _, m = synth
    assert min(map(len, (m.names, m.cccd, m.cards, m.phones, m.addresses))) > 50
    raw = _raw_text(store)
    # the reading works: what is not identifying is there in clear (record keys, facility codes)
    some_key = next(iter(m.truth))
    assert some_key.split("|")[1] in raw
    assert some_key.split("|")[0] in raw
    leaks = _leaks(raw, m)
    assert leaks == {k: [] for k in leaks}
    # and the same reading finds identifiers where they are in clear (the test can fail)
    kinds = (m.names, m.cccd, m.cards, m.phones, m.addresses)
    clear = "\n".join(v for kind in kinds for v in sorted(kind)[:3])
    assert all(_leaks(clear, m).values())


def test_the_product_works_with_the_key(
    store: Store, synth: tuple[Path, Manifest], tmp_path: Path
) -> None:
    _, m = synth
    with Session(store.engine) as s:
        found = {f"{r.facility}|{r.ma_lk}": r.health_id for r in s.scalars(select(PersonRecord))}
        precision, recall = pairwise(found, {k: m.truth[k] for k in found})
        assert precision >= 0.99, precision
        assert recall >= 0.98, recall
        # the health record opens the names, with their diacritics
        key = next(k for k in sorted(found) if m.truth[k] in m.person_name)
        rec = health_record(s, found[key])
        assert rec is not None
        assert m.person_name[m.truth[key]] in str(rec)
        # online linking finds the person through the blind indexes
        r = s.get(PersonRecord, tuple(key.split("|")))
        assert r is not None
        assert r.cccd is not None
        _, ident = next((v, i) for v, i in store_identities(store.engine) if i.key == key)
        twin = type(ident)(**{**ident.as_dict(), "ma_lk": "NEW-" + ident.ma_lk})
        res = PersonIndex().link_one(s, twin, 10**9)
        assert (res.health_id, res.method) == (found[key], "cccd")
        s.rollback()
    # the warehouse loads the same as from the files (its person keys need the identifiers)
    counts = []
    for name, source in (("store", StoreVersionSource(store.engine, fields=FIELDS)),
                         ("files", FileVersionSource(synth[0]))):  # fmt: skip
        wh = Warehouse(store.settings, engine=DuckDBEngine(tmp_path / f"{name}.duckdb"))
        try:
            wh.rebuild(source)
            counts.append(wh.engine.query(
                "SELECT COUNT(*), COUNT(DISTINCT person_key) FROM fact_episode")[0])  # fmt: skip
        finally:
            wh.close()
    assert counts[0] == counts[1]
    assert counts[0][1] > 100


def test_without_the_key_nothing_opens(store: Store) -> None:
    store.engine.dispose()
    keys = store.settings.data_dir / "store.keys"
    assert keys.stat().st_mode & 0o777 == 0o600
    wrong = f"k1:{secrets.token_hex(32)}"
    for settings, says in (
        (store.settings.model_copy(update={"store_keys": SecretStr(wrong)}), "wrong key"),
        (store.settings, "store.keys"),
    ):
        if says == "store.keys":
            keys.rename(keys.with_suffix(".away"))  # the folder without its key file
        engine = make_engine(settings)
        try:
            with pytest.raises(StoreKeyError, match=says):
                next(iter(StoreVersionSource(engine).iter_versions()))
            with Session(engine) as s, pytest.raises(StoreKeyError):
                s.scalars(select(PersonRecord)).first()
        finally:
            engine.dispose()
        assert store.settings.sqlite_path.exists() or settings.database_url


def test_rotation_re_encrypts_under_a_new_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from khoyte.cli import app

    store.engine.dispose()
    monkeypatch.setenv("KHOYTE_DATA_DIR", str(store.settings.data_dir))
    if store.settings.database_url:
        monkeypatch.setenv("KHOYTE_DATABASE_URL", store.settings.database_url)
    res = CliRunner().invoke(app, ["keys", "rotate"])
    assert res.exit_code == 0, res.output
    assert "k2" in res.output
    engine = make_engine(store.settings)
    try:
        with engine.connect() as conn:
            raw = [
                *conn.scalars(text("SELECT receipt FROM gw_submission")),
                *conn.scalars(text("SELECT identity FROM ps_record")),
                *conn.scalars(text("SELECT value FROM gw_finding WHERE value IS NOT NULL")),
            ]
        assert raw
        assert all(v.startswith("k2:") for v in raw)
        with engine.connect() as conn:
            bodies = list(conn.scalars(text("SELECT record FROM gw_record_version")))
        assert sum('"sealed":"k2:' in b for b in bodies) == len(bodies)
        with Session(engine) as s:
            r = s.scalars(select(PersonRecord).where(PersonRecord.cccd_bi.is_not(None))).first()
            assert r is not None
            assert r.cccd is not None
            _, ident = next((v, i) for v, i in store_identities(engine)
                            if (i.facility, i.ma_lk) == (r.facility, r.ma_lk))  # fmt: skip
            twin = type(ident)(**{**ident.as_dict(), "ma_lk": "NEW-" + ident.ma_lk})
            assert PersonIndex().link_one(s, twin, 10**9).health_id == r.health_id
            s.rollback()
    finally:
        engine.dispose()
