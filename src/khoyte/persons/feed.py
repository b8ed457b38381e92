"""The master person index as the warehouse reads it (``khoyte.handoff.PersonSource``).

Kept apart from ``index`` (which loads the linkage engine) so that the composition root can hand
the warehouse this feed without importing Splink.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Engine, select, tuple_
from sqlalchemy.orm import Session

from khoyte.handoff import RecordPerson
from khoyte.persons.models import PersonRecord

_PAGE = 20000


class StorePersonSource:
    """The index as the warehouse reads it (``khoyte.handoff.PersonSource``): the records
    whose health ID changed after a revision, read a page at a time (a first load reads every
    linked record of the province)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def persons_since(self, revision: int = 0) -> Iterator[RecordPerson]:
        r = PersonRecord
        after: tuple[int, str, str] = (revision, "", "")
        first = True
        while True:
            cond = (
                r.revision > revision
                if first
                else tuple_(r.revision, r.facility, r.ma_lk) > tuple_(*after)
            )
            q = (
                select(r.facility, r.ma_lk, r.health_id, r.revision, r.version_id)
                .where(cond)
                .order_by(r.revision, r.facility, r.ma_lk)
                .limit(_PAGE)
            )
            with Session(self.engine) as s:
                rows = s.execute(q).all()
            for f, m, h, rev, vid in rows:
                yield RecordPerson(str(f), str(m), str(h), int(rev), int(vid))
            if len(rows) < _PAGE:
                return
            last = rows[-1]
            after, first = (int(last[3]), str(last[0]), str(last[1])), False
