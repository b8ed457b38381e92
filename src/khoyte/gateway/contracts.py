"""The gateway's contracts with every HIS vendor: the receipt and the record history, as
Pydantic models (OpenAPI documents them; ``tests/test_contracts.py`` pins that a served receipt
is exactly these keys). The JSON field names are the ones clients already read: never rename."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FileStatusName = Literal["accepted", "partially_accepted", "rejected"]
RecordStatusName = Literal["accepted", "accepted_with_warnings", "rejected"]


class FindingOut(BaseModel):
    """One thing khoyte tells the sender about their data (``khoyte.findings``)."""

    code: str = Field(description="`TABLE.FIELD.RULE`, stable (e.g. `XML1.T_BHTT.FORMULA`).")
    severity: Literal["error", "warning", "info"] = Field(
        description="Theo hồ sơ đánh giá / as the judging profile decides: `error` rejects the "
        "record, `warning` accepts it with a note, `info` notes a repair or a shadow rule."
    )
    table: str | None
    stt: int | None
    field: str | None
    value: str | None
    message_vi: str
    message_en: str
    convention: str | None = Field(
        None,
        description="Quy ước của phần mềm xuất dữ liệu giải thích phát hiện này / the exporter "
        "convention that explains this finding (`khoyte rules --conventions`).",
    )


class Counts(BaseModel):
    records: int
    accepted: int
    accepted_with_warnings: int
    rejected: int


class RecordReceipt(BaseModel):
    index: int = Field(description="Thứ tự HOSO trong tệp / position of the HOSO in the file.")
    ma_lk: str | None
    status: RecordStatusName
    tables: list[str]
    version: int | None = Field(description="Phiên bản của (cơ sở, MA_LK) / version number.")
    version_id: int | None
    change: Literal["new", "updated", "unchanged"] | None
    findings: list[FindingOut]


class Receipt(BaseModel):
    """Biên nhận: what was stored, exactly as committed (``GET /api/v1/submissions/{id}``
    returns the same bytes)."""

    id: str
    received_at: str = Field(description="UTC, ISO 8601 with milliseconds.")
    facility: str
    sha256: str
    size: int
    kind: str | None = Field(
        description="`claims` (XML 130/4210), `checkin` (XML0) or `assessment` (XML12)."
    )
    standard: str | None
    profile: str | None = Field(
        description="Hồ sơ đánh giá đã áp dụng / the judging profile that decided every "
        "severity in this receipt (`hub`, `payer`, or a deployment's own)."
    )
    status: FileStatusName
    counts: Counts
    findings: list[FindingOut] = Field(description="Lỗi cấp tệp / file-level findings.")
    records: list[RecordReceipt]


class SubmissionSummary(BaseModel):
    id: str
    received_at: str
    facility: str
    sha256: str
    kind: str | None
    channel: str
    size: int
    status: FileStatusName
    counts: Counts


class SubmissionList(BaseModel):
    submissions: list[SubmissionSummary]


class VersionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "One stored version."})

    version: int
    version_id: int
    submission_id: str
    received_at: str
    status: RecordStatusName
    content_sha256: str
    record: dict[str, Any] | None = Field(
        None,
        description="Nội dung hồ sơ (chỉ với quyền view_records; có ghi nhật ký) / the record's "
        "content, only for the current version and only with view_records (audited).",
    )


class RecordHistory(BaseModel):
    facility: str
    ma_lk: str
    current: VersionOut | None
    latest_version: int
    versions: list[VersionOut]


class Status(BaseModel):
    status: str
