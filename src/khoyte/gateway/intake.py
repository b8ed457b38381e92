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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's own busy wait alone
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Connection, Engine, Table, bindparam, literal, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from khoyte.access import Principal
from khoyte.config import Settings
from khoyte.errors import TerminalError, TransientError
from khoyte.gateway.archive import Archive
from khoyte.gateway.batch import RECEIPT_BY_SHA, Body, GroupWrite, Pending, Receipt
from khoyte.gateway.groupcommit import GroupCommit
from khoyte.gateway.models import IntakeEvent, RecordHead, RecordVersionRow, Submission
from khoyte.security import audit
from khoyte.security.models import AuditEntry
from khoyte.standards.assessment import sender_of_name
from khoyte.standards.reader import DocumentKind
from khoyte.standards.serialize import record_from_json
from khoyte.store.crypto import keyring
from khoyte.store.db import make_engine, migrate, session_factory, session_scope
from khoyte.validate.engine import FileResult, RecordResult, complete_record, iter_file
from khoyte.validate.policy import Policy, load_policy

__all__ = ["IntakeRefused", "IntakeService", "Receipt", "StoreBusy", "ensure_schema"]

_VER = cast(Table, RecordVersionRow.__table__)
_HEAD = cast(Table, RecordHead.__table__)
log = logging.getLogger("khoyte.gateway")
_SUB = cast(Table, Submission.__table__)

RECEIVED = select(_SUB.c.sha256).where(_SUB.c.sha256.in_(bindparam("shas", expanding=True)))
_PG_LOCK = 0x6B686F79  # "khoy": the store-wide intake write lock


# document kind -> (Vietnamese name, English name, the endpoint that takes it)
KIND_NAMES = {
    DocumentKind.CLAIMS: ("hồ sơ KCB (GIAMDINHHS)", "a claim file (GIAMDINHHS)",
                          "/api/v1/submissions"),
    DocumentKind.CHECKIN: ("chỉ tiêu trạng thái KCB (XML0)", "a check-in document (XML0)",
                           "/api/v1/checkins"),
    DocumentKind.ASSESSMENT: ("dữ liệu giám định y khoa (XML12)",
                              "a medical-assessment document (XML12)", "/api/v1/assessments"),
}  # fmt: skip


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


def record_facility(res: FileResult, records: list[RecordResult]) -> str | None:
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


