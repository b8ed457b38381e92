"""The master person index as the warehouse reads it (``khoyte.handoff.PersonSource``).

Kept apart from ``index`` (which loads the linkage engine) so that the composition root can hand
the warehouse this feed without importing Splink.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from khoyte.handoff import RecordPerson
from khoyte.persons.models import PersonRecord


class StorePersonSource:
    """The index as the warehouse reads it (``khoyte.handoff.PersonSource``): the records
    whose health ID changed after a revision, oldest change first."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def persons_since(self, revision: int = 0) -> list[RecordPerson]:
        q = (
            select(PersonRecord.facility, PersonRecord.ma_lk, PersonRecord.health_id,
                   PersonRecord.revision)
            .where(PersonRecord.revision > revision)
            .order_by(PersonRecord.revision)
        )  # fmt: skip
        with Session(self.engine) as s:
            return [RecordPerson(str(f), str(m), str(h), int(r)) for f, m, h, r in s.execute(q)]
