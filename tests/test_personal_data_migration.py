"""An existing store (plaintext identifiers, before ``gw0003``/``ps0002``) upgraded in place:
every receipt, finding value, record body and person identity sealed, read back unchanged, the
blind indexes found by the online path — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from khoyte.config import Settings
from khoyte.gateway.models import FindingRow, Submission
from khoyte.gateway.versions import StoreVersionSource
from khoyte.persons.identity import identity_of
from khoyte.persons.index import PersonIndex
from khoyte.persons.models import PersonRecord
from khoyte.standards.model import BirthDate
from khoyte.standards.serialize import record_to_json
from khoyte.store.db import alembic_config, make_engine, migrate
from khoyte.store.sealing import SEALED
from tests.factories import record
from tests.gateway_helpers import db_url_fixture  # noqa: F401  (fixture)

NAME, CCCD, PHONE, CARD = "Đặng Thị Ánh Tuyết", "082190001234", "0912345678", "GD4828212345678"


def test_plaintext_store_is_sealed_by_the_upgrade(tmp_path: Path, db_url: str | None) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url)
    engine = make_engine(settings)
    command.upgrade(alembic_config(engine), "gw0002")  # the store as it was (registry too)
    command.upgrade(alembic_config(engine), "ps0001")
    rec = record("OLD1")
    rec.episode.values.update({"HO_TEN": NAME, "SO_CCCD": CCCD, "DIEN_THOAI": PHONE,
                               "MA_THE_BHYT": [CARD], "NGAY_SINH": BirthDate(1990, 5, 4)})  # fmt: skip
    body = record_to_json(rec)
    ident = identity_of("82001", rec)
    now = datetime(2025, 8, 28, tzinfo=UTC)
    receipt = json.dumps({"findings": [{"field": "SO_CCCD", "value": CCCD}]}, ensure_ascii=False)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO gw_submission (id, sha256, facility, channel, received_at, retain_until,"
            " size, status, n_records, n_accepted, n_warnings, n_rejected, receipt) VALUES "
            "('s1', 'aa', '82001', 'api', :t, :t, 1, 'accepted', 1, 1, 0, 0, :r)"),
            {"t": now, "r": receipt})  # fmt: skip
        conn.execute(text(
            "INSERT INTO gw_record_version (facility, ma_lk, version, submission_id, received_at,"
            " status, content_sha, record) VALUES ('82001', 'OLD1', 1, 's1', :t, 'accepted',"
            " 'sha', :b)"), {"t": now, "b": body})  # fmt: skip
        conn.execute(text(
            "INSERT INTO gw_finding (submission_id, record_index, ma_lk, code, severity, field,"
            " value) VALUES ('s1', 0, 'OLD1', 'X', 'warning', 'SO_CCCD', :v)"), {"v": CCCD})  # fmt: skip
        cols = ["facility", "ma_lk", "health_id", "version_id", "birth_year", "sex", "commune",
                "method", "linked_at", *SEALED]  # fmt: skip
        conn.execute(
            text(f"INSERT INTO ps_record ({', '.join(cols)}) VALUES "  # nosec B608  (fixed names)
                 f"({', '.join(':' + c for c in cols)})"),
            {**{c: getattr(ident, c) for c in SEALED}, "facility": "82001", "ma_lk": "OLD1",
             "health_id": "HID000000001", "version_id": 1, "birth_year": ident.birth_year,
             "sex": ident.sex, "commune": ident.commune, "method": "new", "linked_at": now},
        )  # fmt: skip
    migrate(engine)  # the upgrade: gw0003, ps0002
    with engine.connect() as conn:
        raw = " ".join(
            str(v)
            for q in (
                "SELECT receipt FROM gw_submission",
                "SELECT record FROM gw_record_version",
                "SELECT value FROM gw_finding",
                "SELECT identity FROM ps_record",
            )
            for v in conn.scalars(text(q))
        )
    for value in (NAME, CCCD, PHONE, CARD, "dang thi anh tuyet"):
        assert value not in raw
    assert raw.count("k1:") == 4
    (got,) = list(StoreVersionSource(engine).iter_versions())
    assert got.record == rec
    with Session(engine) as s:
        r = s.get(PersonRecord, ("82001", "OLD1"))
        assert r is not None
        assert (r.ho_ten, r.cccd, r.phone, r.card) == (NAME, CCCD, PHONE, CARD)
        assert s.scalar(select(PersonRecord.ma_lk).where(PersonRecord.cccd_bi.is_not(None)))
        twin = type(ident)(**{**ident.as_dict(), "ma_lk": "NEW1"})
        assert PersonIndex().link_one(s, twin, 2).health_id == "HID000000001"
        assert s.scalar(select(FindingRow.value)) == CCCD
        assert s.scalar(select(Submission.receipt)) == receipt
        s.rollback()
    engine.dispose()
