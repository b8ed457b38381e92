"""Storing a group of submissions with one set of statements (intake's write, under its lock).

A group commit (``khoyte.gateway.groupcommit``) hands intake the submissions that arrived
together; :class:`GroupWrite` stores all of them with a fixed handful of statements — one
``executemany`` per table for the whole group, not a handful per file — because running a
statement cost more CPU than the database spent on it, and fifty files per group made that
fifty times. The files are still taken in their queue order: a record sent twice in one group
gets version 1 from the first file and version 2 from the second, exactly as if each file had
been committed alone, and the audit entries follow the same order.

Record bodies and receipts are encoded with orjson; a record's body is byte-for-byte what
``standards.serialize.record_to_json`` writes (its ``content_sha`` must not change: an unchanged
resend is recognised by it), with the stdlib encoder as the fallback for what orjson refuses.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import orjson
import psycopg
from psycopg import sql as psql
from sqlalchemy import Connection, Table, bindparam, func, insert, select, text, update

from khoyte.access import Principal
from khoyte.dates import add_years
from khoyte.gateway.models import FindingRow, RecordHead, RecordVersionRow, Submission
from khoyte.standards import serialize
from khoyte.standards.assessment import is_assessment_key
from khoyte.standards.model import Record
from khoyte.standards.reader import DocumentKind
from khoyte.standards.serialize import record_to_json
from khoyte.store.crypto import Keyring, keyring
from khoyte.validate.engine import FileResult, RecordResult, RecordStatus

_SUB = cast(Table, Submission.__table__)
_VER = cast(Table, RecordVersionRow.__table__)
_HEAD = cast(Table, RecordHead.__table__)
_FIND = cast(Table, FindingRow.__table__)
# Core statements built once and run with parameters (building one per call, and the ORM's
# bulk machinery, cost more CPU than the database spent running them).
RECEIPT_BY_SHA = select(_SUB.c.receipt).where(_SUB.c.sha256 == bindparam("sha"))
_RECEIPTS_BY_SHA = select(_SUB.c.sha256, _SUB.c.receipt).where(
    _SUB.c.sha256.in_(bindparam("shas", expanding=True))
)
_INSERT_SUBMISSION = insert(_SUB)
_MAX_VERSION_ID = select(func.max(_VER.c.id))
_NEXT_VERSION_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('gw_record_version', 'id')) FROM generate_series(1, :n)"
)
_UPDATE_HEADS = update(_HEAD).where(
    _HEAD.c.facility == bindparam("b_facility"), _HEAD.c.ma_lk == bindparam("b_ma_lk")
)
_INSERT_FINDINGS = insert(_FIND)
_SELECT_HEADS = select(
    _HEAD.c.facility,
    _HEAD.c.ma_lk,
    _HEAD.c.latest_version,
    _HEAD.c.latest_sha,
    _HEAD.c.latest_version_id,
    _HEAD.c.current_version_id,
).where(
    # two plain IN lists (a superset of the pairs, filtered here): PostgreSQL planned a list
    # of (facility, MA_LK) pairs as one index scan per pair, ~8 ms for a group's 200 keys
    _HEAD.c.facility.in_(bindparam("facilities", expanding=True)),
    _HEAD.c.ma_lk.in_(bindparam("ma_lks", expanding=True)),
)
_CHUNK = 400  # keys per IN list (SQLite allows 32,766 bound values)


@dataclass(frozen=True)
class Receipt:
    data: dict[str, Any]
    created: bool  # False: these bytes had been received before; this is the stored receipt

    @property
    def id(self) -> str:
        return str(self.data["id"])


@dataclass(frozen=True)
class Pending:
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
    # the stored form of records made where they were read (bulk intake's reader processes),
    # by the record's index in the file; the others are made when stored
    bodies: Mapping[int, Body] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Body:
    """A record as the store keeps it: the sha256 of its canonical JSON (``record_body``; an
    unchanged resend is recognised by it) and that JSON with its identifying values sealed."""

    content_sha: str
    sealed: str


def make_body(record: Record, ring: Keyring) -> Body:
    """The record's stored form: the sha256 of its canonical JSON (``record_to_json``, the same
    bytes) and that JSON with its identifying values sealed (``Keyring.seal_record``'s). Both
    are written from one encoding of the rows' values (dates, money, birth dates tagged once):
    encoding them in orjson's callbacks for each text, or reading the first text back to seal
    it, cost as much again."""
    try:
        body, sealed = _bodies(record, ring)
    except TypeError:  # what orjson refuses (lone surrogates, integers beyond 64 bits…)
        body = record_to_json(record)
        sealed = ring.seal_record(body)
    return Body(hashlib.sha256(body.encode("utf-8")).hexdigest(), sealed)


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    """A row's values as JSON types: the tagged ones (``serialize``'s encoders: dates, money,
    birth dates) replaced, in a copy made only when there is one."""
    out: dict[str, Any] | None = None
    for k, v in values.items():
        f = _TAGGED.get(type(v))
        if f is not None:
            if out is None:
                out = dict(values)
            out[k] = f(v)
    return values if out is None else out


def _encode(record: Record) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """``record`` as ``record_to_json`` writes it, in JSON types: (its head, its tables)."""
    head = {"ma_lk": record.ma_lk, "standard": record.standard.value}
    return head, {t: [_encoded(row.values) for row in rows] for t, rows in record.tables.items()}


def _bodies(record: Record, ring: Keyring) -> tuple[str, str]:
    """(canonical JSON, sealed JSON) of ``record``; TypeError for what orjson refuses."""
    head, tables = _encode(record)
    return orjson.dumps({**head, "tables": tables}).decode(), ring.seal_tables(head, tables)


def dumps(obj: Any) -> str:
    """Compact JSON text, non-ASCII kept: ``json.dumps(obj, ensure_ascii=False,
    separators=(",", ":"))``, by orjson when it can."""
    try:
        return orjson.dumps(obj).decode()
    except TypeError:  # what orjson refuses (lone surrogates, integers beyond 64 bits…)
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


# the canonical encoders of the values JSON cannot type (tagged: {"n": …}, {"t": …}, …)
_TAGGED = serialize._ENCODERS


def record_body(record: Record) -> str:
    """``record_to_json(record)``, the same bytes: the rows' values tagged by exact type, then
    orjson (building each value through the canonical path cost as much CPU as validating the
    record). What orjson refuses takes the canonical path."""
    try:
        head, tables = _encode(record)
        return orjson.dumps({**head, "tables": tables}).decode()
    except TypeError:
        return record_to_json(record)


# the documents whose records are versioned, keyed by MA_LK (claims) or by the key of the
# minutes number (medical assessments: ``standards.assessment``)
VERSIONED = frozenset({DocumentKind.CLAIMS, DocumentKind.ASSESSMENT})


def storable(rr: RecordResult, kind: DocumentKind | None) -> bool:
    """A record of ``kind``'s document that is versioned if it was read: a usable key."""
    key = rr.ma_lk
    if kind not in VERSIONED or not key or len(key) > 100:
        return False
    # a claim's MA_LK may not take the assessments' reserved prefix (the keys never meet)
    return is_assessment_key(key) is (kind is DocumentKind.ASSESSMENT)


