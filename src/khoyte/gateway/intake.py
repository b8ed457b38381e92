"""Intake: archive → parse and validate → store in one transaction → receipt.

The order is what makes intake crash-safe. The bytes are durable in the archive before anything
else happens; the submission, its record versions and findings are written in ONE transaction
whose stored receipt is what the sender gets back. A crash before the commit leaves nothing
half-stored (re-sending completes it); after the commit the receipt exists and re-sending the same
bytes returns it again (``sha256`` is unique: racing duplicates collide on that constraint and the
loser reads the winner's receipt).

Writers take one store-wide lock for the short write (SQLite: the write lock, taken up front;
PostgreSQL: a transaction-level advisory lock) so that ``version_id``s are handed out in commit
order — the warehouse's watermark (``khoyte.handoff``) can then never skip a version — and the
next version number of a ``(facility, MA_LK)`` is never contended. Parsing and validating, the
expensive part, happens before the lock.

Commits are durable (SQLite ``synchronous=FULL``), and writers that arrive together share one
transaction and one flush (``khoyte.gateway.groupcommit``): each receipt is still answered only
after its bytes are fsynced in the archive and its rows committed. The submission's audit entry
(``submission.receive``) is appended in that same transaction, so a submission never exists
without it (a crash between two commits used to allow that).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from khoyte.access import Principal
from khoyte.config import Settings
from khoyte.dates import add_years
from khoyte.errors import TerminalError, TransientError
from khoyte.gateway.archive import Archive
from khoyte.gateway.groupcommit import GroupCommit
from khoyte.gateway.models import (
    FindingRow,
    IntakeEvent,
    RecordHead,
    RecordVersionRow,
    Submission,
)
from khoyte.security import audit
from khoyte.security.models import AuditEntry
from khoyte.standards.reader import DocumentKind
from khoyte.standards.serialize import record_to_json
from khoyte.store.db import make_engine, migrate, session_factory, session_scope
from khoyte.validate.engine import FileResult, RecordResult, RecordStatus, iter_file
from khoyte.validate.policy import load_policy

log = logging.getLogger("khoyte.gateway")

_PG_LOCK = 0x6B686F79  # "khoy": the store-wide intake write lock

# Core statements built once and run on the session's connection with parameters: building
# and caching a statement per call (and the ORM's bulk machinery) cost more CPU than the
# database spent running them.
_SUB = cast(Table, Submission.__table__)
_VER = cast(Table, RecordVersionRow.__table__)
_HEAD = cast(Table, RecordHead.__table__)
_FIND = cast(Table, FindingRow.__table__)
_RECEIPT_BY_SHA = select(_SUB.c.receipt).where(_SUB.c.sha256 == bindparam("sha"))
_INSERT_SUBMISSION = insert(_SUB)
_SET_RECEIPT = update(_SUB).where(_SUB.c.id == bindparam("b_id"))
_INSERT_VERSIONS = insert(_VER).returning(_VER.c.id, sort_by_parameter_order=True)
_INSERT_HEADS = insert(_HEAD)
_UPDATE_HEADS = update(_HEAD).where(
    _HEAD.c.facility == bindparam("b_facility"), _HEAD.c.ma_lk == bindparam("b_ma_lk")
)
_INSERT_FINDINGS = insert(_FIND)
_SELECT_HEADS = select(
    _HEAD.c.ma_lk,
    _HEAD.c.latest_version,
    _HEAD.c.latest_sha,
    _HEAD.c.latest_version_id,
    _HEAD.c.current_version_id,
).where(
    _HEAD.c.facility == bindparam("facility"), _HEAD.c.ma_lk.in_(bindparam("keys", expanding=True))
)


@dataclass(frozen=True)
class Receipt:
    data: dict[str, Any]
    created: bool  # False: these bytes had been received before; this is the stored receipt

    @property
    def id(self) -> str:
        return str(self.data["id"])


@dataclass(frozen=True)
class _Pending:
    """One submission waiting for its place in a group commit. ``res`` None: bytes received
    before (their receipt exists); only the audit entry of this resend is written."""

    sha: str
    size: int
    facility: str
    credential_id: str | None
    channel: str
    res: FileResult | None
    records: list[RecordResult]
    actor: Principal | str
    ip: str


class IntakeRefused(TerminalError):
    """A submission refused before it was stored (wrong facility, wrong document kind): the
    sender must change something. The bytes stay in the archive."""


class StoreBusy(TransientError):
    """The store stayed locked or unreachable through every retry: nothing was stored; send
    (or process) the same bytes again later."""


def ensure_schema(engine: Engine) -> None:
    """Run migrations; on PostgreSQL under an advisory lock so that several gateway processes
    starting together do not race each other's ``CREATE TABLE``."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK + 1})
            try:
                migrate(engine)
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK + 1})
                conn.commit()
    else:
        migrate(engine)


