"""The master person index in the operational store: batch and online linking, stable health
IDs, merge and unmerge with history, the review queue's decisions.

Health IDs are stable: a batch over an index that already holds persons keeps every existing
assignment and only *proposes* changes (a cluster spanning two health IDs becomes a review
item); only a person's decision merges two IDs, and an unmerge restores exactly what the merge
moved. A person nobody touched keeps their health ID for ever.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, insert, or_, select, update
from sqlalchemy.orm import Session

from khoyte.persons import model as mdl
from khoyte.persons.identity import COLUMNS, Identity, identity_of
from khoyte.persons.link import LinkResult, link
from khoyte.persons.models import (
    BLIND,
    SEALED,
    LinkModel,
    PersonEvent,
    PersonLink,
    PersonRecord,
    PersonRevision,
    PersonRow,
    ReviewItem,
)
from khoyte.store.crypto import Keyring, keyring

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_CANDIDATES = 200  # most rows the online path scores for one record


def new_health_id() -> str:
    """12 random base32 characters (60 bits): meaningless, so it reveals nothing about the
    person, and never reused."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    records: int
    new_records: int
    profiles: int
    compared: int
    deterministic_links: int
    auto_links: int
    review_items: int
    persons: int
    seconds: float


@dataclass(frozen=True, slots=True)
class OnlineResult:
    health_id: str
    method: str  # existing | cccd | bhxh | splink | new
    match_weight: float | None
    review: bool  # a review item was opened


def store_identities(engine: Engine, since_id: int = 0) -> Iterator[tuple[int, Identity]]:
    """The latest accepted version of every record in the operational store (rejected
    versions say nothing about a person), with its version id; medical assessments (XML12,
    records without XML1) are not linked."""
    from khoyte.gateway.versions import StoreVersionSource

    communes = commune_map(engine)
    latest: dict[tuple[str, str], tuple[int, Identity]] = {}
    for v in StoreVersionSource(engine).iter_versions(since_id):
        if v.status == "rejected" or "XML1" not in v.record.tables:
            continue  # no XML1: a medical assessment (XML12), not linked (docs/persons.md)
        latest[(v.facility, v.ma_lk)] = (v.version_id, identity_of(v.facility, v.record, communes))
    yield from latest.values()


def commune_map(engine: Engine) -> dict[str, str]:
    """Pre-2025 commune codes → the 2025 commune (``rg_commune_map``), so that a person keeps
    one residence across the reform; a code that is also a 2025 commune stays as it is."""
    from khoyte.registry.facilities import old_commune_map
    from khoyte.registry.models import Place

    with Session(engine) as s:
        current = set(s.scalars(select(Place.code).where(Place.level == "commune")))
        return {old: new for old, new in old_commune_map(s).items() if old not in current}


def revision(s: Session) -> int:
    """The revision of this transaction's changes of health IDs (taken once per transaction;
    the warehouse's persons feed reads the records changed after its watermark)."""
    tx = s.get_transaction()
    cached = s.info.get("ps_revision")
    if cached is not None and cached[0] is tx:
        return int(cached[1])
    s.execute(update(PersonRevision).where(PersonRevision.id == 1)
              .values(value=PersonRevision.value + 1))  # fmt: skip
    value = int(s.execute(select(PersonRevision.value).where(PersonRevision.id == 1)).scalar_one())
    s.info["ps_revision"] = (tx, value)
    return value


def _row(
    ident: Identity,
    health_id: str,
    version_id: int,
    method: str,
    at: datetime,
    ring: Keyring,
    rev: int,
) -> dict[str, Any]:
    """The ``ps_record`` row: direct identifiers sealed, lookup keys as blind indexes."""
    return {
        "identity": {c: getattr(ident, c) for c in SEALED if getattr(ident, c) is not None},
        **{f"{c}_bi": ring.blind(c, getattr(ident, c)) for c in BLIND},
        "birth_year": ident.birth_year,
        "sex": ident.sex,
        "commune": ident.commune,
        "facility": ident.facility,
        "ma_lk": ident.ma_lk,
        "health_id": health_id,
        "version_id": version_id,
        "method": method,
        "linked_at": at,
        "revision": rev,
    }


def _split(key: str) -> tuple[str, str]:
    facility, _, ma_lk = key.partition("|")
    return facility, ma_lk


