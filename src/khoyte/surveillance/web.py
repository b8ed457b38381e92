"""Alerts, inbox, report requests and the leaders' phone view: pages and their JSON API.

``install(app, services)`` (one line in ``khoyte.web.app``) includes the routes and adds the
alert cycle to the services' workers. Every alert route reads through :mod:`alerts`' scoped
queries; an alert outside the caller's scope answers 404 and the attempt is audited.
The phone view (``/m``) is an installable web app: its manifest and service worker are our own
static files (``web/static/phone.js``, ``sw.js``); the worker keeps the last answers of the
alert and dashboard twins, so a leader without network still sees the last data.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from khoyte.access import Permission, Principal, deny_out_of_scope, requires
from khoyte.errors import ERROR_RESPONSES, ApiError, KhoyteError
from khoyte.layout import STATIC, TEMPLATES
from khoyte.security import audit
from khoyte.security.scoping import UNSCOPED
from khoyte.services import Services
from khoyte.store.db import session_scope
from khoyte.surveillance import alerts, delivery, requests
from khoyte.surveillance.runner import AlertWorker
from khoyte.surveillance.tables import AlertRow, OutboxRow, ReportRequest

router = APIRouter(responses=ERROR_RESPONSES)
Alerts = Annotated[Principal, Depends(requires(Permission.ALERTS))]
Asker = Annotated[Principal, Depends(requires(Permission.REQUEST_REPORTS))]
Answerer = Annotated[Principal, Depends(requires(Permission.ANSWER_REPORTS))]
Signed = Annotated[Principal, Depends(requires(Permission.AUTHENTICATED))]
Public = Annotated[Principal, Depends(requires(Permission.PUBLIC))]
ItAdmin = Annotated[Principal, Depends(requires(Permission.ADMIN_FACILITIES))]
ANSWER_PATH = "/api/v1/report-answers"  # one fixed path: the body limit allows files there


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


# --- JSON shapes -----------------------------------------------------------------------------


class AlertOut(BaseModel):
    id: int
    key: str
    kind: str = Field(description="alarm | threshold | silent | quality")
    rule: str
    severity: str = Field(description="high | medium | low")
    title_vi: str
    title_en: str
    place_kind: str
    place: str
    commune: str | None
    facility: str | None
    period_start: date | None
    details: dict[str, Any]
    status: str = Field(description="open | acknowledged | closed")
    level: int = Field(description="1: local leaders; 2: escalated to the province")
    opened_at: str
    escalated_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None
    closed_at: str | None
    closed_by: str | None


class EventOut(BaseModel):
    at: str
    actor: str
    action: str
    note: str


class AlertDetail(AlertOut):
    events: list[EventOut]


class AlertList(BaseModel):
    alerts: list[AlertOut]
    open: int = Field(description="open alerts in the caller's scope")


class NoteIn(BaseModel):
    note: str = Field("", max_length=2000)


class InboxOut(BaseModel):
    id: int
    alert_id: int | None
    request_id: int | None
    title_vi: str
    title_en: str
    created_at: str


class OutboxOut(BaseModel):
    id: int
    channel: str
    target: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: str | None


class RequestIn(BaseModel):
    title: str = Field(min_length=3, max_length=300)
    body: str = Field("", max_length=5000)
    unit_kind: str = Field(pattern="^(facility|commune)$")
    unit: str = Field(min_length=1, max_length=32, pattern="^[A-Za-z0-9]+$")
    due: date


class RequestOut(BaseModel):
    id: int
    title: str
    body: str
    requested_by: str
    unit_kind: str
    unit: str
    due: date
    status: str = Field(description="open | answered")
    late: bool = Field(description="open after its due date, or answered after it")
    created_at: str
    answered_at: str | None
    answered_by: str | None
    answer_note: str | None
    answer_data: Any
    file_name: str | None
    file_sha256: str | None
    file_size: int | None


def _out(a: AlertRow) -> AlertOut:
    return AlertOut(**alerts.as_dict(a))


def _domain(exc: KhoyteError, status: int) -> ApiError:
    return ApiError(status, exc.code, exc.message_vi, exc.message_en, exc.details)


# --- alerts ----------------------------------------------------------------------------------


@router.get("/api/v1/alerts", response_model=AlertList, tags=["alerts"])
def list_alerts(
    request: Request,
    principal: Alerts,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged|closed)$")] = None,
) -> AlertList:
    """Cảnh báo trong phạm vi / the alerts in the caller's scope, newest first."""
    with session_scope(_services(request).sessions) as s:
        rows = alerts.list_for(s, principal, status)
        return AlertList(alerts=[_out(a) for a in rows], open=alerts.count_open(s, principal))


