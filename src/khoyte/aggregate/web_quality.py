"""HTTP: data quality and approval of aggregate reports (issue 13, items 4 and 5). Scoped: a
caller sees and approves only the org units of their scope; another answers 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from khoyte.access import Permission, Principal, deny_out_of_scope, requires
from khoyte.aggregate import approval, quality_report, store
from khoyte.aggregate.metadata import DataSet, load
from khoyte.aggregate.schemas import ApprovalIn, QualityOut, ReportStatusOut, UnlockIn
from khoyte.aggregate.web import _period
from khoyte.deps import ServicesDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.store.db import session_scope

router = APIRouter(responses=ERROR_RESPONSES, tags=["aggregate"])
Quality = Annotated[Principal, Depends(requires(Permission.DATA_QUALITY))]
Approve = Annotated[Principal, Depends(requires(Permission.APPROVE_AGGREGATE))]
Unlock = Annotated[Principal, Depends(requires(Permission.UNLOCK_AGGREGATE))]


def _dataset(code: str) -> DataSet:
    ds = load().datasets.get(code)
    if ds is None:
        raise ApiError(404, message_vi=f"Không có bộ dữ liệu {code}.",
                       message_en=f"No data set {code}.")  # fmt: skip
    return ds


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/api/v1/aggregate/quality")
def aggregate_quality(
    services: ServicesDep,
    principal: Quality,
    dataSet: Annotated[str, Query(max_length=64)],
    period: Annotated[str, Query(description="2025 | 2025Q1 | 202501", max_length=16)],
    holidays: Annotated[bool, Query(description="skip public holidays in the due date")] = False,
) -> QualityOut:
    """Completeness, timeliness, silent reporters, rule violations and seasonal outliers of a
    data set for one period, over the org units of the caller's scope."""
    ds = _dataset(dataSet)
    p = _period(period)
    if p.kind != ds.period_type:
        raise ApiError(422, message_vi="Kỳ báo cáo khác kỳ của bộ dữ liệu.",
                       message_en="The period type differs from the data set's.")  # fmt: skip
    with session_scope(services.sessions) as s:
        province = quality_report.registry_province(s)
        return quality_report.build(s, load(), ds.code, p, province, principal.scope, holidays)


def _key(s: Session, principal: Principal, body: ApprovalIn) -> tuple[str, str, str]:
    ds = _dataset(body.dataSet)
    p = _period(body.period)
    unit = store.known_orgunits(s).get(body.orgUnit)
    if unit is None or unit[0] != ds.orgunit_level:
        raise ApiError(404, message_vi=f"Không có đơn vị {body.orgUnit} của bộ dữ liệu này.",
                       message_en=f"No org unit {body.orgUnit} for this data set.")  # fmt: skip
    if not store.allowed(principal.scope, body.orgUnit, unit):
        deny_out_of_scope(principal, f"orgunit:{body.orgUnit}")
    return ds.code, p.iso, body.orgUnit


@router.post("/api/v1/aggregate/approvals")
def approve(
    request: Request, body: ApprovalIn, services: ServicesDep, principal: Approve
) -> ReportStatusOut:
    """Approve a report at the caller's level (province scope: province; otherwise commune);
    the report is then locked."""
    level = "province" if principal.scope.province else "commune"
    with session_scope(services.sessions) as s:
        key = _key(s, principal, body)
        try:
            st = approval.approve(s, load(), key, level, principal.name, _ip(request),
                                  services.clock())  # fmt: skip
        except approval.ApprovalError as e:
            raise ApiError(e.status, message_vi=e.message_vi, message_en=e.message_en) from None
        return quality_report.report_status(key, st.level)


@router.post("/api/v1/aggregate/approvals/unlock")
def unlock(
    request: Request, body: UnlockIn, services: ServicesDep, principal: Unlock
) -> ReportStatusOut:
    """Unlock an approved report (every level is cleared); audited with the reason."""
    with session_scope(services.sessions) as s:
        key = _key(s, principal, body)
        try:
            approval.unlock(s, key, principal.name, _ip(request), body.reason)
        except approval.ApprovalError as e:
            raise ApiError(e.status, message_vi=e.message_vi, message_en=e.message_en) from None
        return quality_report.report_status(key, None)
