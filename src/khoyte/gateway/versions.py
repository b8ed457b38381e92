"""``StoreVersionSource``: the stored record versions, and the registry's facilities, as the
warehouse reads them (:class:`khoyte.handoff.VersionSource`).

A source built with ``fields`` (the warehouse's: ``khoyte.warehouse.transform.FIELDS``, handed in
by the composition root) decodes only those fields of those tables: a stored record carries some
150 values in a dozen tables, the warehouse reads about 30, and decoding the rest was most of a
first load's CPU.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import orjson
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from khoyte.gateway.models import RecordVersionRow
from khoyte.handoff import RecordVersion
from khoyte.registry import facilities as registry
from khoyte.standards.model import Record, Standard, make_row

# the canonical reader's decoder of tagged values (standards/serialize.py)
from khoyte.standards.serialize import PLAIN, Unseal, _opened, decode_value, record_from_json
from khoyte.store.crypto import keyring

_BATCH = 2000

# per table, the fields to decode (tables not named are left out)
Fields = Mapping[str, frozenset[str]]


class StoreVersionSource:
    """Every record version with ``version_id > since_id``, in ``version_id`` order.

    Version ids are handed out under the intake write lock, so they increase in commit order
    and a watermark never skips a version committed later with a smaller id.
    """

    registry_key = "store"

    def __init__(self, engine: Engine, fields: Fields | None = None) -> None:
        self.engine = engine
        self.fields = fields

    def latest_version_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.max(RecordVersionRow.id))) or 0)

    def facilities_since(self, revision: int = 0) -> list[registry.FacilityEntry]:
        with Session(self.engine) as s:
            return registry.changes_since(s, revision)

    def iter_versions(self, since_id: int = 0) -> Iterator[RecordVersion]:
        last = since_id
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(
                        RecordVersionRow.id,
                        RecordVersionRow.facility,
                        RecordVersionRow.ma_lk,
                        RecordVersionRow.version,
                        RecordVersionRow.submission_id,
                        RecordVersionRow.received_at,
                        RecordVersionRow.status,
                        RecordVersionRow.record,
                    )
                    .where(RecordVersionRow.id > last)
                    .order_by(RecordVersionRow.id)
                    .limit(_BATCH)
                ).all()
            if not rows:
                return
            fields = self.fields
            unseal = keyring(self.engine).unseal
            for r in rows:
                yield RecordVersion(
                    version_id=r[0],
                    facility=r[1],
                    ma_lk=r[2],
                    version=r[3],
                    submission_id=r[4],
                    received_at=aware(r[5]),
                    status=r[6],
                    record=(
                        record_from_json(r[7], unseal)
                        if fields is None
                        else project(r[7], fields, unseal)
                    ),
                )
            last = rows[-1][0]
            if len(rows) < _BATCH:
                return


def aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def project(text: str | bytes, fields: Fields, unseal: Unseal | None = None) -> Record:
    """The record with only ``fields`` decoded (tables not named left out): what the reader of
    those fields sees of ``record_from_json(text)``, whose decoders it shares. What that
    fast path does not take (lone surrogates, integers beyond 64 bits) is read whole by
    ``record_from_json``."""
    try:
        data = _opened(orjson.loads(text), unseal)
        # The wanted fields looked up (3 or 4 of a line's 40-odd) rather than every field
        # tested, and decoded in the same pass (a call only for the tagged ones).
        tables = {
            t: [
                make_row(t, {k: v if type(v) in PLAIN else decode_value(v)
                             for k in wanted if k in r for v in (r[k],)})
                for r in rows
            ]
            for t, rows in data["tables"].items()
            if (wanted := fields.get(t)) is not None
        }  # fmt: skip
        return Record(data["ma_lk"], Standard(data["standard"]), tables)
    except Exception:  # the canonical reader decides (and raises on what is truly broken)
        return record_from_json(text, unseal)
