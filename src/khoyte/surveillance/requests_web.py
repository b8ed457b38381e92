"""The report requests page (``/requests``, seed 000 §3.3.4.9): a leader asks a facility or a
commune's health centre for a report by a due date and sees who is late; the unit's people see
the requests sent to their units and answer with a file or a data set.

The page reads and writes through :mod:`requests` (the same scoped queries, audit and inbox
as ``/api/v1/report-requests``). Creating is a plain form (``POST /requests``). Answering posts
the multipart form to the API's one answer path (:data:`web.ANSWER_PATH`, where the body
limit admits files) from ``static/requests.js`` with the page's CSRF token in the
``X-CSRF-Token`` header (the CSRF guard reads form fields of urlencoded bodies only).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte import i18n
from khoyte.access import Permission, Principal, requires, scope_filter
from khoyte.errors import ERROR_RESPONSES, KhoyteError
from khoyte.layout import TEMPLATES, lang_query
from khoyte.registry.models import Facility, Place
from khoyte.services import Services
from khoyte.store.db import session_scope
from khoyte.surveillance import requests
from khoyte.surveillance.web import ANSWER_PATH

router = APIRouter(responses=ERROR_RESPONSES)
Signed = Annotated[Principal, Depends(requires(Permission.AUTHENTICATED))]
Asker = Annotated[Principal, Depends(requires(Permission.REQUEST_REPORTS))]


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def units(session: Session, who: Principal) -> dict[str, list[dict[str, str]]]:
    """The facilities and communes the caller may ask (their scope), with names."""
    facs = session.scalars(
        select(Facility)
        .where(Facility.active.is_(True), scope_filter(who.scope, Facility.code, Facility.commune))
        .order_by(Facility.code)
    ).all()
    names = dict(
        session.execute(select(Place.code, Place.name).where(Place.level == "commune")).all()
    )
    if who.scope.province:
        codes = set(names) | {f.commune for f in facs if f.commune}
    else:
        codes = set(who.scope.communes) | {f.commune for f in facs if f.commune}
    return {
        "facility": [{"code": f.code, "name": f.name} for f in facs],
        "commune": [{"code": c, "name": names.get(c, c)} for c in sorted(codes)],
    }


def _render(
    request: Request, principal: Principal, show: str, *, error: str | None = None,
    form: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    svc = _services(request)
    now = svc.clock()
    lang = i18n.lang_of(request.query_params.get("lang"))
    with session_scope(svc.sessions) as s:
        rows = [requests.as_dict(r, now) for r in requests.visible_to(s, principal)]
        choices = units(s, principal) if Permission.REQUEST_REPORTS in principal.permissions else {}
    names = {(k, u["code"]): u["name"] for k, us in choices.items() for u in us}
    for r in rows:
        r["unit_name"] = names.get((r["unit_kind"], r["unit"]), "")
    counts = {
        "all": len(rows),
        "late": sum(r["late"] and r["status"] == "open" for r in rows),
        "open": sum(r["status"] == "open" for r in rows),
        "answered": sum(r["status"] == "answered" for r in rows),
    }
    shown = [
        r for r in rows
        if show == "all" or (show == "late" and r["late"] and r["status"] == "open")
        or r["status"] == show
    ]  # fmt: skip
    return TEMPLATES.TemplateResponse(
        request,
        "surveillance/requests.html",
        {
            "rows": shown,
            "counts": counts,
            "show": show,
            "units": choices,
            "error": error,
            "form": form or {},
            "today": requests._today(now).isoformat(),
            "can_ask": Permission.REQUEST_REPORTS in principal.permissions,
            "can_answer": Permission.ANSWER_REPORTS in principal.permissions,
            "answer_path": ANSWER_PATH,
            "lang": lang,
            "answered": request.query_params.get("answered", ""),
        },
        status_code=status,
    )


@router.get("/requests", response_class=HTMLResponse, include_in_schema=False)
def requests_page(
    request: Request,
    principal: Signed,
    show: Annotated[str, Query(pattern="^(all|late|open|answered)$")] = "all",
) -> Response:
    return _render(request, principal, show)


@router.post("/requests", include_in_schema=False)
def create_form(
    request: Request,
    principal: Asker,
    title: Annotated[str, Form(max_length=300)] = "",
    body: Annotated[str, Form(max_length=5000)] = "",
    unit: Annotated[str, Form(max_length=50)] = "",
    due: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    svc = _services(request)
    form = {"title": title, "body": body, "unit": unit, "due": due}
    kind, _, code = unit.partition(":")
    error: tuple[str, str] | None = None
    try:
        due_day = date.fromisoformat(due)
    except ValueError:
        due_day, error = None, ("Hãy chọn hạn nộp.", "Choose a due date.")
    if len(title.strip()) < 3:
        error = ("Tiêu đề cần ít nhất 3 ký tự.", "The title needs at least 3 characters.")
    elif kind not in ("facility", "commune") or not code.isalnum():
        error = ("Hãy chọn đơn vị nhận yêu cầu.", "Choose the unit to ask.")
    if error is None and due_day is not None:
        try:
            with session_scope(svc.sessions) as s:
                requests.create(s, principal, title=title.strip(), body=body.strip(),
                                unit_kind=kind, unit=code, due=due_day, now=svc.clock(),
                                ip=request.client.host if request.client else "")  # fmt: skip
        except KhoyteError as exc:
            error = (exc.message_vi, exc.message_en)
    if error is not None:
        msg = i18n.pair(error, i18n.lang_of(request.query_params.get("lang")))
        return _render(request, principal, "all", error=msg, form=form, status=422)
    return RedirectResponse(f"/requests{lang_query(request)}", status_code=303)
