"""The workspace's query parameters and JSON twins, as Pydantic models (OpenAPI, and checked on
the way out like the dashboards' twins in ``analytics/contracts.py``). Counts are ``None`` when
suppressed for an aggregates-only caller (``suppressed_below``)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from khoyte.analytics.contracts import CODE, FIRST_DAY, LAST_DAY, Period, check_period

FINDING_CODE = r"^[0-9A-Za-z_.\-]{1,64}$"


class QualityParams(BaseModel):
    """Query string of every page and twin of the workspace (all optional)."""

    model_config = ConfigDict(populate_by_name=True)

    date_from: date | None = Field(
        None, alias="from", ge=FIRST_DAY, le=LAST_DAY, description="Từ ngày vào / first visit day."
    )
    date_to: date | None = Field(
        None, alias="to", ge=FIRST_DAY, le=LAST_DAY, description="Đến ngày vào / last visit day."
    )
    facility: str | None = Field(None, pattern=CODE, description="MA_CSKCB.")
    code: str | None = Field(
        None, pattern=FINDING_CODE, description="Mã lỗi / a finding code (XML1.T_BHTT.FORMULA)."
    )
    month: str | None = Field(None, pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (NGAY_VAO).")
    status: Literal["rejected", "flagged"] | None = Field(
        None, description="rejected: bị từ chối; flagged: có lỗi/cảnh báo / records listed."
    )
    page: int = Field(1, ge=1, le=100_000, description="Trang / page of a record list.")

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: Any) -> Any:
        return None if v == "" else v

    @model_validator(mode="after")
    def _period(self) -> QualityParams:
        check_period(self.date_from, self.date_to)
        return self


class ConventionShare(BaseModel):
    code: str
    records: int | None
    share: float | None


class FacilityQuality(BaseModel):
    facility: str
    name: str | None
    records: int | None
    with_findings: int | None
    rejected: int | None
    share_with_findings: float | None
    conventions: list[ConventionShare]


class RuleQuality(BaseModel):
    code: str
    severity: str = Field(description="Mức độ như đã chấm / severity as judged.")
    records: int | None
    payer_severity: str = Field(description="Mức độ theo hồ sơ BHXH / under the payer profile.")
    amount_at_risk: float | None = Field(
        description="Σ T_BHTT (else T_TONGCHI_BH) of the records it hits, when the payer "
        "profile judges it an error; else 0."
    )
    meaning_vi: str
    meaning_en: str
    fix_vi: str
    fix_en: str
    conventions: list[str]


class AgeingBand(BaseModel):
    band: str
    name_vi: str
    name_en: str
    with_findings: int | None
    rejected: int | None


class Ageing(BaseModel):
    as_of: str
    bands: list[AgeingBand]


class Applied(BaseModel):
    facility: str | None = None
    code: str | None = None
    month: str | None = None
    status: str | None = None


class QualityTwin(BaseModel):
    period: Period
    filters: Applied
    records: int | None
    records_with_findings: int | None
    rejected: int | None
    records_at_risk: int | None
    amount_at_risk: float | None = Field(
        description="Σ T_BHTT (else T_TONGCHI_BH) of records with a finding the payer profile "
        "judges an error (each record once)."
    )
    by_rule: list[RuleQuality]
    by_facility: list[FacilityQuality]
    worst_facilities: list[str]
    ageing: Ageing
    suppressed_below: int = 0


class MonthQuality(BaseModel):
    month: str
    records: int | None
    with_findings: int | None
    rejected: int | None
    share_with_findings: float | None


class FacilityMonth(BaseModel):
    facility: str
    month: str
    records: int | None
    with_findings: int | None
    rejected: int | None


class Cell(BaseModel):
    facility: str
    month: str
    code: str
    records: int | None


class MonthsTwin(BaseModel):
    period: Period
    filters: Applied
    months: list[MonthQuality]
    facility_months: list[FacilityMonth]
    cells: list[Cell]
    suppressed_below: int = 0


class FindingOut(BaseModel):
    code: str
    severity: str
    table: str | None
    stt: int | None
    field: str | None
    value: str | None = Field(description="As sent; masked (•••) when it identifies a person "
                              "and the caller may not see record content.")  # fmt: skip
    convention: str | None


class RecordRow(BaseModel):
    facility: str
    ma_lk: str
    day: str | None
    month: str | None
    discharge: str | None
    status: str
    submission_id: str
    received_at: str
    receipt_url: str
    amount: float | None
    codes: list[str]
    conventions: list[str]
    findings: list[FindingOut]


class RuleCount(BaseModel):
    code: str
    severity: str
    records: int


class RecordsTwin(BaseModel):
    period: Period
    filters: Applied
    total: int
    offset: int
    limit: int
    rows: list[RecordRow]
    by_rule: list[RuleCount]
