"""The dashboards' JSON twins and their filter parameters, as Pydantic models.

The query functions (``kcb.py``, ``completeness.py``) build plain dicts; these models describe
them for OpenAPI and check them on the way out (``response_model``). Field names are what the
pages' script and outside clients (IOC) already read: never rename. Counting rules:
``docs/warehouse.md``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CODE = r"^[0-9A-Za-z_.\-]{1,20}$"
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2199, 12, 31)
MAX_DAYS = 366 * 20


def check_period(a: date | None, b: date | None) -> None:
    """The one rule for a ``from``/``to`` period of every twin: in order, at most 20 years."""
    if a is not None and b is not None:
        if a > b:
            raise ValueError("from must not be after to / ngày bắt đầu phải trước ngày kết thúc")
        if (b - a).days > MAX_DAYS:
            raise ValueError("the period may span at most 20 years / tối đa 20 năm")


Tier = Literal["tinh", "khu_vuc", "xa", "tu_nhan"]


class FilterParams(BaseModel):
    """The filters every dashboard and twin takes from its query string (all optional; the
    period defaults to the last twelve months with data). An empty value means "not set"."""

    model_config = ConfigDict(populate_by_name=True)

    date_from: date | None = Field(
        None, alias="from", ge=FIRST_DAY, le=LAST_DAY, description="Từ ngày / first day."
    )
    date_to: date | None = Field(
        None, alias="to", ge=FIRST_DAY, le=LAST_DAY, description="Đến ngày / last day."
    )
    commune: str | None = Field(None, pattern=CODE, description="Mã xã / commune code (2025).")
    facility: str | None = Field(None, pattern=CODE, description="MA_CSKCB.")
    tier: Tier | None = Field(None, description="Tuyến / tier of the facility.")
    loai_kcb: str | None = Field(
        None, pattern=CODE, description="MA_LOAI_KCB (1 → 01); visit type."
    )

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: Any) -> Any:
        return None if v == "" else v  # a form's empty select sends `commune=`

    @field_validator("loai_kcb")
    @classmethod
    def _two_digits(cls, v: str | None) -> str | None:
        return v.zfill(2) if v is not None and v.isascii() and v.isdigit() else v

    @model_validator(mode="after")
    def _period(self) -> FilterParams:
        check_period(self.date_from, self.date_to)
        return self


class Period(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    date_from: str = Field(alias="from")
    date_to: str = Field(alias="to")


class AppliedFilters(BaseModel):
    commune: str | None = None
    facility: str | None = None
    tier: str | None = None
    loai_kcb: str | None = None


class Freshness(BaseModel):
    """Whether the numbers are complete (``docs/warehouse.md``: never show an untrue number).
    Its fields come last in every twin (a mixin listed after ``BaseModel`` subclasses)."""

    as_of: str | None = Field(None, description="Thời điểm dữ liệu mới nhất đã nạp / newest load.")
    ready: bool = Field(
        True,
        description="false: the warehouse is still loading records already in the store "
        "(since `catching_up_since`); the numbers are incomplete.",
    )
    catching_up_since: str | None = Field(None, description="UTC, ISO 8601.")


class Visits(BaseModel):
    """Counts of people are ``None`` when suppressed (below ``suppressed_below``)."""

    total: int | None
    by_loai_kcb: dict[str, int | None]
    outpatient: int | None
    inpatient: int | None
    by_sex: dict[str, int | None]
    by_age_band: dict[str, int | None]


class Costs(BaseModel):
    total: float | None
    bhyt: float | None
    patient: float | None


class Icd10Count(BaseModel):
    code: str
    name_vi: str
    name_en: str
    count: int | None


class TrendPoint(BaseModel):
    """One month (``month``: YYYY-MM) or one day (``date``) with last year's figures."""

    model_config = ConfigDict(extra="allow")

    month: str | None = None
    date: str | None = None
    visits: int | None
    inpatient: int | None
    emergencies: int | None
    deaths: int | None
    cost_total: float | None
    visits_last_year: int | None
    cost_total_last_year: float | None


