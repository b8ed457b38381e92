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
from typing import Any

from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from khoyte.config import Settings
from khoyte.dates import add_years
from khoyte.errors import TerminalError, TransientError
from khoyte.gateway.archive import Archive
from khoyte.gateway.models import (
    FindingRow,
    IntakeEvent,
    RecordHead,
    RecordVersionRow,
    Submission,
)
from khoyte.standards.reader import DocumentKind
from khoyte.standards.serialize import record_to_json
from khoyte.store.db import make_engine, migrate, session_factory, session_scope
from khoyte.validate.engine import FileResult, RecordResult, RecordStatus, iter_file

log = logging.getLogger("khoyte.gateway")

_PG_LOCK = 0x6B686F79  # "khoy": the store-wide intake write lock


@dataclass(frozen=True)
class Receipt:
    data: dict[str, Any]
    created: bool  # False: these bytes had been received before; this is the stored receipt

    @property
    def id(self) -> str:
        return str(self.data["id"])


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
        with self.sessions() as s:
            raw = s.scalar(select(Submission.receipt).where(Submission.sha256 == sha256))
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
    ) -> Receipt:
        """Receive one file. ``facility``: the only MA_CSKCB the sender may submit for (None for
        trusted local intake: ``khoyte ingest``/``watch`` run by the operator)."""
        started = time.perf_counter()
        sha = hashlib.sha256(data).hexdigest()
        self.archive.put(data, sha)  # durable before anything else happens
        try:
            seen = self.receipt_by_sha(sha)
        except OperationalError as exc:  # the store is down: not the sender's fault
            raise _busy(sha, None, exc) from exc
        if seen is not None:
            _check_declared(declared_facility, seen.get("facility"))
            self._check_owner(seen.get("facility"), facility, credential_id, sha)
            return Receipt(seen, created=False)

        res = FileResult(name or sha[:16])
        records = list(
            iter_file(data, name or f"{sha[:16]}.xml", max_bytes=len(data) + 1, result=res)
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
        receipt = self._store(sha, len(data), owner, credential_id, channel, res, records)
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

    def _store(
        self,
        sha: str,
        size: int,
        facility: str,
        credential_id: str | None,
        channel: str,
        res: FileResult,
        records: list[RecordResult],
    ) -> Receipt:
        last: Exception | None = None
        for _attempt in range(8):
            try:
                with session_scope(self.sessions) as s:
                    _lock(s)
                    raw = s.scalar(select(Submission.receipt).where(Submission.sha256 == sha))
                    if raw is not None:
                        return Receipt(json.loads(raw), created=False)
                    data = self._write(s, sha, size, facility, credential_id, channel, res, records)
                return Receipt(data, created=True)
            except IntegrityError as exc:  # lost a race: the next attempt reads the winner
                last = exc
            except OperationalError as exc:  # e.g. SQLite busy beyond busy_timeout
                last = exc
                time.sleep(0.05)
        raise _busy(sha, facility, last)

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
        s.execute(
            insert(Submission).values(
                id=sub_id,
                sha256=sha,
                facility=facility,
                credential_id=credential_id,
                channel=channel,
                kind=res.kind.value if res.kind else None,
                received_at=received,
                retain_until=retain,
                size=size,
                status=status,
                n_records=counts["records"],
                n_accepted=counts["accepted"],
                n_warnings=counts["accepted_with_warnings"],
                n_rejected=counts["rejected"],
                receipt="",
            )
        )
        versioned = res.kind is DocumentKind.CLAIMS
        heads = self._heads(s, facility, [rr.ma_lk for rr in records if rr.ma_lk])
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
            ids = list(
                s.scalars(
                    insert(RecordVersionRow).returning(
                        RecordVersionRow.id, sort_by_parameter_order=True
                    ),
                    new_rows,
                )
            )

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
                "facility": facility,
                "ma_lk": ma_lk,
                "latest_version": number,
                "latest_sha": csha,
                "latest_version_id": resolve(ref),
                "current_version_id": resolve(current),
            }
            (updates if ma_lk in heads else inserts).append(row)
        if inserts:
            s.execute(insert(RecordHead), inserts)
        if updates:
            s.execute(update(RecordHead), updates)
        # Findings, one row each (for data-quality queries), inserted in one statement.
        frows = [_finding_row(sub_id, None, None, f.as_dict()) for f in res.findings]
        for item in rec_out:
            frows.extend(
                _finding_row(sub_id, item["index"], item["ma_lk"], f) for f in item["findings"]
            )
        if frows:
            s.execute(insert(FindingRow), frows)
        receipt = {
            "id": sub_id,
            "received_at": received.isoformat(timespec="milliseconds"),
            "facility": facility,
            "sha256": sha,
            "size": size,
            "kind": res.kind.value if res.kind else None,
            "standard": res.standard.value if res.standard else None,
            "status": status,
            "counts": counts,
            "findings": [f.as_dict() for f in res.findings],
            "records": rec_out,
        }
        s.execute(
            update(Submission)
            .where(Submission.id == sub_id)
            .values(receipt=json.dumps(receipt, ensure_ascii=False, separators=(",", ":")))
        )
        return receipt

    def _heads(
        self, s: Session, facility: str, ma_lks: Iterable[str]
    ) -> dict[str, tuple[int, str, int, int | None]]:
        keys = sorted({m for m in ma_lks if len(m) <= 100})
        out: dict[str, tuple[int, str, int, int | None]] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            for h in s.execute(
                select(
                    RecordHead.ma_lk,
                    RecordHead.latest_version,
                    RecordHead.latest_sha,
                    RecordHead.latest_version_id,
                    RecordHead.current_version_id,
                ).where(RecordHead.facility == facility, RecordHead.ma_lk.in_(chunk))
            ):
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
    }
