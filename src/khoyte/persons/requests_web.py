"""The register of data subjects' requests over HTTP (``subject_requests``; Decree 13/2023):

- ``GET /api/v1/subject-requests`` (``?status=open|done|partly|refused``, ``?overdue=true``);
- ``POST /api/v1/subject-requests`` records one (kind, who asked, health ID, what they asked,
  when it was received: the due time follows);
- ``POST /api/v1/subject-requests/{subject_request_id}/answer`` its answer (outcome and text).

Recording, answering and reading the register are audited in the same transaction
(``person.request``, ``person.request.answer``, ``person.request.list``): the register names
who asked, so reading it is itself a view of personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from khoyte.access import Permission, Principal, requires
from khoyte.deps import ServicesDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.persons import requests as reg
from khoyte.security import audit
from khoyte.store.db import session_scope

Officer = Annotated[Principal, Depends(requires(Permission.SUBJECT_REQUESTS))]
router = APIRouter(responses=ERROR_RESPONSES, tags=["persons"])


class RequestIn(BaseModel):
    kind: Literal["access", "correction", "deletion", "restriction", "objection"]
    requester: str = Field(min_length=1, max_length=500,
                           description="Người yêu cầu (họ tên, quan hệ, liên hệ) / who asked")  # fmt: skip
    health_id: str | None = Field(None, max_length=16, pattern=r"^[0-9A-Z]{1,16}$")
    detail: str | None = Field(None, max_length=4000, description="Nội dung / what they ask")
    received_at: datetime | None = Field(None, description="Ngày nhận / received (default: now)")


class AnswerIn(BaseModel):
    outcome: Literal["done", "partly", "refused"]
    answer: str = Field(min_length=1, max_length=4000)


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("/api/v1/subject-requests")
def list_requests(
    request: Request, services: ServicesDep, principal: Officer,
    status: Annotated[Literal["open", "done", "partly", "refused"] | None, Query()] = None,
    overdue: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Sổ yêu cầu của chủ thể dữ liệu / the register of data subjects' requests (audited)."""
    with session_scope(services.sessions) as s:
        items = reg.listing(s, status, overdue, clock=services.clock)
        audit.record(s, principal, "person.request.list", "subject-requests", "success",
                     _ip(request), details={"rows": len(items), "overdue": overdue})  # fmt: skip
    return {"items": items, "due_hours": int(reg.DUE.total_seconds() // 3600)}


@router.post("/api/v1/subject-requests", status_code=201)
def add_request(
    request: Request, body: RequestIn, services: ServicesDep, principal: Officer
) -> dict[str, Any]:
    """Ghi một yêu cầu / record a request (audited; due 72 hours after it was received)."""
    with session_scope(services.sessions) as s:
        try:
            row = reg.record_request(s, principal.name, body.kind, body.requester,
                                     body.health_id, body.detail, body.received_at,
                                     clock=services.clock)  # fmt: skip
        except reg.RequestError as e:
            raise ApiError(422, message_vi=str(e), message_en=str(e)) from None
        audit.record(s, principal, "person.request", f"request:{row.id}", "success", _ip(request),
                     details={"kind": row.kind, "health_id": row.health_id})  # fmt: skip
        return reg.as_dict(row, services.clock())


@router.post("/api/v1/subject-requests/{subject_request_id}/answer")
def answer(
    request: Request, body: AnswerIn, services: ServicesDep, principal: Officer,
    subject_request_id: Annotated[int, Path(ge=1)],
) -> dict[str, Any]:  # fmt: skip
    """Trả lời một yêu cầu / record the answer to a request (audited)."""
    with session_scope(services.sessions) as s:
        try:
            row = reg.answer_request(s, subject_request_id, principal.name, body.outcome, body.answer,
                                     clock=services.clock)  # fmt: skip
        except LookupError:
            raise ApiError(404, details={"request": subject_request_id}) from None
        except reg.RequestError as e:
            raise ApiError(409, message_vi=str(e), message_en=str(e)) from None
        audit.record(s, principal, "person.request.answer", f"request:{row.id}", "success",
                     _ip(request), details={"outcome": row.status, "kind": row.kind})  # fmt: skip
        return reg.as_dict(row, services.clock())
