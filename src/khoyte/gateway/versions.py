"""``StoreVersionSource``: the stored record versions, and the registry's facilities, as the
warehouse reads them (:class:`khoyte.handoff.VersionSource`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from khoyte.gateway.models import RecordVersionRow
from khoyte.handoff import RecordVersion
from khoyte.registry import facilities as registry
from khoyte.standards.serialize import record_from_json

_BATCH = 2000


class StoreVersionSource:
    """Every record version with ``version_id > since_id``, in ``version_id`` order.

    Version ids are handed out under the intake write lock, so they increase in commit order
    and a watermark never skips a version committed later with a smaller id.
    """

    registry_key = "store"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

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
            for r in rows:
                yield RecordVersion(
                    version_id=r[0],
                    facility=r[1],
                    ma_lk=r[2],
                    version=r[3],
                    submission_id=r[4],
                    received_at=aware(r[5]),
                    status=r[6],
                    record=record_from_json(r[7]),
                )
            last = rows[-1][0]
            if len(rows) < _BATCH:
                return


def aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