def _alert_or_404(request: Request, s: Session, principal: Principal, alert_id: int) -> AlertRow:
    found = alerts.get_for(s, principal, alert_id)
    if found is None:
        exists = select(AlertRow.id).where(AlertRow.id == alert_id)
        if s.scalar(exists.execution_options(**{UNSCOPED: True})) is not None:
            deny_out_of_scope(principal, f"alert:{alert_id}", request)
        raise ApiError(404, details={"alert": alert_id})
    return found


@router.get("/api/v1/alerts/{alert_id}", response_model=AlertDetail, tags=["alerts"])
def get_alert(request: Request, alert_id: int, principal: Alerts) -> AlertDetail:
    """Một cảnh báo và diễn biến / one alert and its story."""
    with session_scope(_services(request).sessions) as s:
        a = _alert_or_404(request, s, principal, alert_id)
        events = [
            EventOut(at=alerts._iso(e.at) or "", actor=e.actor, action=e.action, note=e.note)
            for e in alerts.events_of(s, alert_id)
        ]
        return AlertDetail(**alerts.as_dict(a), events=events)


def _step(request: Request, principal: Principal, alert_id: int, note: str, step: str) -> AlertOut:
    svc = _services(request)
    try:
        with session_scope(svc.sessions) as s:
            a = _alert_or_404(request, s, principal, alert_id)
            fn = alerts.acknowledge if step == "acknowledge" else alerts.close
            if step == "close" and not note.strip():
                raise ApiError(422, "note_required", "Hãy ghi chú lý do đóng cảnh báo.",
                               "Write a note saying why the alert is closed.")  # fmt: skip
            fn(s, svc.settings, a, principal, note, svc.clock(), _ip(request))
            return _out(a)
    except alerts.AlertStateError as exc:
        raise _domain(exc, 409) from exc


@router.post("/api/v1/alerts/{alert_id}/acknowledge", response_model=AlertOut, tags=["alerts"])
def acknowledge_alert(request: Request, alert_id: int, body: NoteIn, principal: Alerts) -> AlertOut:
    """Xác nhận đã nhận cảnh báo / acknowledge (stops the escalation)."""
    return _step(request, principal, alert_id, body.note, "acknowledge")


@router.post("/api/v1/alerts/{alert_id}/close", response_model=AlertOut, tags=["alerts"])
def close_alert(request: Request, alert_id: int, body: NoteIn, principal: Alerts) -> AlertOut:
    """Đóng cảnh báo, kèm ghi chú / close the alert, with a note (required)."""
    return _step(request, principal, alert_id, body.note, "close")


@router.get("/api/v1/inbox", response_model=list[InboxOut], tags=["alerts"])
def inbox(request: Request, principal: Signed) -> list[InboxOut]:
    """Hộp thư của tôi / my inbox: alerts, escalations, report requests and reminders."""
    with session_scope(_services(request).sessions) as s:
        return [
            InboxOut(
                id=i.id,
                alert_id=i.alert_id,
                request_id=i.request_id,
                title_vi=i.title_vi,
                title_en=i.title_en,
                created_at=alerts._iso(i.created_at) or "",
            )
            for i in alerts.inbox_of(s, principal.name)
        ]


