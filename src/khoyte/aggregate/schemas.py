"""Typed answers of the aggregate data-quality and approval routes (DHIS2's camelCase names)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class CompletenessOut(BaseModel):
    orgUnit: str
    received: bool
    onTime: bool
    firstReceived: datetime | None
    approvalLevel: str | None


class ViolationOut(BaseModel):
    rule: str
    orgUnit: str
    left: float
    operator: str
    right: float
    name_vi: str
    name_en: str


class OutlierOut(BaseModel):
    dataElement: str
    categoryOptionCombo: str
    orgUnit: str
    value: float
    median: float
    mad: float = Field(description="median absolute deviation of the seasonal history")
    score: float = Field(description="(value − median) / max(1.4826 × MAD, √(median + 1))")
    history: int = Field(description="values of the same months of earlier years compared")


class QualityOut(BaseModel):
    dataSet: str
    period: str
    due: date = Field(description="5 working days (the data set's due_days) after the period")
    expected: int
    received: int
    onTime: int
    completeness: float | None = Field(description="% of expected reports received")
    timeliness: float | None = Field(description="% of expected reports received by the due date")
    reports: list[CompletenessOut]
    silent: list[str] = Field(
        description="org units that reported in the 3 periods before, not now"
    )
    violations: list[ViolationOut]
    outliers: list[OutlierOut]


class ApprovalIn(BaseModel):
    dataSet: str = Field(max_length=64)
    period: str = Field(max_length=16)
    orgUnit: str = Field(max_length=16)


class UnlockIn(ApprovalIn):
    reason: str = Field(min_length=3, max_length=500)


class ReportStatusOut(BaseModel):
    dataSet: str
    period: str
    orgUnit: str
    approvalLevel: str | None
    locked: bool


# ---- IOC dashboards of groups 4–8 (``GET /api/v1/ioc/{group}``) ----------------------------


class IocPoint(BaseModel):
    """One month (``YYYY-MM``): the actual value, the plan, and actual ÷ plan in %. A value is
    ``null`` when nothing was reported or when hidden (small counts of people)."""

    model_config = ConfigDict(extra="allow")  # service groups: one key per group of service

    month: str
    actual: float | None = None
    plan: float | None = None
    achieved_pct: float | None = None


class IocRow(BaseModel):
    """One org unit of the drill-down (a commune or a facility)."""

    code: str | None
    name: str
    level: str
    actual: float | None
    plan: float | None
    achieved_pct: float | None


class IocOption(BaseModel):
    code: str
    name_vi: str
    name_en: str
    value: float | None


class IocPanel(BaseModel):
    code: str
    kind: Literal["indicator", "claims", "service_groups", "papers"]
    chart: str
    name_vi: str
    name_en: str
    unit_vi: str
    unit_en: str
    additive: bool = Field(
        description="true: planned pro rata (the plan of a month is a twelfth of the year's)"
    )
    level: str = Field(description="org unit level of the data: province | commune | facility")
    datasets: list[str]
    actual: float | None
    plan: float | None = Field(description="targets.csv for the org unit and year(s)")
    achieved_pct: float | None
    reports: int | None = Field(description="org unit × month reports counted (aggregates)")
    monthly: list[IocPoint]
    breakdown: list[IocRow]
    by_option: list[IocOption] | None


class IocOrgUnit(BaseModel):
    code: str | None = Field(description="null: the caller's assigned scope")
    name: str
    level: Literal["province", "commune", "facility", "scope"]


class IocApproval(BaseModel):
    approved_only: bool = Field(description="true: only approved (locked) reports are counted")
    reports: int = Field(description="reports of the group's data sets in the selection")
    approved: int


class IocGroupOut(BaseModel):
    code: str
    number: int
    name_vi: str
    name_en: str


class IocTwin(BaseModel):
    group: str
    number: int
    name_vi: str
    name_en: str
    source_vi: str
    source_en: str
    period: dict[str, str] = Field(description='{"from": "YYYY-MM", "to": "YYYY-MM"}')
    orgunit: IocOrgUnit
    approval: IocApproval
    panels: list[IocPanel]
    suppressed_below: int = Field(0, description="counts of people 1 … this − 1 are null")
    metadata_version: str


# ---- the web data-entry form (``/api/v1/aggregate/entry``) ---------------------------------


class EntryValueIn(BaseModel):
    dataElement: str = Field(max_length=64)
    categoryOptionCombo: str = Field("", max_length=64)
    value: str = Field(
        max_length=64,
        description="canonical number: 1234 or 12.5 (dot); empty: delete the stored value",
    )


class EntryIn(BaseModel):
    dataSet: str = Field(max_length=64)
    period: str = Field(max_length=16)
    orgUnit: str = Field(max_length=16)
    values: list[EntryValueIn] = Field(min_length=1, max_length=1000)


class EntryCellOut(BaseModel):
    dataElement: str
    categoryOptionCombo: str
    name_vi: str
    name_en: str
    combo_vi: str
    combo_en: str
    unit_vi: str
    unit_en: str
    valueType: str
    value: str | None
    last: str | None = Field(description="the value of the period before")
    min: float | None = Field(description="smallest value of the earlier periods")
    max: float | None = Field(description="largest value of the earlier periods")
    earlier: int = Field(description="earlier periods with a value")


class EntryOut(BaseModel):
    dataSet: str
    period: str
    orgUnit: str
    lastPeriod: str
    approvalLevel: str | None
    locked: bool
    cells: list[EntryCellOut]


class EntrySavedOut(BaseModel):
    status: str
    importCount: dict[str, int]
    problems: list[dict[str, Any]]


class TargetRowOut(BaseModel):
    """One plan (kế hoạch, chỉ tiêu): indicator × org unit × year."""

    indicator: str
    name_vi: str
    name_en: str
    unit_vi: str
    unit_en: str
    orgUnit: str
    orgUnitName: str
    year: int
    target: str | None = Field(description="canonical number (dot); null: no plan (missing)")
    source: str | None = Field(description="the file it came from, web, or targets.csv")
    stored: bool = Field(description="false: the package's default (targets.csv)")
    storedBy: str | None
    updatedAt: datetime | None
    iocGroups: list[int] = Field(description="numbers of the IOC groups showing this plan")


class TargetsOut(BaseModel):
    year: int | None = Field(description="the year asked for; null: every year")
    orgUnit: str | None
    canEdit: bool = Field(description="the caller may edit, delete and upload plans")
    missingYear: int
    missingOrgUnit: str | None = Field(description="the org unit whose missing plans are listed")
    rows: list[TargetRowOut]
    missing: list[TargetRowOut] = Field(
        description="plans an IOC group shows that have none for the year and org unit"
    )


class TargetIn(BaseModel):
    indicator: str = Field(max_length=64)
    orgUnit: str = Field(max_length=16)
    year: int = Field(ge=2000, le=2100)
    value: str = Field(max_length=64, description="canonical number: 1234 or 12.5 (dot)")


class TargetProblemOut(BaseModel):
    code: str
    row: int
    column: str
    value: str
    message_vi: str
    message_en: str


class TargetsReceiptOut(BaseModel):
    status: Literal["loaded", "unchanged", "rejected"]
    file: str
    rows: int = Field(description="plan values read")
    imported: int
    updated: int
    problems: list[TargetProblemOut]