def load_model(s: Session) -> dict[str, Any] | None:
    row = s.get(LinkModel, 1)
    return json.loads(row.model) if row is not None else None


class PersonIndex:
    def __init__(self, clock: Callable[[], datetime] = _now) -> None:
        self.clock = clock
        self._scorer: tuple[str, mdl.Scorer] | None = None  # the online path's, per model

    # ---- batch ---------------------------------------------------------------------------
    def batch(
        self, s: Session, items: Iterable[tuple[int, Identity]], retrain: bool = False
    ) -> BatchSummary:
        t0 = time.perf_counter()
        now = self.clock()
        items = list(items)
        existing = {(r.facility, r.ma_lk): r.health_id for r in s.execute(
            select(PersonRecord.facility, PersonRecord.ma_lk, PersonRecord.health_id))}  # fmt: skip
        known = {f"{f}|{m}": h for (f, m), h in existing.items()}
        stored = [
            Identity(r.facility, r.ma_lk, r.ho_ten, *(getattr(r, c) for c in COLUMNS))
            for r in s.scalars(select(PersonRecord))
        ]
        fresh = [(v, i) for v, i in items if (i.facility, i.ma_lk) not in existing]
        ring = keyring(s)
        version = {i.key: v for v, i in fresh}
        model = None if retrain else load_model(s)
        res = link([*stored, *(i for _, i in fresh)], model=model)
        self._save_model(s, res.model, now)
        by_key = {i.key: i for _, i in fresh}
        person_of = res.person_of()
        members: dict[int, list[str]] = {}
        for key, c in person_of.items():
            members.setdefault(c, []).append(key)
        method = self._methods(res)
        reviews = 0
        new_rows = []
        for keys in members.values():
            ids = sorted({known[k] for k in keys if k in known})
            if len(ids) > 1:  # the batch would merge persons: propose, never apply
                for other in ids[1:]:
                    a = next(k for k in keys if known.get(k) == ids[0])
                    b = next(k for k in keys if known.get(k) == other)
                    self._open_review(s, a, b, mdl.AUTO_WEIGHT, {}, "batch", now)
                    reviews += 1
            hid = ids[0] if ids else None
            for k in keys:
                if k in known:
                    continue
                if hid is None:
                    hid = new_health_id()
                    s.add(PersonRow(health_id=hid, created_at=now, merged_into=None))
                new_rows.append(
                    _row(by_key[k], hid, version[k], method.get(k, "new"), now, ring, 0)
                )
        if new_rows:
            rev = revision(s)
            for row in new_rows:
                row["revision"] = rev
            s.execute(insert(PersonRecord), new_rows)
        self._save_links(s, res, now)
        for r in res.reviews:
            a, b = res.key(r.left), res.key(r.right)
            if a in known and b in known:
                continue  # decided before, or already queued
            self._open_review(s, a, b, r.weight, r.weights, r.reason, now)
            reviews += 1
        s.flush()
        persons = s.scalar(
            select(func.count()).select_from(PersonRow).where(PersonRow.merged_into.is_(None))
        )
        return BatchSummary(
            records=len(stored) + len(fresh), new_records=len(fresh), profiles=len(res.profiles),
            compared=res.compared, deterministic_links=res.deterministic_links,
            auto_links=res.auto_links, review_items=reviews, persons=int(persons or 0),
            seconds=time.perf_counter() - t0,
        )  # fmt: skip

    @staticmethod
    def _methods(res: LinkResult) -> dict[str, str]:
        out: dict[str, str] = {}
        records = res.records_of(u for e in res.links for u in (e.left, e.right))
        for e in res.links:
            for uid in (e.left, e.right):
                for k in records[uid]:
                    out.setdefault(k, e.method)
        return out

    @staticmethod
    def _save_model(s: Session, model: dict[str, Any], at: datetime) -> None:
        row = s.get(LinkModel, 1)
        text = json.dumps(model, ensure_ascii=False)
        if row is None:
            s.add(LinkModel(id=1, trained_at=at, model=text))
        elif row.model != text:
            row.model, row.trained_at = text, at

    @staticmethod
    def _save_links(s: Session, res: LinkResult, at: datetime) -> None:
        have = {(a, b) for a, b in s.execute(select(PersonLink.left_key, PersonLink.right_key))}
        rows = []
        for e in res.links:
            a, b = res.key(e.left), res.key(e.right)
            if (a, b) in have:
                continue
            rows.append({"left_key": a, "right_key": b, "method": e.method, "match_weight": e.weight,
                         "weights": json.dumps(e.weights) if e.weights else None, "at": at})  # fmt: skip
        if rows:
            s.execute(insert(PersonLink), rows)

    def _open_review(
        self, s: Session, a: str, b: str, weight: float, weights: dict[str, float], reason: str,
        at: datetime,
    ) -> None:  # fmt: skip
        s.add(ReviewItem(left_key=a, right_key=b, match_weight=weight, weights=json.dumps(weights),
                         reason=reason, status="open", created_at=at))  # fmt: skip

    # ---- online --------------------------------------------------------------------------
    def link_one(self, s: Session, ident: Identity, version_id: int) -> OnlineResult:
        """Link one newly accepted record against the blocking index (``ps_record``)."""
        now = self.clock()
        old = s.get(PersonRecord, (ident.facility, ident.ma_lk))
        if old is not None:
            return OnlineResult(old.health_id, "existing", None, False)
        hid, method, weight, weights, review = self._match(s, ident)
        if hid is None:
            hid = new_health_id()
            s.add(PersonRow(health_id=hid, created_at=now, merged_into=None))
        row = _row(ident, hid, version_id, method, now, keyring(s), revision(s))
        s.execute(insert(PersonRecord), [row])
        if review is not None:
            self._open_review(s, ident.key, review[0], review[1], review[2], "uncertain", now)
        elif method != "new" and weights is not None:
            s.add(PersonLink(left_key=weights.pop("__other__"), right_key=ident.key, method=method,
                             match_weight=weight, weights=json.dumps(weights) or None, at=now))  # fmt: skip
        return OnlineResult(hid, method, weight, review is not None)

    def _match(self, s: Session, ident: Identity) -> tuple[Any, str, Any, Any, Any]:
        blind = keyring(s).blind
        for key in ("cccd", "bhxh"):
            value = getattr(ident, key)
            if not value:
                continue
            col = getattr(PersonRecord, f"{key}_bi")
            for r in s.scalars(select(PersonRecord).where(col == blind(key, value)).limit(20)):
                if all(getattr(ident, c) is None or getattr(r, c) is None or getattr(ident, c) == getattr(r, c)
                       for c in ("sex", "birth_year")):  # fmt: skip
                    return r.health_id, key, None, {"__other__": f"{r.facility}|{r.ma_lk}"}, None
        conds: list[ColumnElement[bool]] = []
        if ident.dob and ident.sex:
            conds.append(
                (PersonRecord.dob_bi == blind("dob", ident.dob)) & (PersonRecord.sex == ident.sex)
            )
        if ident.phone:
            conds.append(PersonRecord.phone_bi == blind("phone", ident.phone))
        if ident.name_key and ident.birth_year:
            conds.append(
                (PersonRecord.name_key_bi == blind("name_key", ident.name_key))
                & (PersonRecord.birth_year == ident.birth_year)
            )
        if not conds:
            return None, "new", None, None, None
        cands = list(s.scalars(select(PersonRecord).where(or_(*conds)).limit(_CANDIDATES)))
        scorer = self.scorer(s)
        if not cands or scorer is None:
            return None, "new", None, None, None
        rec = ident.linkage_row()
        rows = [{"uid": i, **{c: getattr(r, c) for c in COLUMNS}} for i, r in enumerate(cands)]
        edges = scorer.score(rec, rows)
        best = max(edges, key=lambda e: e.weight, default=None)
        if best is None:
            return None, "new", None, None, None
        other = cands[best.right]
        okey = f"{other.facility}|{other.ma_lk}"
        conflict = bool(ident.cccd and other.cccd and ident.cccd != other.cccd)
        if best.weight >= mdl.AUTO_WEIGHT and not conflict:
            return other.health_id, "splink", best.weight, {**best.weights, "__other__": okey}, None
        if best.weight >= mdl.REVIEW_WEIGHT:
            return None, "new", best.weight, None, (okey, best.weight, best.weights)
        return None, "new", None, None, None

    def scorer(self, s: Session) -> mdl.Scorer | None:
        row = s.get(LinkModel, 1)
        if row is None:
            return None
        stamp = row.trained_at.isoformat()
        if self._scorer is None or self._scorer[0] != stamp:
            self._scorer = (stamp, mdl.Scorer(json.loads(row.model)))
        return self._scorer[1]

    def catch_up(self, s: Session, engine: Engine) -> int:
        """Link online every accepted version newer than the index's newest (intake's hook)."""
        since = int(s.scalar(select(func.max(PersonRecord.version_id))) or 0)
        n = 0
        for version_id, ident in store_identities(engine, since):
            self.link_one(s, ident, version_id)
            n += 1
        return n

    # ---- merge / unmerge -----------------------------------------------------------------
    def merge(self, s: Session, survivor: str, absorbed: str, actor: str) -> int:
        from khoyte.security import audit

        if survivor == absorbed:
            raise ValueError("a person cannot be merged with themself")
        keys = [f"{f}|{m}" for f, m in s.execute(select(PersonRecord.facility, PersonRecord.ma_lk)
                                                  .where(PersonRecord.health_id == absorbed))]  # fmt: skip
        s.execute(
            update(PersonRecord)
            .where(PersonRecord.health_id == absorbed)
            .values(health_id=survivor, revision=revision(s))
        )
        s.execute(
            update(PersonRow).where(PersonRow.health_id == absorbed).values(merged_into=survivor)
        )
        ev = PersonEvent(at=self.clock(), kind="merge", actor=actor, survivor=survivor,
                         absorbed=absorbed, records=json.dumps(sorted(keys)))  # fmt: skip
        s.add(ev)
        s.flush()
        audit.record(s, actor, "person.merge", survivor, "success", "local",
                     details={"absorbed": absorbed, "records": len(keys), "event": ev.id})  # fmt: skip
        return ev.id

    def unmerge(self, s: Session, event_id: int, actor: str) -> int:
        from khoyte.security import audit

        ev = s.get(PersonEvent, event_id)
        if ev is None or ev.kind != "merge" or ev.undone_by is not None:
            raise LookupError(f"no merge {event_id} to undo")
        for key in json.loads(ev.records):
            f, m = _split(key)
            s.execute(update(PersonRecord).where(PersonRecord.facility == f, PersonRecord.ma_lk == m)
                      .values(health_id=ev.absorbed, revision=revision(s)))  # fmt: skip
        s.execute(
            update(PersonRow).where(PersonRow.health_id == ev.absorbed).values(merged_into=None)
        )
        back = PersonEvent(at=self.clock(), kind="unmerge", actor=actor, survivor=ev.survivor,
                           absorbed=ev.absorbed, records=ev.records)  # fmt: skip
        s.add(back)
        s.flush()
        ev.undone_by = back.id
        audit.record(s, actor, "person.unmerge", ev.absorbed, "success", "local",
                     details={"survivor": ev.survivor, "event": event_id})  # fmt: skip
        return back.id

    def decide(self, s: Session, review_id: int, same: bool, actor: str) -> int | None:
        """A person's decision on a review item; "same" merges the two health IDs."""
        from khoyte.security import audit

        item = s.get(ReviewItem, review_id)
        if item is None or item.status != "open":
            raise LookupError(f"no open review item {review_id}")
        item.status, item.decided_by, item.decided_at = (
            ("same" if same else "distinct"),
            actor,
            self.clock(),
        )
        audit.record(s, actor, "person.review", str(review_id), "success", "local",
                     details={"decision": item.status})  # fmt: skip
        if not same:
            return None
        a = s.get(PersonRecord, _split(item.left_key))
        b = s.get(PersonRecord, _split(item.right_key))
        if a is None or b is None or a.health_id == b.health_id:
            return None
        # The older health ID survives: the one more of the person's papers already carry.
        pa, pb = s.get(PersonRow, a.health_id), s.get(PersonRow, b.health_id)
        older = sorted(
            (p for p in (pa, pb) if p is not None), key=lambda p: (p.created_at, p.health_id)
        )
        survivor = older[0].health_id
        return self.merge(
            s, survivor, b.health_id if survivor == a.health_id else a.health_id, actor
        )


def links(s: Session) -> Iterator[tuple[str, str, str]]:
    """``(ma_cskcb, ma_lk, health_id)`` for every linked record."""
    q = select(PersonRecord.facility, PersonRecord.ma_lk, PersonRecord.health_id).order_by(
        PersonRecord.facility, PersonRecord.ma_lk
    )
    for row in s.execute(q):
        yield str(row[0]), str(row[1]), str(row[2])