@router.get("/api/v1/admin/dead-letters", response_model=list[OutboxOut], tags=["admin"])
def dead_letters(request: Request, _: ItAdmin) -> list[OutboxOut]:
    """Thư và webhook gửi thất bại / e-mails and webhooks that failed every attempt."""
    with session_scope(_services(request).sessions) as s:
        return [OutboxOut(**delivery.outbox_dict(r)) for r in delivery.dead_letters(s)]


@router.post(
    "/api/v1/admin/dead-letters/{outbox_id}/retry", response_model=OutboxOut, tags=["admin"]
)
def retry_dead_letter(request: Request, outbox_id: int, principal: ItAdmin) -> OutboxOut:
    """Gửi lại / queue a dead letter again."""
    svc = _services(request)
    with session_scope(svc.sessions) as s:
        row = s.get(OutboxRow, outbox_id)
        if row is None:
            raise ApiError(404, details={"outbox": outbox_id})
        if not delivery.retry(s, outbox_id, svc.clock()):
            raise ApiError(409, "not_dead", "Thư này không nằm trong danh sách thất bại.",
                           "This message is not a dead letter.", {"outbox": outbox_id})  # fmt: skip

        audit.record(s, principal, "delivery.retry", f"outbox:{outbox_id}", "success", _ip(request))
        return OutboxOut(**delivery.outbox_dict(row))


# --- report requests -------------------------------------------------------------------------


@router.get("/api/v1/report-requests", response_model=list[RequestOut], tags=["reports"])
def list_requests(
    request: Request,
    principal: Signed,
    status: Annotated[str | None, Query(pattern="^(open|answered)$")] = None,
    late: bool | None = None,
) -> list[RequestOut]:
    """Yêu cầu báo cáo trong phạm vi / report requests of the caller's units (``late=true``:
    who is late)."""
    svc = _services(request)
    now = svc.clock()
    with session_scope(svc.sessions) as s:
        out = [
            RequestOut(**requests.as_dict(r, now))
            for r in requests.visible_to(s, principal, status=status)
        ]
    return [r for r in out if late is None or r.late is late]


@router.post(
    "/api/v1/report-requests", response_model=RequestOut, status_code=201, tags=["reports"]
)
def create_request(request: Request, body: RequestIn, principal: Asker) -> RequestOut:
    """Gửi yêu cầu báo cáo tới một đơn vị / ask a unit for a report by a date."""
    svc = _services(request)
    now = svc.clock()
    try:
        with session_scope(svc.sessions) as s:
            req = requests.create(s, principal, title=body.title, body=body.body,
                                  unit_kind=body.unit_kind, unit=body.unit, due=body.due,
                                  now=now, ip=_ip(request))  # fmt: skip
            return RequestOut(**requests.as_dict(req, now))
    except KhoyteError as exc:
        raise _domain(exc, 404 if exc.code == "request_out_of_scope" else 422) from exc


