"""Bulk intake: many files in one process (``khoyte ingest``), stored exactly as one file after
another would be, at a fraction of the cost.

One file at a time, each file paid its own transaction, its flushes and its audit-chain move, and
the reading ran on the one core the storing used. Here a *group* of files (``chunk``, 64 by
default) goes through intake's same steps (``IntakeService``: the bytes durable in the archive
before their records are stored, the receipt of bytes already received, the same
``GroupWrite``), but:

- the bytes already received are found with one query per group (they are in the archive, and
  their stored receipt answers);
- the group's other files are archived (flushed together: ``Archive.put_many``, in threads that
  wait on the disk) and, at the same time, read and validated (``intake.parse_file``, a pure
  function of the bytes) in ``jobs`` worker processes, which also make each record's stored
  form (canonical JSON, its sha256, identifying values sealed: ``batch.Body``) and send back
  only that and the findings; results come back in the files' order, and the next groups are
  archived and read while this one is stored;
- the group is stored in ONE transaction, in the files' order: versions of a record sent in
  several files follow the files' order exactly as separate commits would (the group is one
  ``GroupWrite`` batch; if anything in it fails, each file is stored alone, as the group commit
  does, so only the culprit fails); a table sent alone (no XML1) whose record is earlier in
  the same group is stored after it, so that it joins it as one file after another would;
- the transactions run in a storing thread, one after another in the groups' order, while
  this thread makes the next group ready: a group's commit (its flush) overlaps the next
  group's work. Receipts still come out in the files' order, each once its group is stored; a
  file with a table sent alone waits until everything before it is stored (it joins the
  record as stored).

Every receipt is written before ``submit_many`` returns. A worker process that dies (a hostile
file that crashes the reader) breaks only the groups it held: their files are archived and read
again in this process.
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy.exc import OperationalError

from khoyte.errors import KhoyteError, TransientError
from khoyte.gateway.batch import VERSIONED, Body, Pending, Receipt, make_body, storable
from khoyte.gateway.intake import (
    IntakeService,
    parse_file,
    partial,
    record_facility,
    resend,
    store_busy,
)
from khoyte.store.crypto import Keyring, keyring
from khoyte.validate.engine import FileResult, RecordResult
from khoyte.validate.policy import Policy, load_policy

Parsed = tuple[FileResult, list[RecordResult], dict[int, Body]]
Outcome = Receipt | KhoyteError
Item = tuple[bytes, str] | KhoyteError
Prepared = list[Pending | KhoyteError | str]
DEPTH = 3  # groups archived and read ahead of the group being stored
MERGE = 256  # files stored in one transaction at most (batches queued while one commits)

_POLICY: Policy | None = None  # a worker process's policy, loaded once by ``_init``
_RING: Keyring | None = None  # and the store's keys (the records' stored form is made there)


def default_jobs() -> int:
    """Worker processes for reading when none is asked for: one per core, at most 4 (the
    storing process mostly waits on its flushes: measured on two cores, two readers beat one);
    none on a single core (reading here costs no transfer)."""
    cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(4, cores)


def _init(profile: str, policy_file: Path | None, keys: dict[str, bytes], source: str) -> None:
    global _POLICY, _RING
    _POLICY = load_policy(profile, policy_file)
    _RING = Keyring(keys, source)


def read_all(
    items: list[tuple[bytes, str]], policy: Policy, ring: Keyring | None = None
) -> list[Parsed]:
    """Read and validate files: what a reader does (in a worker process, or here). With
    ``ring``, each record that will be stored as read also gets its stored form made here
    (``ahead``)."""
    out: list[Parsed] = []
    for data, name in items:
        res, records = parse_file(data, name, policy)
        out.append((res, records, ahead(res, records, ring) if ring is not None else {}))
    return out


def ahead(res: FileResult, records: list[RecordResult], ring: Keyring) -> dict[int, Body]:
    """The stored form (``batch.Body``) of the records a document stores as read, made
    by the reader: the storing process then only writes them. Their parsed contents are
    dropped (sending them back cost the storing process as much CPU as storing); what intake
    still reads of them — the document's facility — is kept on ``res``. A record sent without
    XML1 keeps its contents: it is joined to the stored version when stored."""
    if res.facility is None:
        res.facility = record_facility(res, records)
    if res.kind not in VERSIONED or res.unusable:
        return {}
    bodies: dict[int, Body] = {}
    for rr in records:
        if rr.record is not None and storable(rr, res.kind) and not partial(rr):
            bodies[rr.index] = make_body(rr.record, ring)
            rr.record = None
    return bodies


def _worker(items: list[tuple[bytes, str]]) -> list[Parsed]:
    assert _POLICY is not None, "worker not initialised"
    return read_all(items, _POLICY, _RING)


def _archive_down(exc: OSError) -> KhoyteError:
    return TransientError(
        "archive_unavailable",
        f"Không ghi được kho lưu trữ tệp gốc ({exc.strerror or exc}); chưa nhận tệp nào của "
        "nhóm này — xử lý sự cố (ổ đầy?) rồi chạy lại lệnh.",
        f"The raw archive cannot be written ({exc.strerror or exc}); no file of this group was "
        "taken in — fix it (disk full?) and run the command again.",
        {"reason": str(exc)[:200]},
    )


@dataclass
class _Queued:
    batch: list[tuple[int, Pending]]  # (place in the group, file ready to store)
    outcomes: list[Outcome | None]  # the group's
    channel: str
    started: float
    done: Future[None]


def _stored(outcomes: list[Outcome | None], done: Future[None]) -> Iterator[Outcome]:
    """A group's outcomes once it is stored (a store error the retries could not get past is
    raised here)."""
    done.result()
    for outcome in outcomes:
        assert outcome is not None
        yield outcome


def _unread(
    group: list[Item], prepared: list[Pending | KhoyteError | str]
) -> list[tuple[bytes, str]]:
    """The files of a group still to archive and read (not received before)."""
    return [item for item, p in zip(group, prepared, strict=True)
            if isinstance(p, str) and not isinstance(item, KhoyteError)]  # fmt: skip


class BulkIntake:
    """``submit_many`` stores files group by group; ``jobs`` worker processes read them (0: read
    in this process). Use as a context manager (the workers stop at the end)."""

    def __init__(self, service: IntakeService, jobs: int = 0, chunk: int = 64) -> None:
        self.service = service
        self.chunk = max(1, chunk)
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None
        self._failed: BaseException | None = None  # a store error: nothing more is stored
        self._declared: str | None = None  # the sender the operator declares (submit_many)
        self._queued: deque[_Queued] = deque()  # batches for the storing thread
        self._lock = threading.Lock()

    def __enter__(self) -> BulkIntake:
        return self

    def __exit__(
        self,
        _t: type[BaseException] | None,
        _e: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def start(self, sample: list[tuple[bytes, str]] | None = None) -> None:
        """Start the worker processes now (else at the first group), each reading ``sample``:
        their first reading pays the imports and caches once (a benchmark's steady state)."""
        pool = self._workers()
        if pool is not None:
            done = [pool.submit(_worker, list(sample or [])) for _ in range(self.jobs)]
            for f in done:
                f.result()

    def _workers(self) -> ProcessPoolExecutor | None:
        if self.jobs <= 0:
            return None
        if self._pool is None:
            s = self.service.settings
            ring = keyring(self.service.engine)
            self._pool = ProcessPoolExecutor(
                self.jobs,
                # spawn: a fresh interpreter, never a fork of a process with threads and an open
                # store connection
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init,
                initargs=(s.validation_profile, s.validation_policy, ring.keys, ring.source),
            )
        return self._pool

    def submit_many(
        self,
        files: Iterable[tuple[bytes, str] | KhoyteError],
        channel: str = "ingest",
        facility: str | None = None,
    ) -> Iterator[Outcome]:
        """One outcome per item, in order: its receipt, or why it was refused or deferred (an
        item that is already an error — a file too large or unreadable — is passed through).
        While group k is stored, groups k+1 … k+``DEPTH`` are archived and read: memory holds
        at most 2 × ``DEPTH`` + 1 groups (``DEPTH`` being stored), whatever the count. ``facility``: the sender the operator
        declares for every file (``khoyte ingest --facility``): a file of another facility is
        refused, a document that names none (XML12) is that facility's."""
        items = iter(files)
        self._declared = facility
        self._workers()
        self._failed = None
        ahead: deque[tuple[list[Item], Future[Prepared], Future[list[Parsed]] | None]] = deque()
        storing: deque[tuple[list[Outcome | None], Future[None]]] = deque()
        more = True
        with (
            ThreadPoolExecutor(DEPTH, thread_name_prefix="khoyte-archive") as archiver,
            ThreadPoolExecutor(1, thread_name_prefix="khoyte-store") as storer,
        ):
            while True:
                while more and len(ahead) < DEPTH:
                    group = list(itertools.islice(items, self.chunk))
                    if not group:
                        more = False
                        break
                    ahead.append((group, *self._launch(group, channel, archiver)))
                if not ahead:
                    break
                group, archived, reader = ahead.popleft()
                prepared = archived.result()  # the group's files durable before it is stored
                parsed = self._read(_unread(group, prepared), reader)
                storing.append(self._store(group, prepared, parsed, channel, storer, storing))
                # receipts in the files' order, as groups are stored; up to DEPTH groups are
                # being stored while the next is made ready
                while storing and (len(storing) > DEPTH or storing[0][1].done()):
                    yield from _stored(*storing.popleft())
            while storing:
                yield from _stored(*storing.popleft())

    def _launch(
        self, group: list[Item], channel: str, archiver: ThreadPoolExecutor
    ) -> tuple[Future[Prepared], Future[list[Parsed]] | None]:
        """A group on its way: the bytes received before found (one query for the group); the
        others handed to a reader and, at the same time, to an archiving thread, which makes
        them durable (flushed together) while the groups before are stored. Groups are archived
        side by side (waiting on the disk, not on the CPU); each is stored only once its own
        files are durable, in the groups' order."""
        shas = {id(item): hashlib.sha256(item[0]).hexdigest()
                for item in group if not isinstance(item, KhoyteError)}  # fmt: skip
        try:
            known = self.service.received(list(shas.values()))
        except OperationalError as exc:
            busy: Future[Prepared] = Future()
            busy.set_result([item if isinstance(item, KhoyteError)
                             else store_busy(shas[id(item)], None, exc) for item in group])  # fmt: skip
            return busy, None
        new = [item for item in group
               if not isinstance(item, KhoyteError) and shas[id(item)] not in known]  # fmt: skip
        pool = self._pool
        reader = pool.submit(_worker, new) if pool is not None and new else None
        return archiver.submit(self._archive, group, shas, known, channel), reader

    def _archive(
        self, group: list[Item], shas: dict[int, str], known: set[str], channel: str
    ) -> Prepared:
        """The group's new files durable in the archive (flushed together); for each file, the
        answer to bytes received before, the error it already is, or its sha256 (to store)."""
        try:  # durable before anything of the group is stored
            new = [item for item in group
                   if not isinstance(item, KhoyteError) and shas[id(item)] not in known]  # fmt: skip
            self.service.archive.put_many([d for d, _ in new], [shas[id(i)] for i in new])
        except OSError as exc:  # the archive unwritable (full?): nothing of the group is taken
            return [item if isinstance(item, KhoyteError) else _archive_down(exc)
                    for item in group]  # fmt: skip
        who = f"system:{channel}"
        out: Prepared = []
        for item in group:
            if isinstance(item, KhoyteError):
                out.append(item)
                continue
            sha = shas[id(item)]
            out.append(resend(sha, len(item[0]), None, channel, who, "") if sha in known else sha)
        return out

    def _read(
        self, todo: list[tuple[bytes, str]], reader: Future[list[Parsed]] | None
    ) -> list[Parsed]:
        """The group's new files read: by the worker, or here (no workers, or the worker
        died)."""
        if not todo:
            return []
        if reader is not None:
            try:
                return reader.result()
            except BrokenProcessPool:
                if self._pool is not None:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
        return read_all(todo, self.service.policy)

    def _store(
        self,
        group: list[Item],
        prepared: list[Pending | KhoyteError | str],
        parsed: list[Parsed],
        channel: str,
        storer: ThreadPoolExecutor,
        storing: deque[tuple[list[Outcome | None], Future[None]]],
    ) -> tuple[list[Outcome | None], Future[None]]:
        """The group's files made ready here and stored by the storing thread (one
        transaction, or two when a table sent alone follows its record in the group), while
        this thread goes on to the next group: its outcomes, complete once the future is
        done."""
        started = time.perf_counter()
        svc, who = self.service, f"system:{channel}"
        outcomes: list[Outcome | None] = [None] * len(group)
        batch: list[tuple[int, Pending]] = []
        keys: set[str] = set()  # the MA_LKs of the batch's records
        reading = iter(parsed)
        commits: list[Future[None]] = []
        for i, (item, p) in enumerate(zip(group, prepared, strict=True)):
            if isinstance(p, KhoyteError):
                outcomes[i] = p
                continue
            if isinstance(p, str):
                assert not isinstance(item, KhoyteError)
                data = item[0]
                res, records, bodies = next(reading)
                if any(partial(rr) for rr in records):
                    # a table sent alone joins the record as stored: what is being stored first
                    # (this group's batch so far when the record is in it, earlier groups)
                    if any(rr.ma_lk in keys for rr in records if partial(rr)):
                        commits.append(self._enqueue(storer, batch, outcomes, channel, started))
                        batch, keys = [], set()
                    for f in [*(f for _, f in storing), *commits]:
                        f.result()
                try:
                    p = svc.pending(data, p, res, records, facility=None,
                                    credential_id=None, channel=channel, expect=None,
                                    declared_facility=self._declared, who=who, ip="",
                                    bodies=bodies)  # fmt: skip
                except KhoyteError as err:
                    outcomes[i] = err
                    continue
            batch.append((i, p))
            keys.update(rr.ma_lk for rr in p.records if rr.ma_lk)
        commits.append(self._enqueue(storer, batch, outcomes, channel, started))
        return outcomes, commits[-1]  # the storing thread stores them in order

    def _enqueue(
        self,
        storer: ThreadPoolExecutor,
        batch: list[tuple[int, Pending]],
        outcomes: list[Outcome | None],
        channel: str,
        started: float,
    ) -> Future[None]:
        """``batch`` queued for the storing thread; done once stored."""
        done: Future[None] = Future()
        with self._lock:
            self._queued.append(_Queued(batch, outcomes, channel, started, done))
        storer.submit(self._drain)
        return done

    def _drain(self) -> None:
        """Store what is queued, in its order, in ONE transaction (while one commits, the next
        batches gather: a slow flush means fewer, larger transactions); each file's outcome
        into its group's ``outcomes``. After a store error nothing more is stored (the files
        queued behind it are stored by the next run: they are in the archive)."""
        with self._lock:
            todo, taken = [], 0
            while self._queued and taken < MERGE:
                todo.append(self._queued.popleft())
                taken += len(todo[-1].batch)
        if not todo:
            return
        if self._failed is None:
            try:
                self._commit(todo)
            except BaseException as exc:
                self._failed = exc
        for q in todo:
            if self._failed is not None and any(o is None for o in q.outcomes):
                q.done.set_exception(self._failed)
            else:
                q.done.set_result(None)

    def _commit(self, todo: list[_Queued]) -> None:
        svc = self.service
        batch = [(q, i, p) for q in todo for i, p in q.batch]
        for (q, i, p), result in zip(
            batch, svc.store_in_order([p for _, _, p in batch]), strict=True
        ):
            if isinstance(result, Receipt):
                svc.log_receipt(result, q.channel, p.size, q.started)
                q.outcomes[i] = result
            elif isinstance(result, KhoyteError):
                q.outcomes[i] = result
            else:  # a store error the single retries could not get past
                raise result
