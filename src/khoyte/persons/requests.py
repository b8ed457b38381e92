"""The register of data subjects' requests (Decree 13/2023/NĐ-CP, art. 9 and 14–16).

A person (or their representative) asks the Department of Health to see or receive their data
(``access``), correct it (``correction``), delete it (``deletion``), restrict its processing
(``restriction``) or objects to it (``objection``). Each request is recorded with who asked,
for which health ID, when it was received and when it is due (72 hours by default: the decree's
time for restriction and objection, art. 9.6–9.8, and for providing, correcting and deleting,
art. 14–16, unless a law says otherwise); then its answer, who answered and when. The overdue
list is what is still open past its due time. Who asked and what they asked are personal data:
stored encrypted like every identifier (``khoyte.store.crypto``). Every recording and answer is
audited by the caller (``person.request``, ``person.request.answer``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.persons.models import SubjectRequest
from khoyte.persons.record import resolve

KINDS: dict[str, tuple[str, str]] = {
    "access": ("Truy cập, cung cấp dữ liệu", "access, a copy of the data"),
    "correction": ("Chỉnh sửa dữ liệu", "correction"),
    "deletion": ("Xóa dữ liệu", "deletion"),
    "restriction": ("Hạn chế xử lý", "restriction of processing"),
    "objection": ("Phản đối xử lý", "objection to processing"),
}
OUTCOMES: dict[str, tuple[str, str]] = {
    "done": ("Đã thực hiện", "done"),
    "partly": ("Thực hiện một phần", "partly done"),
    "refused": ("Từ chối (nêu căn cứ)", "refused (grounds given)"),
}
DUE = timedelta(hours=72)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # SQLite gives naive UTC


class RequestError(ValueError):
    """A request or an answer that cannot be recorded (the message says why, vi / en)."""


def record_request(
    s: Session, actor: str, kind: str, requester: str, health_id: str | None = None,
    detail: str | None = None, received_at: datetime | None = None,
    clock: Callable[[], datetime] = _now,
) -> SubjectRequest:  # fmt: skip
    if kind not in KINDS:
        raise RequestError(f"loại yêu cầu / kind must be one of {', '.join(KINDS)}")
    if not requester.strip():
        raise RequestError("cần ghi người yêu cầu / who asked is required")
    if health_id is not None and resolve(s, health_id) is None:
        raise RequestError(f"không có mã định danh y tế / no health ID {health_id}")
    received = _aware(received_at or clock())
    row = SubjectRequest(
        kind=kind, health_id=health_id, requester=requester.strip(), detail=detail,
        received_at=received, due_at=received + DUE, recorded_by=actor, status="open",
    )  # fmt: skip
    s.add(row)
    s.flush()
    return row


def answer_request(
    s: Session, request_id: int, actor: str, outcome: str, answer: str,
    clock: Callable[[], datetime] = _now,
) -> SubjectRequest:  # fmt: skip
    row = s.get(SubjectRequest, request_id)
    if row is None:
        raise LookupError(f"no request {request_id}")
    if row.status != "open":
        raise RequestError(f"yêu cầu {request_id} đã được trả lời / already answered")
    if outcome not in OUTCOMES:
        raise RequestError(f"kết quả / outcome must be one of {', '.join(OUTCOMES)}")
    if not answer.strip():
        raise RequestError("cần nội dung trả lời / the answer is required")
    row.status, row.answer, row.answered_by, row.answered_at = outcome, answer, actor, clock()
    return row


def as_dict(r: SubjectRequest, now: datetime) -> dict[str, Any]:
    due = _aware(r.due_at)
    answered = _aware(r.answered_at) if r.answered_at else None
    return {
        "id": r.id, "kind": r.kind, "kind_vi": KINDS[r.kind][0], "kind_en": KINDS[r.kind][1],
        "health_id": r.health_id, "requester": r.requester, "detail": r.detail,
        "received_at": _aware(r.received_at).isoformat(), "due_at": due.isoformat(),
        "recorded_by": r.recorded_by, "status": r.status, "answer": r.answer,
        "answered_by": r.answered_by, "answered_at": answered.isoformat() if answered else None,
        "overdue": (answered or now) > due,
    }  # fmt: skip


def listing(
    s: Session, status: str | None = None, overdue: bool = False,
    clock: Callable[[], datetime] = _now,
) -> list[dict[str, Any]]:  # fmt: skip
    """The register, oldest due first; ``overdue``: still open past the due time."""
    now = clock()
    q = select(SubjectRequest).order_by(SubjectRequest.due_at, SubjectRequest.id)
    if overdue:
        q = q.where(SubjectRequest.status == "open", SubjectRequest.due_at < now)
    elif status is not None:
        q = q.where(SubjectRequest.status == status)
    return [as_dict(r, now) for r in s.scalars(q)]
