"""Typed answers of the aggregate data-quality and approval routes (DHIS2's camelCase names)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field


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
