"""The warehouse decodes only the fields it loads (``transform.FIELDS``): the transform reads no
field outside that list, and a stored record read that way loads into exactly the rows the whole
record gives — over a clean and a dirty synthetic province (the dirty one carries the defects
real facilities send: wrong types, missing and malformed values)."""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from khoyte.gateway.batch import make_body, record_body
from khoyte.gateway.versions import project
from khoyte.handoff import RecordVersion
from khoyte.standards.model import Record, Row
from khoyte.standards.serialize import record_from_json, record_to_json
from khoyte.store.crypto import RECORD_LABEL, Keyring
from khoyte.synth.generate import SynthConfig, run
from khoyte.validate.engine import validate_file
from khoyte.warehouse.transform import FIELDS, Batch, add_record, submission_rows

KEY = b"k" * 32


@pytest.fixture(scope="module", params=[0.0, 0.3], ids=["clean", "dirty"])
def records(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> list[Record]:
    out = tmp_path_factory.mktemp("fields")
    cfg = SynthConfig(population=1500, start=date(2025, 3, 1), end=date(2025, 3, 14),
                      dirty=request.param, aggregates=False)  # fmt: skip
    run(cfg, out)
    got = [
        rr.record
        for p in sorted((out / "xml").rglob("*.xml"))
        for rr in validate_file(p, p.name).records
        if rr.record is not None
    ]
    assert len(got) > 50
    return got


class _Seen(dict[str, Any]):
    """Row values that remember which fields were read."""

    read: ClassVar[set[tuple[str, str]]] = set()

    def __init__(self, table: str, values: dict[str, Any]) -> None:
        super().__init__(values)
        self.table = table

    def get(self, key: str, default: Any = None) -> Any:
        _Seen.read.add((self.table, key))
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        _Seen.read.add((self.table, key))
        return super().__getitem__(key)


def _watch(r: Record) -> dict[str, list[Row]]:
    return {t: [type(row)(t, _Seen(t, row.values)) for row in rows] for t, rows in r.tables.items()}


def _version(rec: Record, i: int) -> RecordVersion:
    at = datetime(2025, 3, 11, tzinfo=UTC)
    return RecordVersion(i, "82001", rec.ma_lk, 1, "sub", at, "accepted", rec)


def _load(recs: list[Record]) -> dict[str, dict[str, list[Any]]]:
    batch = Batch()
    versions = [_version(r, i) for i, r in enumerate(recs)]
    for rv in versions:
        with contextlib.suppress(LookupError):  # no XML1: nothing to load
            add_record(batch, rv, KEY)
    tables = {t: c.arrays() for t, c in batch.tables().items()}
    tables["fact_submission"] = submission_rows(versions).arrays()
    return {t: {k: list(v) for k, v in cols.items()} for t, cols in tables.items()}


def test_the_transform_reads_only_the_listed_fields(records: list[Record]) -> None:
    _Seen.read = set()
    watched = [replace(r, tables=_watch(r)) for r in records]
    _load(watched)
    listed = {(t, f) for t, fields in FIELDS.items() for f in fields}
    assert _Seen.read, "nothing was read: the watch is broken"
    assert _Seen.read <= listed, sorted(_Seen.read - listed)


def test_a_projected_record_loads_as_the_whole_record(records: list[Record]) -> None:
    stored = [record_to_json(r) for r in records]
    whole = _load([record_from_json(s) for s in stored])
    projected = [project(s, FIELDS) for s in stored]
    assert _load(projected) == whole
    # and it is smaller: tables the warehouse never reads are not decoded
    assert all(set(p.tables) <= set(FIELDS) for p in projected)
    assert sum(len(row.values) for p in projected for rows in p.tables.values() for row in rows) < (
        sum(len(row.values) for r in records for rows in r.tables.values() for row in rows) / 2
    )


def test_the_stored_body_is_byte_for_byte_the_canonical_json(records: list[Record]) -> None:
    """Intake encodes bodies with orjson; the text (and so ``content_sha``, by which an
    unchanged resend is recognised) must stay what ``record_to_json`` writes."""
    ring = Keyring({"k1": bytes(range(32))}, "test")
    for r in records:
        assert record_body(r) == record_to_json(r)
        want = hashlib.sha256(record_to_json(r).encode()).hexdigest()
        assert make_body(r, ring).content_sha == want  # what intake stores it by


def test_what_orjson_refuses_falls_back_to_the_stdlib(records: list[Record]) -> None:
    rec = records[0]
    episode = rec.tables["XML1"][0]
    odd = Row("XML1", {**episode.values, "GHI_CHU": "a\ud800b", "SO_LON": 2**70})
    broken = replace(rec, tables={**rec.tables, "XML1": [type(episode)("XML1", odd.values)]})
    assert record_body(broken) == record_to_json(broken)
    back = project(record_body(broken), FIELDS).episode.values  # read whole: a lone surrogate
    wanted = FIELDS["XML1"]
    assert {k: v for k, v in back.items() if k in wanted} == {
        k: v for k, v in episode.values.items() if k in wanted
    }


def test_every_field_the_transform_names_is_listed() -> None:
    """A field named in the transform's source but absent from FIELDS would be dropped by the
    projection wherever the synthetic provinces never reach the line that reads it."""
    import re

    from khoyte.warehouse import transform

    source = Path(transform.__file__).read_text(encoding="utf-8")
    named = set(
        # through a row's accessors, or straight from its values (``get``, ``g``: bound ``.get``)
        re.findall(
            r'(?:\.(?:text|decimal|integer|moment|day|items|get)|\bget|\bg)\("([A-Z0-9_]+)"\)',
            source,
        )
    )
    assert named, "the pattern no longer finds the transform's field reads"
    assert named <= set().union(*FIELDS.values()), sorted(named - set().union(*FIELDS.values()))


def test_the_sealed_body_is_what_sealing_the_canonical_json_gives(records: list[Record]) -> None:
    """Intake makes a record's sealed body in one pass from the record (``make_body``); it must
    be what sealing its canonical JSON gives (``Keyring.seal_record``): the same JSON with the
    identifying values null, the same values once opened (nonces differ: compared opened), and
    the canonical JSON again once unsealed. What orjson refuses takes the old path."""
    ring = Keyring({"k1": bytes(range(32))}, "test")
    rec = records[0]
    episode = rec.tables["XML1"][0]
    big = replace(rec, tables={**rec.tables, "XML1": [type(episode)("XML1", {
        **episode.values, "SO_LON": 2**70})]})  # fmt: skip
    named = 0
    for r in [*records, big]:
        body = record_body(r)
        old, new = json.loads(ring.seal_record(body)), json.loads(make_body(r, ring).sealed)
        assert ("sealed" in new) == ("sealed" in old)
        if "sealed" in new:  # a record with its XML1 names a person
            named += 1
            assert json.loads(ring.open(new.pop("sealed"), RECORD_LABEL)) == json.loads(
                ring.open(old.pop("sealed"), RECORD_LABEL)
            )
        assert new == old  # the same JSON around the sealed values: nulls in place
        full = json.loads(make_body(r, ring).sealed)
        ring.unseal(full)
        assert json.dumps(full, ensure_ascii=False, separators=(",", ":")) == body
    assert named > len(records) // 2
