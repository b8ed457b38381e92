"""The audit trail: append-only and hash-chained.

Entry ``n`` stores ``hash_n = sha256(hash_{n-1} || canonical JSON of entry n)`` where the
canonical JSON covers every column but the hash itself (sequence number included), so editing,
deleting, inserting or reordering entries breaks the chain at the first entry touched. The head
row (``sec_audit_head``) is both the append lock and the remembered last (seq, hash), so deleting
the newest entries is caught as well; an exported, signed head lets an outside party prove later
that the trail up to that point was not rewritten.

Appends run inside the caller's transaction (a change and its audit entry commit together). They
are serialised across processes by updating the head row first: PostgreSQL holds that row lock
until commit; SQLite takes its database write lock at the first write (the same effect as
``BEGIN IMMEDIATE``), and its ``busy_timeout`` queues the other writers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Engine, Integer, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from khoyte.access import Principal
from khoyte.security.models import AuditEntry, AuditHead

GENESIS = "0" * 64
_SECRET_WORDS = ("password", "secret", "token", "otp", "cookie", "authorization", "key")


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _redact(details: dict[str, Any]) -> dict[str, Any]:
    """No secrets in the trail: values under secret-sounding keys are replaced."""
    out: dict[str, Any] = {}
    for k, v in details.items():
        if any(w in k.lower() for w in _SECRET_WORDS):
            out[k] = "[redacted]"
        elif isinstance(v, dict):
            out[k] = _redact(v)
        else:
            out[k] = v
    return out


def actor_name(actor: Principal | str) -> str:
    if isinstance(actor, Principal):
        if actor.is_anonymous:
            return "anonymous"
        return f"{actor.kind}:{actor.name}"
    return actor


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def _fields(e: AuditEntry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "target": e.target,
        "outcome": e.outcome,
        "ip": e.ip,
        "reason": e.reason,
        "details": e.details,
    }


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


_HEAD = cast(Table, AuditHead.__table__)
_LOG = cast(Table, AuditEntry.__table__)
# Built once: intake appends an entry per submission, and building the statements per call cost
# more CPU than running them.
_NEXT = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq + bindparam("n", type_=Integer))
    .returning(_HEAD.c.seq, _HEAD.c.hash)
)
_APPEND = insert(_LOG)
_MOVE = update(_HEAD).where(_HEAD.c.id == 1).values(hash=bindparam("new_hash"))


@dataclass(frozen=True)
class Entry:
    """One entry to append (``record``'s arguments)."""

    actor: Principal | str
    action: str
    target: str
    outcome: str
    ip: str
    reason: str | None = None
    details: dict[str, Any] | None = None


def cli_actor() -> str:
    """Who acts from the command line: ``cli:`` and the operating-system user."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (containers)
        return "cli:unknown"


def record(
    session: Session,
    actor: Principal | str,
    action: str,
    target: str,
    outcome: str,
    ip: str,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in ``session``'s transaction (the caller commits).

    ``actor`` is a :class:`Principal` or a name; ``action`` a dotted verb (``login``,
    ``record.view``, ``user.create``…); ``outcome`` ``success`` | ``failure`` | ``denied``.
    """
    row = record_many(session, [Entry(actor, action, target, outcome, ip, reason, details)])[0]
    return AuditEntry(**row)  # a detached copy


def record_many(session: Session, entries: list[Entry]) -> list[dict[str, Any]]:
    """Append ``entries``, in order, in ``session``'s transaction with three statements
    whatever their number (intake appends one per submission of a group commit). Returns the
    rows written."""
    if not entries:
        return []
    # The lock: the first write of the append, held until the caller commits (lock and move
    # the head by len(entries), insert them, store the head's new hash).
    # Core statements on the tables (not ORM-enabled ones): no session synchronisation needed.
    conn = session.connection()
    head = conn.execute(_NEXT, {"n": len(entries)}).one()
    seq, prev = head.seq - len(entries), head.hash
    at = now_iso()
    rows: list[dict[str, Any]] = []
    for e in entries:
        seq += 1
        fields = {
            "seq": seq,
            "at": at,
            "actor": actor_name(e.actor)[:200],
            "action": e.action[:64],
            "target": e.target[:500],
            "outcome": e.outcome[:32],
            "ip": (e.ip or "")[:64],
            "reason": e.reason,
            "details": canonical(_redact(e.details or {})),
        }
        digest = entry_hash(prev, fields)
        rows.append({**fields, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(_APPEND, rows)
    conn.execute(_MOVE, {"new_hash": prev})
    return rows


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    broken_seq: int | None = None
    problem_vi: str = ""
    problem_en: str = ""

    def message(self) -> str:
        if self.ok:
            return (
                f"Chuỗi nhật ký toàn vẹn: {self.entries} mục / "
                f"audit chain intact: {self.entries} entries"
            )
        return (
            f"Chuỗi nhật ký bị phá vỡ tại mục #{self.broken_seq}: {self.problem_vi} / "
            f"audit chain broken at entry #{self.broken_seq}: {self.problem_en}"
        )


def _entries(session: Session) -> Iterator[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    yield from session.scalars(stmt)


@contextmanager
def snapshot(engine: Engine) -> Iterator[Session]:
    """A read-only session that sees one consistent state of the store from its first read to
    its end: what :func:`verify` (and anything compared with the chain) must read in.

    Under READ COMMITTED (PostgreSQL's default), and on SQLite where each ``SELECT`` outside a
    transaction is its own snapshot, an entry committed after the walk but before the head is
    read looks exactly like deleted newest entries. REPEATABLE READ on PostgreSQL, one explicit
    read transaction on SQLite (WAL: writers carry on, this reader keeps its snapshot).
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite begins transactions only before writes; BEGIN here holds one read
            # snapshot from the first SELECT until the rollback below
            conn.exec_driver_sql("BEGIN")
        else:
            conn.execution_options(isolation_level="REPEATABLE READ")
        try:
            with Session(bind=conn) as session:
                yield session
        finally:
            conn.rollback()  # read only: nothing to keep; the pool resets the isolation level


def verify(session: Session, anchor: dict[str, Any] | None = None) -> Verdict:
    """Walk the whole chain; the first entry that does not fit is named.

    ``session`` must read one snapshot (:func:`snapshot`) when others may be appending.

    ``anchor`` (an exported head ``{"seq", "hash"}``) additionally proves the entries up to it
    are the ones that existed when it was exported.
    """
    prev = GENESIS
    expected = 1
    n = 0
    anchor_seen = False
    for e in _entries(session):
        if e.seq != expected:
            if e.seq > expected:
                return Verdict(
                    False,
                    n,
                    expected,
                    f"mục #{expected} bị xoá (mục tiếp theo là #{e.seq})",
                    f"entry #{expected} is missing (deleted; next is #{e.seq})",
                )
            return Verdict(False, n, e.seq, "số thứ tự lặp lại", "sequence number repeated")
        if e.prev_hash != prev:
            return Verdict(
                False,
                n,
                e.seq,
                "không nối với mục trước (bị chèn, xoá hoặc đổi thứ tự)",
                "does not follow the previous entry (inserted, deleted or reordered)",
            )
        if entry_hash(prev, _fields(e)) != e.hash:
            return Verdict(
                False, n, e.seq, "nội dung đã bị sửa", "content was edited (hash mismatch)"
            )
        if anchor is not None and e.seq == anchor.get("seq"):
            anchor_seen = True
            if e.hash != anchor.get("hash"):
                return Verdict(
                    False,
                    n,
                    e.seq,
                    "khác với đầu chuỗi đã xuất (nhật ký bị viết lại)",
                    "differs from the exported head (the trail was rewritten)",
                )
        prev = e.hash
        expected += 1
        n += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != n or head.hash != prev):
        if head.seq > n:
            return Verdict(
                False,
                n,
                n + 1,
                f"các mục cuối bị xoá (đầu chuỗi ghi #{head.seq})",
                f"the newest entries were deleted (the head records #{head.seq})",
            )
        return Verdict(
            False,
            n,
            n,
            "mục cuối không khớp đầu chuỗi (bị chèn thêm)",
            "the newest entry does not match the head (appended outside the log)",
        )
    if anchor is not None and not anchor_seen and int(anchor.get("seq", 0)) > 0:
        seq = int(anchor.get("seq", 0))
        return Verdict(
            False,
            n,
            seq,
            "mục của đầu chuỗi đã xuất không còn tồn tại",
            "the entry of the exported head no longer exists",
        )
    return Verdict(True, n)


def head(session: Session) -> dict[str, Any]:
    row = session.get(AuditHead, 1)
    seq, h = (row.seq, row.hash) if row is not None else (0, GENESIS)
    return {"seq": seq, "hash": h, "exported_at": now_iso()}


def sign(payload: dict[str, Any], key: str) -> str:
    """HMAC-SHA256 over the canonical JSON of the head (without its signature)."""
    body = {k: v for k, v in payload.items() if k not in ("signature", "algorithm")}
    return hmac.new(key.encode("utf-8"), canonical(body).encode("utf-8"), "sha256").hexdigest()


def check_signature(payload: dict[str, Any], key: str) -> bool:
    return hmac.compare_digest(str(payload.get("signature", "")), sign(payload, key))


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    outcome: str | None = None
    target: str | None = None
    since: str | None = None  # ISO date or datetime (UTC)
    until: str | None = None


def search(
    session: Session, f: AuditFilter, limit: int = 100, offset: int = 0
) -> tuple[list[AuditEntry], int]:
    """Newest first; ``(page, total matching)``."""
    from sqlalchemy import func

    stmt = select(AuditEntry)
    if f.actor:
        stmt = stmt.where(AuditEntry.actor == f.actor)
    if f.action:
        stmt = stmt.where(AuditEntry.action.startswith(f.action, autoescape=True))
    if f.outcome:
        stmt = stmt.where(AuditEntry.outcome == f.outcome)
    if f.target:
        stmt = stmt.where(AuditEntry.target.contains(f.target, autoescape=True))
    if f.since:
        stmt = stmt.where(AuditEntry.at >= f.since)
    if f.until:
        # a bare date means the whole day
        until = f.until + "T23:59:59.999999+00:00" if len(f.until) == 10 else f.until
        stmt = stmt.where(AuditEntry.at <= until)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(limit).offset(offset))
    return list(rows), int(total)


def as_dict(e: AuditEntry) -> dict[str, Any]:
    d = _fields(e)
    d["details"] = json.loads(e.details) if e.details else {}
    d["prev_hash"] = e.prev_hash
    d["hash"] = e.hash
    return d