def partial(rr: RecordResult) -> bool:
    """A record sent without XML1 (one table per file): stored joined to its stored version."""
    return (
        rr.record is not None
        and bool(rr.record.tables)
        and "XML1" not in rr.record.tables
        and any(f.code == "HOSO.XML1.MISSING" for f in rr.findings)
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def resend(
    sha: str, size: int, credential_id: str | None, channel: str, who: Principal | str, ip: str
) -> Pending:
    """Bytes received before: their stored receipt answers; only this resend's audit entry is
    written."""
    return Pending(sha, size, "", credential_id, channel, None, [], who, ip)


def parse_file(data: bytes, name: str, policy: Policy) -> tuple[FileResult, list[RecordResult]]:
    """Read and validate one file (a pure function of its bytes: it also runs in another
    process, ``khoyte.gateway.bulk``)."""
    res = FileResult(name)
    records = list(iter_file(data, name, max_bytes=len(data) + 1, result=res, policy=policy))
    return res, records


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
        # single-statement reads on every request (the credential, bytes received before): on
        # PostgreSQL without a transaction around them — the implicit BEGIN and the pool's
        # ROLLBACK were two of a lookup's round trips
        self.reads = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "postgresql"
            else self.engine
        )
        self.sessions: sessionmaker[Session] = sessions or session_factory(self.engine)
        self.archive = archive or Archive(settings.archive_dir)
        self.clock = clock or utcnow  # the time of receipt (and of the retention date)
        self.policy = load_policy(settings.validation_profile, settings.validation_policy)
        self.group: GroupCommit[Pending, Receipt] = GroupCommit(self._commit_batch)
        database = self.engine.url.database if self.engine.dialect.name == "sqlite" else None
        self._lockfile = (
            Path(f"{database}.intake-lock")
            if fcntl is not None and database and database != ":memory:"
            else None
        )

    @contextmanager
    def one_writer(self) -> Iterator[None]:
        """SQLite: intake's writers of every process take turns on a lock file first (``flock``,
        queued in the kernel), then SQLite's write lock, which is now free. Waiting on SQLite's
        lock alone is polling: its busy handler sleeps up to 100 ms between tries, so with two
        processes writing, a writer could sleep long after the lock was freed (the intake
        tier's p99). PostgreSQL's advisory lock already waits in the server."""
        if self._lockfile is None:
            yield
            return
        with open(self._lockfile, "ab") as fh:  # a descriptor per turn: threads never share one
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

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
        with self.reads.connect() as conn:
            raw = conn.scalar(RECEIPT_BY_SHA, {"sha": sha256})
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
        sha = self.archive_put(data)
        who = actor if actor is not None else f"system:{channel}"
        resent = self.resent(data, sha, facility, credential_id, channel, declared_facility,
                             who, ip)  # fmt: skip
        if resent is not None:
            return self.group.submit(resent)
        res, records = parse_file(data, name or f"{sha[:16]}.xml", self.policy)
        pending = self.pending(data, sha, res, records, facility=facility,
                               credential_id=credential_id, channel=channel, expect=expect,
                               declared_facility=declared_facility, who=who, ip=ip)  # fmt: skip
        receipt = self.group.submit(pending)
        self.log_receipt(receipt, channel, len(data), started)
        return receipt

    def archive_put(self, data: bytes) -> str:
        """The bytes durable in the archive, before anything else happens: their sha256."""
        sha = hashlib.sha256(data).hexdigest()
        self.archive.put(data, sha)
        return sha

    def received(self, shas: list[str]) -> set[str]:
        """Which of these bytes were received before (one query)."""
        with self.reads.connect() as conn:
            return {row[0] for row in conn.execute(RECEIVED, {"shas": sorted(set(shas))})}

    def resent(
        self,
        data: bytes,
        sha: str,
        facility: str | None,
        credential_id: str | None,
        channel: str,
        declared_facility: str | None,
        who: Principal | str,
        ip: str,
    ) -> Pending | None:
        """The same bytes already receipted: what answers them again (its receipt, checked
        against the sender), else None."""
        try:
            seen = self.receipt_by_sha(sha)
        except OperationalError as exc:  # the store is down: not the sender's fault
            raise store_busy(sha, None, exc) from exc
        if seen is None:
            return None
        _check_declared(declared_facility, seen.get("facility"))
        self._check_owner(seen.get("facility"), facility, credential_id, sha)
        return resend(sha, len(data), credential_id, channel, who, ip)

    def pending(
        self,
        data: bytes,
        sha: str,
        res: FileResult,
        records: list[RecordResult],
        *,
        facility: str | None,
        credential_id: str | None,
        channel: str,
        expect: DocumentKind | None,
        declared_facility: str | None,
        who: Principal | str,
        ip: str,
        bodies: Mapping[int, Body] | None = None,
    ) -> Pending:
        """A parsed, validated file checked against its sender, ready to be stored (``bodies``:
        the stored form of records already made by the reader, ``bulk.ahead``)."""
        if res.unusable:
            records = []  # a file that breaks off cannot vouch for what came before the break
        doc_facility = record_facility(res, records)
        _check_declared(declared_facility, doc_facility)
        owner = doc_facility or declared_facility or facility or ""
        if not owner and res.kind is DocumentKind.ASSESSMENT:
            # trusted local intake of an XML12 file, which names no sender: its file name's
            # (standards.assessment; over the API the sender is the credential's facility)
            owner = sender_of_name(res.file) or ""
            if not owner:
                raise IntakeRefused(
                    "no_sender",
                    f"Tệp giám định y khoa (XML12) {res.file} không ghi cơ sở gửi: hãy đặt tên tệp "
                    "bắt đầu bằng mã cơ sở của hội đồng (ví dụ 82000.xml), chạy khoyte ingest "
                    "--facility <mã>, hoặc gửi qua API bằng mã truy cập của hội đồng.",
                    f"The medical-assessment (XML12) file {res.file} names no sender: name it "
                    "starting with the council's facility code (e.g. 82000.xml), run khoyte "
                    "ingest --facility <code>, or send it over the API with the council's "
                    "credential.",
                    {"file": res.file},
                )
        self._check_owner(owner, facility, credential_id, sha)
        if res.kind is DocumentKind.CLAIMS and owner:
            records = self._join_partial(owner, records)
        if expect is not None and res.kind is not None and res.kind is not expect:
            got, want = KIND_NAMES[res.kind], KIND_NAMES[expect]
            raise IntakeRefused(
                "wrong_document_kind",
                f"Tệp là {got[0]}, điểm nhận này chỉ nhận {want[0]}; hãy gửi tệp tới {got[2]}.",
                f"This is {got[1]}; this endpoint takes {want[1]}: send it to {got[2]}.",
                {"kind": res.kind.value, "expected": expect.value, "endpoint": got[2]},
            )
        return Pending(
            sha, len(data), owner, credential_id, channel, res, records, who, ip, bodies or {}
        )

    def store_in_order(self, batch: list[Pending]) -> list[Receipt | BaseException]:
        """Store ``batch`` as one group, in its order (versions follow it exactly as separate
        commits in that order would): bulk intake (``khoyte.gateway.bulk``)."""
        return self._commit_batch(batch)

    def log_receipt(self, receipt: Receipt, channel: str, size: int, started: float) -> None:
        c = receipt.data["counts"]
        log.info(
            json.dumps(
                {
                    "event": "submission",
                    "id": receipt.id,
                    "facility": receipt.data.get("facility"),
                    "sha256": receipt.data.get("sha256"),
                    "channel": channel,
                    "bytes": size,
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

    def _join_partial(self, owner: str, records: list[RecordResult]) -> list[RecordResult]:
        """Records sent without XML1 (one table per file) joined to the current stored version
        of the same facility and ``MA_LK`` (``validate.engine.complete_record``); a record with
        nothing stored to join stays as read (rejected: it cannot be counted alone)."""
        parts = {rr.ma_lk: i for i, rr in enumerate(records) if rr.ma_lk and partial(rr)}
        if not parts:
            return records
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(_VER.c.ma_lk, _VER.c.version, _VER.c.record)
                .join(_HEAD, _HEAD.c.current_version_id == _VER.c.id)
                .where(_HEAD.c.facility == owner, _HEAD.c.ma_lk.in_(list(parts)))
            ).all()
        out = list(records)
        now = self.clock()
        unseal = keyring(self.engine).unseal
        for ma_lk, version, body in rows:
            i = parts[ma_lk]
            out[i] = complete_record(
                records[i],
                record_from_json(body, unseal),
                version,
                self.policy,
                facility=owner,
                received_at=now.replace(tzinfo=None),
            )
        return out

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

    def _commit_batch(self, batch: list[Pending]) -> list[Receipt | BaseException]:
        """Store a group of submissions in one transaction (one commit, one flush).

        If anything in the group fails (a race lost to another process, a store error, a bug
        one file triggers), nothing of the group was committed; each is then stored alone, so
        only the culprit fails."""
        if len(batch) > 1:
            try:
                with self.one_writer(), session_scope(self.sessions) as s:
                    _lock(s)
                    stored = self._write_group(s, batch)
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

    def _store(self, p: Pending) -> Receipt:
        last: Exception | None = None
        for _attempt in range(8):
            try:
                with self.one_writer(), session_scope(self.sessions) as s:
                    _lock(s)
                    return self._write_group(s, [p])[0]
            except IntegrityError as exc:  # lost a race: the next attempt reads the winner
                last = exc
            except OperationalError as exc:  # e.g. SQLite busy beyond busy_timeout
                last = exc
                time.sleep(0.05)
        raise store_busy(p.sha, p.facility or None, last)

    def _write_group(self, s: Session, batch: list[Pending]) -> list[Receipt]:
        """The submissions of ``batch`` and their audit entries, in queue order, in ``s``'s
        transaction (under the write lock): a fixed handful of statements for the group
        (``khoyte.gateway.batch``)."""
        group = GroupWrite(s.connection(), self.settings.archive_retention_years)
        group.load(batch)
        receipts = [self._add(group, p) for p in batch]
        group.flush()
        audit.record_many(s, [_audit_entry(p, r) for p, r in zip(batch, receipts, strict=True)])
        return receipts

    def _add(self, group: GroupWrite, p: Pending) -> Receipt:
        """One file's rows into the group (its time of receipt from the clock)."""
        return group.add(p, self.clock())


def _audit_entry(p: Pending, receipt: Receipt) -> audit.Entry:
    d = receipt.data
    return audit.Entry(
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


def store_busy(sha: str, facility: str | None, cause: Exception | None) -> StoreBusy:
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
