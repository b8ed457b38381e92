"""Approval of aggregate reports (issue 13, item 5): commune → province.

A report (data set × period × org unit) of a commune-level data set is approved first by the
commune, then by the province; reports of province- and facility-level data sets by the province
only. Any approval locks the report: imports and DHIS2 POSTs that touch it are refused with a
receipt (problem ``locked``). Unlocking is its own permission (``UNLOCK_AGGREGATE``), clears every
level and is audited with its reason, like each approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.aggregate.metadata import Metadata
from khoyte.aggregate.models import AggReport
from khoyte.security import audit

LEVELS = ("commune", "province")


class ApprovalError(Exception):
    def __init__(self, status: int, vi: str, en: str) -> None:
        super().__init__(en)
        self.status, self.message_vi, self.message_en = status, vi, en


def levels_for(md: Metadata, dataset: str) -> tuple[str, ...]:
    return LEVELS if md.datasets[dataset].orgunit_level == "commune" else ("province",)


@dataclass(frozen=True)
class State:
    dataset: str
    period: str
    orgunit: str
    received: bool
    level: str | None
    approved_by: str | None
    approved_at: datetime | None

    @property
    def locked(self) -> bool:
        return self.level is not None


def _state(r: AggReport) -> State:
    return State(r.dataset, r.period, r.orgunit, r.first_received_at is not None, r.level,
                 r.approved_by, r.approved_at)  # fmt: skip


def approve(
    session: Session,
    md: Metadata,
    key: tuple[str, str, str],
    level: str,
    who: str,
    ip: str,
    now: datetime,
) -> State:
    """Approve report ``key`` (data set, period, org unit) at ``level``; the caller checked the
    permission and that ``level`` is the caller's (province scope for ``province``)."""
    dataset, period, orgunit = key
    levels = levels_for(md, dataset)
    if level not in levels:
        raise ApprovalError(409, f"Bộ dữ liệu {dataset} không duyệt ở cấp {level}.",
                            f"Data set {dataset} is not approved at level {level}.")  # fmt: skip
    r = session.get(AggReport, key)
    if r is None or r.first_received_at is None:
        raise ApprovalError(409, "Chưa nhận báo cáo này: không có gì để duyệt.",
                            "This report has not been received: nothing to approve.")  # fmt: skip
    done = levels.index(r.level) if r.level is not None else -1
    want = levels.index(level)
    if want <= done:
        raise ApprovalError(409, f"Báo cáo đã được duyệt ở cấp {r.level}.",
                            f"The report is already approved at level {r.level}.")  # fmt: skip
    if want != done + 1:
        raise ApprovalError(409, f"Cần cấp {levels[done + 1]} duyệt trước.",
                            f"Level {levels[done + 1]} must approve first.")  # fmt: skip
    r.level, r.approved_by, r.approved_at = level, who, now
    audit.record(session, who, "aggregate.approve", f"report:{dataset}/{period}/{orgunit}",
                 "success", ip, details={"level": level})  # fmt: skip
    return _state(r)


def unlock(session: Session, key: tuple[str, str, str], who: str, ip: str, reason: str) -> State:
    r = session.get(AggReport, key)
    if r is None or r.level is None:
        raise ApprovalError(409, "Báo cáo chưa được duyệt, không bị khóa.",
                            "The report is not approved, so not locked.")  # fmt: skip
    was = r.level
    r.level = r.approved_by = r.approved_at = None
    audit.record(session, who, "aggregate.unlock", f"report:{'/'.join(key)}", "success", ip,
                 reason=reason, details={"level": was})  # fmt: skip
    return _state(r)


def states(
    session: Session, dataset: str | None = None, period_list: list[str] | None = None
) -> dict[tuple[str, str, str], State]:
    q = select(AggReport)
    if dataset is not None:
        q = q.where(AggReport.dataset == dataset)
    if period_list is not None:
        q = q.where(AggReport.period.in_(period_list))
    return {(r.dataset, r.period, r.orgunit): _state(r) for r in session.scalars(q)}
