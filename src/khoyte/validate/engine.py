"""Validating a file: read (``standards.reader``) → type (``standards.convert``) → rules.

``iter_file`` streams ``RecordResult``s one ``HOSO`` at a time; ``validate_file`` collects them
into a ``FileResult``. A problem in one record never rejects another record of the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from khoyte.findings import Finding, Severity
from khoyte.standards.convert import convert_row, fast_plan, hub_fast_plan
from khoyte.standards.model import Record, Row, Standard, row_class_of
from khoyte.standards.reader import DEFAULT_MAX_BYTES, DocumentKind, RawHoso, SubmissionReader
from khoyte.validate.catalog import field_finding, make
from khoyte.validate.order import distant, order_findings
from khoyte.validate.policy import Policy, load_policy
from khoyte.validate.recognise import recognise
from khoyte.validate.rules import RECORD_RULES, Context

# How many HOSO are read before they are checked (see ``iter_file``).
CHECK_BATCH = 32


class RecordStatus(StrEnum):
    ACCEPTED = "accepted"
    WARNINGS = "accepted_with_warnings"
    REJECTED = "rejected"


class FileStatus(StrEnum):
    ACCEPTED = "accepted"  # every record accepted (possibly with warnings)
    PARTIAL = "partially_accepted"  # some records rejected, some accepted
    REJECTED = "rejected"  # nothing accepted (or the file is unusable)


@dataclass(slots=True)
class RecordResult:
    index: int  # position of the HOSO in the file, 1-based
    ma_lk: str | None
    standard: Standard
    tables: list[str]
    findings: list[Finding]
    record: Record | None  # None when nothing could be read (no XML1 and no tables)

    @property
    def status(self) -> RecordStatus:
        warned = False
        for f in self.findings:
            if f.severity is Severity.ERROR:
                return RecordStatus.REJECTED
            if f.severity is Severity.WARNING:
                warned = True
        return RecordStatus.WARNINGS if warned else RecordStatus.ACCEPTED

    def as_dict(self) -> dict[str, Any]:
        return {
            "ma_lk": self.ma_lk,
            "tables": self.tables,
            "status": self.status.value,
            "findings": [f.as_dict() for f in self.findings],
        }


@dataclass(slots=True)
class FileResult:
    file: str
    kind: DocumentKind | None = None
    standard: Standard | None = None
    facility: str | None = None
    findings: list[Finding] = field(default_factory=list)
    records: list[RecordResult] = field(default_factory=list)
    unusable: bool = False
    bytes_read: int = 0
    profile: str = "payer"  # the judging profile (validate/policy.py)

    @property
    def status(self) -> FileStatus:
        # A file-level error (unusable, or nothing could be read) rejects the whole file.
        if self.unusable or not self.records or any(f.is_error for f in self.findings):
            return FileStatus.REJECTED
        statuses = {r.status for r in self.records}
        if RecordStatus.REJECTED not in statuses:
            return FileStatus.ACCEPTED
        return FileStatus.REJECTED if statuses == {RecordStatus.REJECTED} else FileStatus.PARTIAL

    def counts(self) -> dict[str, int]:
        out = {
            "records": len(self.records),
            "accepted": 0,
            "accepted_with_warnings": 0,
            "rejected": 0,
        }
        for r in self.records:
            out[r.status.value] += 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "standard": self.standard.value if self.standard else None,
            "facility": self.facility,
            "profile": self.profile,
            "status": self.status.value,
            "counts": self.counts(),
            "findings": [f.as_dict() for f in self.findings],
            "records": [r.as_dict() for r in self.records],
        }


def validate_hoso(raw: RawHoso, ctx: Context, hub: bool = False) -> RecordResult:
    """Type and check one ``HOSO`` (``hub``: see ``iter_file``'s ``hub_findings``)."""
    findings = raw.findings  # the reader's list, kept: a RawHoso is read once
    ctx.standard = raw.standard
    ctx.invalid = {}
    ctx.broken = {f.table for f in findings if f.table} if findings else set()
    tables: dict[str, list[Row]] = {}
    for t in raw.tables:
        rows: list[Row] = []
        unknown_all: set[str] = set()
        row_class = row_class_of(t.table)
        for i, raw_row in enumerate(t.rows, start=1):
            if isinstance(raw_row, Row):  # read and typed clean by the compiled reader
                rows.append(raw_row)
                continue
            values, problems, unknown = convert_row(raw.standard, t.table, raw_row, i, hub)
            row = row_class(t.table, values)
            if problems:
                findings.extend(problems)
                bad = {f.field for f in problems if f.severity is Severity.ERROR and f.field}
                if bad:
                    ctx.invalid[id(row)] = {_canonical(raw.standard, t.table, n) for n in bad}
            unknown_all |= unknown
            rows.append(row)
        for name in sorted(unknown_all):
            findings.append(field_finding("UNKNOWN_FIELD", t.table, name, None, None))
        if (
            t.table in ("XML1", "XML7", "XML8", "XML10", "XML11", "XML13", "XML14")
            and len(rows) != 1
        ):
            findings.append(
                make("SINGLE", code=f"HOSO.{t.table}.SINGLE", table=t.table, count=len(rows))
            )
        tables[t.table] = rows
    ma_lk = raw.ma_lk
    if raw.tables and raw.tables[0].table in ("XML0", "XML12"):
        record = Record(ma_lk or f"#{raw.index}", raw.standard, tables)
    elif "XML1" not in tables:
        # An XML1 that was sent but not read (empty, …) is as missing as one never sent.
        if not any(f.code.startswith("HOSO.XML1.") and f.is_error for f in findings):
            findings.append(make("MISSING", code="HOSO.XML1.MISSING", table="XML1"))
        partial = Record(ma_lk or f"#{raw.index}", raw.standard, tables) if tables else None
        return RecordResult(
            raw.index, ma_lk, raw.standard, [t.table for t in raw.tables], findings, partial
        )
    else:
        record = Record(ma_lk or f"#{raw.index}", raw.standard, tables)
    for rule in RECORD_RULES:
        findings.extend(rule(record, ctx))
    return RecordResult(
        raw.index, ma_lk, raw.standard, [t.table for t in raw.tables], findings, record
    )


def complete_record(
    rr: RecordResult,
    base: Record,
    base_version: int,
    policy: Policy,
    *,
    facility: str | None,
    received_at: datetime,
) -> RecordResult:
    """A record sent without its XML1 (a portal download: one table per file) joined to the
    record already stored for the same facility and ``MA_LK``: the tables sent replace the
    stored ones of the same name, and the whole is checked again under ``policy``. The findings
    of reading the tables sent are kept; ``HOSO.XML1.MISSING`` gives way to one note per table
    joined."""
    if rr.record is None:
        return rr
    tables = dict(base.tables)
    tables.update(rr.record.tables)
    record = Record(base.ma_lk, rr.standard, tables)
    ctx = Context(standard=rr.standard, facility=facility, received_at=received_at)
    findings = [f for f in rr.findings if f.code != "HOSO.XML1.MISSING"]
    for table in sorted(rr.record.tables):
        findings.append(
            make("MERGED", code=f"HOSO.{table}.MERGED", table=table, version=base_version)
        )
    for rule in RECORD_RULES:
        findings.extend(rule(record, ctx))
    findings = policy.judge(recognise(record, findings, explain=policy.explains), record)
    order_findings(findings, rr.standard)
    return RecordResult(rr.index, rr.ma_lk, rr.standard, sorted(tables), findings, record)


def payer_policy() -> Policy:
    global _PAYER
    if _PAYER is None:
        _PAYER = load_policy("payer")
    return _PAYER


_PAYER: Policy | None = None


def _canonical(standard: Standard, table: str, name: str) -> str:
    if standard is not Standard.QD4210:
        return name
    from khoyte.standards.qd4210 import canonical_names

    return canonical_names(table, name)[0]


def iter_file(
    source: bytes | str | Path | IO[bytes],
    name: str | None = None,
    *,
    received_at: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    result: FileResult | None = None,
    policy: Policy | None = None,
    hub_findings: bool | None = None,
) -> Iterator[RecordResult]:
    """Stream the validated records of one file. Pass ``result`` to have its header, file-level
    findings and status filled in (records are not kept there: the caller decides).

    ``policy`` judges every finding (``validate/policy.py``); without one, the ``payer`` profile
    (the written formulas as errors, khoyte's behaviour before profiles). Product entry points
    (``khoyte validate``, the gateway) pass the deployment's profile, ``hub`` by default.

    ``hub_findings`` is the hub's reading (``None``: on unless the profile is ``payer``): a
    placeholder (``NaN``, ``null``, ``undefined``, a dotted template, words in a number field) in
    any field, and ``0`` written for "none" in a code field, are read as missing with a
    ``PLACEHOLDER`` / ``ZERO_NONE`` finding (the finding the value's type gives, e.g. ``NUMBER``,
    is still made, at the same table, line and field, for the policy to drop), and a file dated
    far from a visit is a ``HOSO.NGAYLAP.DISTANT`` finding. Off, khoyte says what it said before
    the judging profiles (``tests/test_payer_golden.py``). Whatever the setting, every variant
    the reader repairs is told (severity ``info``), a file from which no record could be read is
    rejected, and findings come out in a stable order (``order_findings``)."""
    judge = policy if policy is not None else payer_policy()
    if hub_findings is None:
        hub_findings = judge.name != "payer"
    reader = SubmissionReader(
        source, name, max_bytes, planner=hub_fast_plan if hub_findings else fast_plan
    )
    res = result if result is not None else FileResult(reader.name)
    res.profile = judge.name
    explain = judge.explains
    ctx = Context(received_at=received_at or datetime.now())
    seen: dict[str, int] = {}
    first_standard: Standard | None = None
    read_any = False

    def check(batch: list[tuple[RawHoso, str | None]]) -> Iterator[RecordResult]:
        nonlocal first_standard, read_any
        for raw, facility in batch:
            ctx.facility = facility
            read_any = read_any or any(t.rows for t in raw.tables)
            rr = validate_hoso(raw, ctx, hub_findings)
            if hub_findings and rr.record is not None and "XML1" in rr.record.tables:
                far = distant(reader.header.created, rr.record)
                if far is not None:
                    rr.findings.append(far)
            if first_standard is None and raw.tables:
                first_standard = raw.standard
            elif raw.tables and raw.standard is not first_standard and first_standard is not None:
                rr.findings.append(
                    make(
                        "GENERATION",
                        code="HOSO.STANDARD.MIXED",
                        value=raw.standard.value,
                        expected=first_standard.value,
                    )
                )
            if rr.ma_lk and reader.header.kind is DocumentKind.CLAIMS:
                if rr.ma_lk in seen:
                    rr.findings.append(
                        make(
                            "DUPLICATE",
                            code="HOSO.MA_LK.DUPLICATE",
                            field="MA_LK",
                            value=rr.ma_lk,
                            other=seen[rr.ma_lk],
                        )
                    )
                else:
                    seen[rr.ma_lk] = raw.index
            if rr.findings:
                rr.findings = judge.judge(
                    recognise(rr.record, rr.findings, explain=explain), rr.record
                )
            if len(rr.findings) > 1:
                order_findings(rr.findings, raw.standard)
            yield rr

    # Reading (libxml2, base64) and checking (the rules) each run best with their own code and
    # data hot in the CPU caches: records are read a few at a time, then checked together.
    # A read record holds only its rows, so a batch costs little memory.
    batch: list[tuple[RawHoso, str | None]] = []
    for raw in reader:
        batch.append((raw, reader.header.facility))
        if len(batch) >= CHECK_BATCH:
            yield from check(batch)
            batch = []
    yield from check(batch)
    res.file = reader.name
    res.kind = reader.header.kind
    res.standard = first_standard
    res.facility = reader.header.facility
    if not reader.unusable and reader.count and not read_any:
        reader.findings.append(
            make("FILE_NOTHING_READ", code="FILE.CONTENT.NOTHING_READ", count=reader.count)
        )
    res.findings = judge.judge(reader.findings, None)
    res.unusable = reader.unusable
    res.bytes_read = reader.bytes_read


def validate_file(
    source: bytes | str | Path | IO[bytes],
    name: str | None = None,
    *,
    received_at: datetime | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    keep_records: bool = True,
    policy: Policy | None = None,
    hub_findings: bool | None = None,
) -> FileResult:
    """Validate one file (``iter_file``, whose ``hub_findings`` this passes on)."""
    result = FileResult(
        name or str(source) if isinstance(source, str | Path) else (name or "<stream>")
    )
    for rr in iter_file(
        source,
        name,
        received_at=received_at,
        max_bytes=max_bytes,
        result=result,
        policy=policy,
        hub_findings=hub_findings,
    ):
        if not keep_records:
            rr.record = None
        result.records.append(rr)
    if result.unusable:
        # A file that breaks off cannot vouch for what came before the break.
        result.records = []
    return result