def _lock(session: Session) -> None:
    if session.bind is not None and session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    else:
        # A write statement as the first statement takes SQLite's write lock (waiting for it
        # with busy_timeout); reading first and writing later could fail on a stale snapshot.
        session.execute(text("UPDATE gw_record SET latest_version = latest_version WHERE 1 = 0"))


def _record_facility(res: FileResult, records: list[RecordResult]) -> str | None:
    if res.facility:
        return res.facility.strip()
    for rr in records:
        if rr.record is None:
            continue
        for rows in rr.record.tables.values():
            for row in rows:
                v = row.values.get("MA_CSKCB")
                if isinstance(v, str) and v.strip():
                    return v.strip()
    return None


def utcnow() -> datetime:
    return datetime.now(UTC)


class IntakeService:
    """Built once by the composition root (``khoyte.services``) with the process's one engine;
    ``IntakeService(settings)`` alone opens its own (tests, scripts)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        *,
        sessions: sessionmaker[Session] | None = None,
        archive: Archive | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings)
        self.sessions: sessionmaker[Session] = sessions or session_factory(self.engine)
        self.archive = archive or Archive(settings.archive_dir)
        self.clock = clock or utcnow  # the time of receipt (and of the retention date)
        self.group: GroupCommit[_Pending, Receipt] = GroupCommit(self._commit_batch)
        self.policy = load_policy(settings.validation_profile, settings.validation_policy)

    # -- events -------------------------------------------------------------------------------
    def record_event(
        self,
        kind: str,
        status: int,
        facility: str | None = None,
        credential_id: str | None = None,
        sha256: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        try:
            with session_scope(self.sessions) as s:
                s.add(
                    IntakeEvent(
                        at=self.clock(),
                        kind=kind,
                        status=status,
                        facility=facility,
                        credential_id=credential_id,
                        sha256=sha256,
                        detail=json.dumps(detail, ensure_ascii=False) if detail else None,
                    )
                )
        except OperationalError:  # pragma: no cover - an event must never break intake
            log.exception("could not record intake event %s", kind)

    # -- reading receipts ---------------------------------------------------------------------
    def receipt_by_sha(self, sha256: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            raw = conn.scalar(_RECEIPT_BY_SHA, {"sha": sha256})
        return json.loads(raw) if raw is not None else None

    # -- intake -------------------------------------------------------------------------------
    def submit(
        self,
        data: bytes,
        *,
        facility: str | None = None,
        credential_id: str | None = None,
        channel: str = "api",
        expect: DocumentKind | None = None,
        declared_facility: str | None = None,
        name: str | None = None,
        actor: Principal | str | None = None,
        ip: str = "",
    ) -> Receipt:
        """Receive one file. ``facility``: the only MA_CSKCB the sender may submit for (None for
        trusted local intake: ``khoyte ingest``/``watch`` run by the operator). ``actor`` and
        ``ip`` go into the audit entry (default ``system:<channel>``)."""
        started = time.perf_counter()
        sha = hashlib.sha256(data).hexdigest()
        self.archive.put(data, sha)  # durable before anything else happens
        who = actor if actor is not None else f"system:{channel}"
        try:
            seen = self.receipt_by_sha(sha)
        except OperationalError as exc:  # the store is down: not the sender's fault
            raise _busy(sha, None, exc) from exc
        if seen is not None:
            _check_declared(declared_facility, seen.get("facility"))
            self._check_owner(seen.get("facility"), facility, credential_id, sha)
            resent = _Pending(sha, len(data), "", credential_id, channel, None, [], who, ip)
            return self.group.submit(resent)

        res = FileResult(name or sha[:16])
        records = list(
            iter_file(
                data,
                name or f"{sha[:16]}.xml",
                max_bytes=len(data) + 1,
                result=res,
                policy=self.policy,
            )
        )
        if res.unusable:
            records = []  # a file that breaks off cannot vouch for what came before the break
        doc_facility = _record_facility(res, records)
        _check_declared(declared_facility, doc_facility)
        owner = doc_facility or declared_facility or facility or ""
        self._check_owner(owner, facility, credential_id, sha)
        if expect is not None and res.kind is not None and res.kind is not expect:
            raise IntakeRefused(
                "wrong_document_kind",
                f"Tệp là loại {res.kind.value}, điểm nhận này chỉ nhận {expect.value}; hãy gửi "
                "tới điểm nhận của loại tệp đó.",
                f"This is a {res.kind.value} document; this endpoint takes {expect.value}: send "
                "it to the endpoint for its kind.",
                {"kind": res.kind.value, "expected": expect.value},
            )
        receipt = self.group.submit(
            _Pending(sha, len(data), owner, credential_id, channel, res, records, who, ip)
        )
        c = receipt.data["counts"]
        log.info(
            json.dumps(
                {
                    "event": "submission",
                    "id": receipt.id,
                    "facility": owner,
                    "sha256": sha,
                    "channel": channel,
                    "bytes": len(data),
                    "status": receipt.data["status"],
                    "records": c["records"],
                    "accepted": c["accepted"],
                    "accepted_with_warnings": c["accepted_with_warnings"],
                    "rejected": c["rejected"],
                    "duplicate": not receipt.created,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
                ensure_ascii=False,
            )
        )
        return receipt

    def _check_owner(
        self, owner: str | None, facility: str | None, credential_id: str | None, sha: str
    ) -> None:
        if facility is None or owner == facility:
            return
        self.record_event(
            "wrong_facility", 403, facility, credential_id, sha, {"file_facility": owner}
        )
        raise IntakeRefused(
            "wrong_facility",
            f"Mã truy cập của cơ sở {facility} không được gửi hồ sơ của cơ sở {owner}.",
            f"The credential of facility {facility} may not submit for facility {owner}.",
            {"credential_facility": facility, "file_facility": owner},
        )

    def _commit_batch(self, batch: list[_Pending]) -> list[Receipt | BaseException]:
        """Store a group of submissions in one transaction (one commit, one flush).

        If anything in the group fails (a race lost to another process, a store error, a bug
        one file triggers), nothing of the group was committed; each is then stored alone, so
        only the culprit fails."""
        if len(batch) > 1:
            try:
                with session_scope(self.sessions) as s:
                    _lock(s)
                    stored = [self._write_one(s, p) for p in batch]
                return list(stored)
            except Exception:
                log.warning("group commit of %d failed; storing each alone", len(batch))
        out: list[Receipt | BaseException] = []
        for p in batch:
            try:
                out.append(self._store(p))
            except Exception as exc:
                out.append(exc)
        return out

    def _store(self, p: _Pending) -> Receipt:
        last: Exception | None = None
        for _attempt in range(8):
            try:
                with session_scope(self.sessions) as s:
                    _lock(s)
                    return self._write_one(s, p)
            except IntegrityError as exc:  # lost a race: the next attempt reads the winner
                last = exc
            except OperationalError as exc:  # e.g. SQLite busy beyond busy_timeout
                last = exc
                time.sleep(0.05)
        raise _busy(p.sha, p.facility or None, last)

    def _write_one(self, s: Session, p: _Pending) -> Receipt:
        """One submission and its audit entry, in ``s``'s transaction (under the write lock)."""
        raw = s.connection().scalar(_RECEIPT_BY_SHA, {"sha": p.sha})
        if raw is not None:  # received before, or earlier in this very group
            receipt = Receipt(json.loads(raw), created=False)
        elif p.res is None:  # pragma: no cover - receipts are never deleted
            raise LookupError(f"the receipt of {p.sha} disappeared")
        else:
            data = self._write(
                s, p.sha, p.size, p.facility, p.credential_id, p.channel, p.res, p.records
            )
            receipt = Receipt(data, created=True)
        d = receipt.data
        audit.record(
            s,
            p.actor,
            "submission.receive",
            f"submission:{d.get('id')}",
            "success" if d.get("status") != "rejected" else "failure",
            p.ip,
            details={
                "facility": d.get("facility"),
                "sha256": d.get("sha256"),
                "status": d.get("status"),
                "counts": d.get("counts"),
            },
        )
        return receipt

    def _write(
        self,
        s: Session,
        sha: str,
        size: int,
        facility: str,
        credential_id: str | None,
        channel: str,
        res: FileResult,
        records: list[RecordResult],
    ) -> dict[str, Any]:
        # Core statements, a handful per file whatever its size: the ORM's unit of work would
        # cost more than the database here.
        received = self.clock()
        sub_id = uuid.uuid4().hex
        counts = _counts(records)
        status = _file_status(res, records)
        retain = add_years(received, self.settings.archive_retention_years)
        conn = s.connection()
        conn.execute(
            _INSERT_SUBMISSION,
            {
                "id": sub_id,
                "sha256": sha,
                "facility": facility,
                "credential_id": credential_id,
                "channel": channel,
                "kind": res.kind.value if res.kind else None,
                "received_at": received,
                "retain_until": retain,
                "size": size,
                "status": status,
                "n_records": counts["records"],
                "n_accepted": counts["accepted"],
                "n_warnings": counts["accepted_with_warnings"],
                "n_rejected": counts["rejected"],
                "receipt": "",
                "profile": res.profile,
            },
        )
        versioned = res.kind is DocumentKind.CLAIMS
        heads = self._heads(conn, facility, [rr.ma_lk for rr in records if rr.ma_lk])
        # per MA_LK: [latest version, its content sha, its id or ("new", row index), current id]
        state: dict[str, list[Any]] = {k: list(v) for k, v in heads.items()}
        touched: set[str] = set()
        new_rows: list[dict[str, Any]] = []
        rec_out: list[dict[str, Any]] = []
        refs: list[tuple[dict[str, Any], Any]] = []
        for rr in records:
            item: dict[str, Any] = {
                "index": rr.index,
                "ma_lk": rr.ma_lk,
                "status": rr.status.value,
                "tables": rr.tables,
                "version": None,
                "version_id": None,
                "change": None,
                "findings": [f.as_dict() for f in rr.findings],
            }
            rec_out.append(item)
            if not versioned or rr.record is None or not rr.ma_lk or len(rr.ma_lk) > 100:
                continue
            body = record_to_json(rr.record)
            csha = hashlib.sha256(body.encode("utf-8")).hexdigest()
            prev = state.get(rr.ma_lk)
            if prev is not None and prev[1] == csha:
                item["change"], item["version"] = "unchanged", prev[0]
                refs.append((item, prev[2]))
                continue
            number = (prev[0] if prev else 0) + 1
            new_rows.append(
                {
                    "facility": facility,
                    "ma_lk": rr.ma_lk,
                    "version": number,
                    "submission_id": sub_id,
                    "received_at": received,
                    "status": rr.status.value,
                    "content_sha": csha,
                    "record": body,
                }
            )
            ref = ("new", len(new_rows) - 1)
            rejected = rr.status is RecordStatus.REJECTED
            current = (prev[3] if prev else None) if rejected else ref
            state[rr.ma_lk] = [number, csha, ref, current]
            touched.add(rr.ma_lk)
            item["change"] = "new" if prev is None else "updated"
            item["version"] = number
            refs.append((item, ref))
        ids: list[int] = []
        if new_rows:
            ids = list(conn.scalars(_INSERT_VERSIONS, new_rows))

        def resolve(ref: Any) -> Any:
            return ids[ref[1]] if isinstance(ref, tuple) else ref

        for item, ref in refs:
            item["version_id"] = resolve(ref)
        # Move the heads: latest version always, current only to a version that was not rejected.
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for ma_lk in sorted(touched):
            number, csha, ref, current = state[ma_lk]
            row = {
                "latest_version": number,
                "latest_sha": csha,
                "latest_version_id": resolve(ref),
                "current_version_id": resolve(current),
            }
            if ma_lk in heads:
                updates.append({"b_facility": facility, "b_ma_lk": ma_lk, **row})
            else:
                inserts.append({"facility": facility, "ma_lk": ma_lk, **row})
        if inserts:
            conn.execute(_INSERT_HEADS, inserts)
        if updates:
            conn.execute(_UPDATE_HEADS, updates)
        # Findings, one row each (for data-quality queries), inserted in one statement.
        frows = [_finding_row(sub_id, None, None, f.as_dict()) for f in res.findings]
        for item in rec_out:
            frows.extend(
                _finding_row(sub_id, item["index"], item["ma_lk"], f) for f in item["findings"]
            )
        if frows:
            conn.execute(_INSERT_FINDINGS, frows)
        receipt = {
            "id": sub_id,
            "received_at": received.isoformat(timespec="milliseconds"),
            "facility": facility,
            "sha256": sha,
            "size": size,
            "kind": res.kind.value if res.kind else None,
            "standard": res.standard.value if res.standard else None,
            "profile": res.profile,
            "status": status,
            "counts": counts,
            "findings": [f.as_dict() for f in res.findings],
            "records": rec_out,
        }
        conn.execute(
            _SET_RECEIPT,
            {
                "b_id": sub_id,
                "receipt": json.dumps(receipt, ensure_ascii=False, separators=(",", ":")),
            },
        )
        return receipt

    def _heads(
        self, conn: Connection, facility: str, ma_lks: Iterable[str]
    ) -> dict[str, tuple[int, str, int, int | None]]:
        keys = sorted({m for m in ma_lks if len(m) <= 100})
        out: dict[str, tuple[int, str, int, int | None]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            for h in conn.execute(_SELECT_HEADS, {"facility": facility, "keys": chunk}):
                out[h[0]] = (h[1], h[2], h[3], h[4])
        return out


def _busy(sha: str, facility: str | None, cause: Exception | None) -> StoreBusy:
    return StoreBusy(
        "store_busy",
        "Kho dữ liệu đang bận hoặc không truy cập được; tệp đã được lưu nguyên vẹn trong kho "
        "lưu trữ nhưng chưa được tiếp nhận — hãy gửi lại sau ít phút.",
        "The store is busy or unreachable; the file is kept unchanged in the archive but was "
        "not taken in — send it again in a few minutes.",
        {"sha256": sha, "facility": facility, "reason": str(cause)[:200]},
        retry_after=5,
    )


def submissions_without_audit(conn: Connection) -> list[str]:
    """Ids of stored submissions that have no ``submission.receive`` audit entry: none, since
    intake writes both in one transaction. The completeness check for a store restored from a
    backup, or one written before that (a crash between two commits could leave some)."""
    log_t = AuditEntry.__table__
    audited = (
        select(log_t.c.target).where(log_t.c.action == "submission.receive").distinct().subquery()
    )
    stmt = (
        select(_SUB.c.id)
        .outerjoin(audited, audited.c.target == literal("submission:").concat(_SUB.c.id))
        .where(audited.c.target.is_(None))
        .order_by(_SUB.c.id)
    )
    return list(conn.scalars(stmt))


def _check_declared(declared: str | None, doc_facility: str | None) -> None:
    if declared and doc_facility and declared.strip() != doc_facility:
        raise IntakeRefused(
            "facility_mismatch",
            f"maCSKCB ({declared}) khác MACSKCB trong tệp ({doc_facility}).",
            f"maCSKCB ({declared}) differs from the file's MACSKCB ({doc_facility}).",
            {"maCSKCB": declared, "MACSKCB": doc_facility},
        )


def _empty_counts() -> dict[str, int]:
    return {"records": 0, "accepted": 0, "accepted_with_warnings": 0, "rejected": 0}


def _counts(records: list[RecordResult]) -> dict[str, int]:
    out = _empty_counts()
    out["records"] = len(records)
    for r in records:
        out[r.status.value] += 1
    return out


def _file_status(res: FileResult, records: list[RecordResult]) -> str:
    res.records = records
    try:
        return res.status.value
    finally:
        res.records = []


def _finding_row(
    sub_id: str, index: int | None, ma_lk: str | None, f: dict[str, Any]
) -> dict[str, Any]:
    return {
        "submission_id": sub_id,
        "record_index": index,
        "ma_lk": ma_lk,
        "code": f["code"][:64],
        "severity": f["severity"],
        "table_name": f["table"],
        "stt": f["stt"],
        "field": (f["field"] or None) and str(f["field"])[:64],
        "value": f["value"],
        "convention": f.get("convention"),
    }