@router.post(ANSWER_PATH, response_model=RequestOut, tags=["reports"])
async def answer_request(
    request: Request,
    principal: Answerer,
    request_id: Annotated[int, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
    data: Annotated[str | None, Form(max_length=60000)] = None,
    file: UploadFile | None = None,
) -> RequestOut:
    """Đơn vị trả lời bằng tệp (multipart) hoặc dữ liệu JSON / the unit answers with a file or a
    data set."""
    svc = _services(request)
    limit = svc.settings.report_max_bytes
    content = await file.read(limit + 1) if file is not None else None
    if content is not None and len(content) > limit:
        raise ApiError(413, details={"limit": limit})
    try:
        parsed = json.loads(data) if data else None
    except ValueError as exc:
        raise ApiError(422, "invalid_json", "Dữ liệu không phải JSON hợp lệ.",
                       "The data set is not valid JSON.") from exc  # fmt: skip

    def work() -> RequestOut:
        now = svc.clock()
        try:
            with session_scope(svc.sessions) as s:
                req = requests.get_for(s, principal, request_id)
                if req is None:
                    raise ApiError(404, details={"request": request_id})
                requests.answer(s, req, principal, note=note, now=now,
                                store=svc.settings.data_dir / "reports",
                                file_name=file.filename if file else None, content=content,
                                data=parsed, ip=_ip(request))  # fmt: skip
                return RequestOut(**requests.as_dict(req, now))
        except KhoyteError as exc:
            raise _domain(exc, 409 if exc.code == "request_answered" else 422) from exc

    return await run_in_threadpool(work)


@router.get("/api/v1/report-requests/{request_id}/file", tags=["reports"])
def request_file(request: Request, request_id: int, principal: Asker) -> FileResponse:
    """Tệp đơn vị đã gửi / the file a unit sent (for the leaders who ask)."""
    svc = _services(request)
    with session_scope(svc.sessions) as s:
        req = requests.get_for(s, principal, request_id)
        if req is None:
            exists = select(ReportRequest.id).where(ReportRequest.id == request_id)
            if s.scalar(exists.execution_options(**{UNSCOPED: True})) is not None:
                deny_out_of_scope(principal, f"report_request:{request_id}", request)
        if req is None or not req.file_sha256:
            raise ApiError(404, details={"request": request_id})
        name, sha = req.file_name or "report", req.file_sha256
    return FileResponse(svc.settings.data_dir / "reports" / sha, filename=name)


# --- pages -----------------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(
    request: Request,
    principal: Alerts,
    status: Annotated[str | None, Query(pattern="^(open|acknowledged|closed)$")] = "open",
) -> Response:
    with session_scope(_services(request).sessions) as s:
        rows = [alerts.as_dict(a) for a in alerts.list_for(s, principal, status or None)]
        box = alerts.inbox_of(s, principal.name, 20)
    return TEMPLATES.TemplateResponse(
        request, "surveillance/alerts.html", {"alerts": rows, "inbox": box, "status": status}
    )


@router.post("/alerts/{alert_id}/{step}", include_in_schema=False)
def alert_form(
    request: Request,
    alert_id: int,
    step: str,
    principal: Alerts,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> RedirectResponse:
    if step not in ("acknowledge", "close"):
        raise ApiError(404)
    _step(request, principal, alert_id, note, step)
    return RedirectResponse("/alerts", status_code=303)


@router.get("/m/", response_class=HTMLResponse, include_in_schema=False)
def phone_page(request: Request, _: Alerts) -> Response:
    return TEMPLATES.TemplateResponse(request, "surveillance/phone.html", {})


MANIFEST = {
    "name": "khoyte — Cảnh báo / Alerts",
    "short_name": "khoyte",
    "lang": "vi",
    "start_url": "/m/",
    "scope": "/m/",
    "display": "standalone",
    "background_color": "#ffffff",
    "theme_color": "#0b4f8a",
    "icons": [{"src": "/static/favicon.svg", "sizes": "any", "type": "image/svg+xml"}],
}


@router.get("/m/manifest.webmanifest", include_in_schema=False)
def manifest(_: Public) -> Response:
    return Response(
        json.dumps(MANIFEST, ensure_ascii=False), media_type="application/manifest+json"
    )


@router.get("/m/sw.js", include_in_schema=False)
def service_worker(_: Public) -> Response:
    # served under /m so that its scope covers the phone view (a worker controls its own path)
    return FileResponse(STATIC / "sw.js", media_type="text/javascript",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip


def install(app: FastAPI, services: Services) -> None:
    from khoyte.surveillance import delivery_web, epidemic, requests_web

    app.include_router(router)
    app.include_router(epidemic.router)
    app.include_router(requests_web.router)
    app.include_router(delivery_web.router)
    services.workers.append(AlertWorker(services, services.settings.alerts_interval_seconds))