class Readmissions(BaseModel):
    """Inpatient stays discharged in the period (alive, not transferred) and those followed by
    an inpatient admission of the same person within ``days`` days, at any facility."""

    days: int
    discharges: int | None
    readmitted: int | None
    rate: float | None


class Persons(BaseModel):
    """People, not visits (``docs/warehouse.md`` "Counting people")."""

    served: int | None
    visits_per_person: float | None
    readmissions: Readmissions


class ReferralFlow(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    from_name: str
    to: str
    to_name: str
    count: int | None
    followed_up: int | None


class Referrals(BaseModel):
    """Referral papers (XML13) sent by the facilities in scope, per sending → receiving
    facility; ``followed_up``: the destination saw the person within ``followup_days``."""

    followup_days: int
    total: int | None
    followed_up: int | None
    flows: list[ReferralFlow]


class _KcbTwin(BaseModel):
    period: Period
    filters: AppliedFilters
    facilities_reporting: int
    visits: Visits
    emergencies: int | None
    deaths: int | None
    bed_days: int | None
    costs: Costs
    bhyt_records: int | None
    top_icd10: list[Icd10Count]
    monthly: list[TrendPoint]
    suppressed_below: int = Field(
        0,
        description="Counts of people from 1 to this minus one are null (small-count "
        "suppression, `khoyte.analytics.disclosure`); 0: nothing hidden.",
    )


class KcbTwin(Freshness, _KcbTwin):
    """Its numbers, then whether they are complete."""


class _PeopleTwin(BaseModel):
    period: Period
    filters: AppliedFilters
    persons: Persons
    referrals: Referrals
    suppressed_below: int = 0


class PeopleTwin(Freshness, _PeopleTwin):
    """People, not visits (its own twin: these read the facts, not the aggregates, and cost
    more than the KCB twin's numbers; docs/warehouse.md "Counting people")."""


class _DailyTwin(BaseModel):
    period: Period
    filters: AppliedFilters
    daily: list[TrendPoint]


class DailyTwin(Freshness, _DailyTwin):
    """Its numbers, then whether they are complete."""


class BreakdownRow(BaseModel):
    code: str | None
    name: str | None
    tier: str | None = None
    active: bool | None = None  # by facility: the registry's flag (None: not in the registry)
    visits: int | None
    facilities: int
    inpatient: int | None
    emergencies: int | None
    deaths: int | None
    bed_days: int | None
    cost_total: float | None
    cost_bhyt: float | None


class _BreakdownTwin(BaseModel):
    period: Period
    filters: AppliedFilters
    by: Literal["commune", "facility"]
    rows: list[BreakdownRow]


class BreakdownTwin(Freshness, _BreakdownTwin):
    """Its numbers, then whether they are complete."""


class FacilityCompleteness(BaseModel):
    facility: str
    name: str
    tier: str | None
    commune: str | None
    commune_name: str | None
    days: int
    days_with_data: int
    records: int | None
    rejected: int | None
    first_received: str | None
    last_received: str | None
    last_day_with_data: str | None
    active: bool | None = None  # the registry's flag; an inactive facility is never silent
    silent: bool
    silent_days: int | None


class ReportingPoint(BaseModel):
    model_config = ConfigDict(extra="allow")

    day: str | None = None
    month: str | None = None
    facilities: int


class GridCell(BaseModel):
    model_config = ConfigDict(extra="allow")

    facility: str
    day: str | None = None
    month: str | None = None
    records: int | None
    rejected: int | None
    first_received: str | None
    last_received: str | None


class _CompletenessTwin(BaseModel):
    period: Period
    filters: AppliedFilters
    unit: Literal["day", "month"]
    silent_after_days: int
    facilities: list[FacilityCompleteness]
    silent: list[str]
    reporting: list[ReportingPoint]
    grid: list[GridCell] | None


class CompletenessTwin(Freshness, _CompletenessTwin):
    """Its numbers, then whether they are complete."""