class GroupWrite:
    """The rows of a group of submissions, built file by file in queue order (``add``) and
    written by ``flush`` in one statement per table. Run inside the transaction that holds
    intake's write lock."""

    def __init__(self, conn: Connection, retention_years: int) -> None:
        self.conn = conn
        self.ring = keyring(conn)  # identifying values are stored sealed (khoyte.store.crypto)
        self.years = retention_years
        self.stored: dict[str, str] = {}  # sha -> receipt JSON, stored before this group
        self.fresh: dict[str, dict[str, Any]] = {}  # sha -> receipt of this group
        # per (facility, MA_LK): [latest version, content sha, version id or ("new", row),
        # current version id or ("new", row)]; ``heads`` as read, ``state`` as moved
        self.heads: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.state: dict[tuple[str, str], list[Any]] = {}
        self.touched: set[tuple[str, str]] = set()
        self.subs: list[dict[str, Any]] = []
        self.versions: list[dict[str, Any]] = []
        self.findings: list[dict[str, Any]] = []
        self.refs: list[tuple[dict[str, Any], Any]] = []  # (receipt record item, version ref)

    def load(self, batch: list[Pending]) -> None:
        """Read, in two queries, the receipts of the group's bytes and the heads of its
        records."""
        shas = sorted({p.sha for p in batch})
        for i in range(0, len(shas), _CHUNK):
            chunk = {"shas": shas[i : i + _CHUNK]}
            self.stored.update((s, r) for s, r in self.conn.execute(_RECEIPTS_BY_SHA, chunk))
        keys = sorted(
            {
                (p.facility, rr.ma_lk)
                for p in batch
                if p.res is not None
                for rr in p.records
                if storable(rr, p.res.kind)
            }
        )
        wanted = set(keys)
        for i in range(0, len(keys), _CHUNK):
            part = keys[i : i + _CHUNK]
            params = {"facilities": sorted({f for f, _ in part}), "ma_lks": [m for _, m in part]}
            for h in self.conn.execute(_SELECT_HEADS, params):
                if (h[0], h[1]) in wanted:
                    self.heads[(h[0], h[1])] = (h[2], h[3], h[4], h[5])
        self.state = {k: list(v) for k, v in self.heads.items()}

    def add(self, p: Pending, received: datetime) -> Receipt:
        """The receipt of ``p``: the stored one (bytes received before, or earlier in this
        group), else a new submission's, whose version ids ``flush`` fills in."""
        if p.sha in self.fresh:
            return Receipt(self.fresh[p.sha], created=False)
        if p.sha in self.stored:
            return Receipt(json.loads(self.stored[p.sha]), created=False)
        if p.res is None:  # pragma: no cover - receipts are never deleted
            raise LookupError(f"the receipt of {p.sha} disappeared")
        receipt = self._new(p, p.res, received)
        self.fresh[p.sha] = receipt
        return Receipt(receipt, created=True)

    def _new(self, p: Pending, res: FileResult, received: datetime) -> dict[str, Any]:
        sub_id = uuid.uuid4().hex
        records = p.records
        counts = counts_of(records)
        status = file_status(res, records)
        self.subs.append(
            {
                "id": sub_id,
                "sha256": p.sha,
                "facility": p.facility,
                "credential_id": p.credential_id,
                "channel": p.channel,
                "kind": res.kind.value if res.kind else None,
                "received_at": received,
                "retain_until": add_years(received, self.years),
                "size": p.size,
                "status": status,
                "n_records": counts["records"],
                "n_accepted": counts["accepted"],
                "n_warnings": counts["accepted_with_warnings"],
                "n_rejected": counts["rejected"],
                "receipt": "",  # written whole by flush (version ids known then)
                "profile": res.profile,
            }
        )
        file_findings = [f.as_dict() for f in res.findings]
        self.findings.extend(finding_row(sub_id, None, None, f) for f in file_findings)
        rec_out: list[dict[str, Any]] = []
        for rr in records:
            findings = [f.as_dict() for f in rr.findings]
            item: dict[str, Any] = {
                "index": rr.index,
                "ma_lk": rr.ma_lk,
                "status": rr.status.value,
                "tables": rr.tables,
                "version": None,
                "version_id": None,
                "change": None,
                "findings": findings,
            }
            rec_out.append(item)
            self.findings.extend(finding_row(sub_id, rr.index, rr.ma_lk, f) for f in findings)
            made = p.bodies.get(rr.index)  # made by the reader (bulk), else here
            if (made is not None or rr.record is not None) and storable(rr, res.kind):
                self._version(item, p.facility, cast(str, rr.ma_lk), rr, sub_id, received, made)
        return {
            "id": sub_id,
            "received_at": received.isoformat(timespec="milliseconds"),
            "facility": p.facility,
            "sha256": p.sha,
            "size": p.size,
            "kind": res.kind.value if res.kind else None,
            "standard": res.standard.value if res.standard else None,
            "profile": res.profile,
            "status": status,
            "counts": counts,
            "findings": file_findings,
            "records": rec_out,
        }

    def _version(
        self,
        item: dict[str, Any],
        facility: str,
        ma_lk: str,
        rr: RecordResult,
        sub_id: str,
        received: datetime,
        made: Body | None,
    ) -> None:
        if made is None:  # one file at a time: its stored form is made here
            made = make_body(cast(Record, rr.record), self.ring)
        csha = made.content_sha
        key = (facility, ma_lk)
        prev = self.state.get(key)
        if prev is not None and prev[1] == csha:
            item["change"], item["version"] = "unchanged", prev[0]
            self.refs.append((item, prev[2]))
            return
        number = (prev[0] if prev else 0) + 1
        self.versions.append(
            {
                "facility": facility,
                "ma_lk": ma_lk,
                "version": number,
                "submission_id": sub_id,
                "received_at": received,
                "status": rr.status.value,
                "content_sha": csha,  # of the plaintext: an unchanged resend is still "unchanged"
                "record": made.sealed,
            }
        )
        ref = ("new", len(self.versions) - 1)
        rejected = rr.status is RecordStatus.REJECTED
        current = (prev[3] if prev else None) if rejected else ref
        self.state[key] = [number, csha, ref, current]
        self.touched.add(key)
        item["change"] = "new" if prev is None else "updated"
        item["version"] = number
        self.refs.append((item, ref))

    def _version_ids(self) -> list[int]:
        """Ids for the group's new versions, taken before anything is written (the write lock
        is held: nobody else writes versions): SQLite's next ones, PostgreSQL's sequence. So the
        receipts are whole when their submissions are inserted (no second write of each), and
        the versions go in one statement: asking the database to return ids in the rows' order
        cost one INSERT per version on SQLite, and on PostgreSQL one statement as long as the
        group, which the driver parsed each time."""
        conn, n = self.conn, len(self.versions)
        if not n:
            return []
        if conn.dialect.name == "sqlite":
            top = conn.execute(_MAX_VERSION_ID).scalar() or 0
            return list(range(top + 1, top + n + 1))
        return sorted(conn.scalars(_NEXT_VERSION_IDS, {"n": n}))

    def _insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        """``rows`` into ``table`` (plain columns): PostgreSQL's COPY, one stream for them all
        (the driver's executemany sends a statement per row); elsewhere one executemany."""
        raw = self.conn.connection.driver_connection
        if not isinstance(raw, psycopg.Connection):
            self.conn.execute(insert(table), rows)
            return
        cols = list(rows[0])
        copy = psql.SQL("COPY {} ({}) FROM STDIN").format(
            psql.Identifier(table.name), psql.SQL(", ").join(map(psql.Identifier, cols))
        )
        with raw.cursor() as cur, cur.copy(copy) as stream:
            for row in rows:
                stream.write_row([row[c] for c in cols])

    def flush(self) -> None:
        """Write the group, one statement per table: submissions with their receipts, versions,
        heads, findings."""
        if not self.subs:
            return
        conn = self.conn
        ids = self._version_ids()

        def resolve(ref: Any) -> Any:
            return ids[ref[1]] if isinstance(ref, tuple) else ref

        for item, ref in self.refs:
            item["version_id"] = resolve(ref)
        for sub in self.subs:
            sub["receipt"] = dumps(self.fresh[sub["sha256"]])
        conn.execute(_INSERT_SUBMISSION, self.subs)
        if self.versions:
            self._insert(_VER, [{**v, "id": i} for v, i in zip(self.versions, ids, strict=True)])
        # the heads as the last file of the group left them: latest always, current only to a
        # version that was not rejected
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for key in sorted(self.touched):
            number, csha, ref, current = self.state[key]
            row = {
                "latest_version": number,
                "latest_sha": csha,
                "latest_version_id": resolve(ref),
                "current_version_id": resolve(current),
            }
            if key in self.heads:
                updates.append({"b_facility": key[0], "b_ma_lk": key[1], **row})
            else:
                inserts.append({"facility": key[0], "ma_lk": key[1], **row})
        if inserts:
            self._insert(_HEAD, inserts)
        if updates:
            conn.execute(_UPDATE_HEADS, updates)
        if self.findings:
            conn.execute(_INSERT_FINDINGS, self.findings)


def counts_of(records: list[RecordResult]) -> dict[str, int]:
    out = {"records": len(records), "accepted": 0, "accepted_with_warnings": 0, "rejected": 0}
    for r in records:
        out[r.status.value] += 1
    return out


def file_status(res: FileResult, records: list[RecordResult]) -> str:
    res.records = records
    try:
        return res.status.value
    finally:
        res.records = []


def finding_row(
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
