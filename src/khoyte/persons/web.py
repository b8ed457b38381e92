"""The master person index on the web (``router``, included by the app factory).

- ``/persons/review`` and ``GET /api/v1/persons/review`` (``link_persons``): the uncertain
  pairs side by side with the reasons (match weight per field); a decision (same person /
  different people) is a form post, also taken from the keyboard (S / D, J / K to move).
- ``GET /api/v1/persons/{health_id}`` and ``/persons/{health_id}`` (``view_records``): a
  person's health record; ``GET /api/v1/persons/{health_id}/fhir`` the same as a FHIR R4
  Bundle, ``…/pdf`` as a readable PDF (Vietnamese, embedded font). A facility's staff see the persons their facility has treated; anyone else holding
  ``view_records`` only by break-glass (``?ly_do=`` a reason of at least 10 characters), which
  the audit trail records as such for review. Every view is audited; a person outside one's
  reach answers 404 (audited), like an unknown one.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.access import Permission, Principal, audit_event, deny_out_of_scope, requires
from khoyte.deps import ServicesDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.layout import TEMPLATES
from khoyte.persons import fhir
from khoyte.persons import model as mdl
from khoyte.persons.index import PersonIndex, load_model
from khoyte.persons.models import PersonRecord, ReviewItem
from khoyte.persons.record import facilities_of, health_record, resolve
from khoyte.registry.models import Facility
from khoyte.store.db import session_scope

Linker = Annotated[Principal, Depends(requires(Permission.LINK_PERSONS))]
Reader = Annotated[Principal, Depends(requires(Permission.VIEW_RECORDS))]
HealthId = Annotated[str, Path(max_length=16, pattern=r"^[0-9A-Z]{1,16}$")]
Reason = Annotated[str | None, Query(alias="ly_do", max_length=500,
                                     description="Lý do truy cập khẩn cấp / break-glass reason")]  # fmt: skip
MIN_REASON = 10
SHOWN = ("ho_ten", "dob", "sex", "cccd", "card", "commune", "phone")
router = APIRouter(responses=ERROR_RESPONSES)


def _side(s: Session, key: str) -> dict[str, Any]:
    facility, _, ma_lk = key.partition("|")
    r = s.get(PersonRecord, (facility, ma_lk))
    if r is None:
        return {"key": key}
    return {"key": key, "facility": facility, "ma_lk": ma_lk, "health_id": r.health_id,
            **{f: getattr(r, f) for f in SHOWN}}  # fmt: skip


def review_items(s: Session, limit: int = 100) -> list[dict[str, Any]]:
    model = load_model(s)
    items = s.scalars(select(ReviewItem).where(ReviewItem.status == "open")
                      .order_by(ReviewItem.match_weight.desc()).limit(limit))  # fmt: skip
    out = []
    for it in items:
        weights = json.loads(it.weights or "{}")
        out.append({
            "id": it.id, "reason": it.reason, "match_weight": round(it.match_weight, 2),
            "left": _side(s, it.left_key), "right": _side(s, it.right_key),
            "fields": mdl.explain(model, weights),
        })  # fmt: skip
    return out


@router.get("/api/v1/persons/review", tags=["persons"])
def review_api(services: ServicesDep, _: Linker) -> dict[str, Any]:
    """Các cặp cần xem xét / the uncertain pairs waiting for a decision."""
    with session_scope(services.sessions) as s:
        return {"items": review_items(s), "auto_weight": mdl.AUTO_WEIGHT,
                "review_weight": mdl.REVIEW_WEIGHT}  # fmt: skip


def _render(request: Request, name: str, **ctx: Any) -> HTMLResponse:
    from khoyte.security.middleware import CSRF_COOKIE, csrf_base, csrf_token
    from khoyte.security.web import state

    st = state(request)
    base = csrf_base(dict(request.cookies))
    fresh = base is None
    base = base or secrets.token_urlsafe(32)
    resp = TEMPLATES.TemplateResponse(request, f"persons/{name}",
                                      {"csrf": csrf_token(st.secret, base), **ctx})  # fmt: skip
    if fresh:
        secure = st.settings.environment == "production" or request.url.scheme == "https"
        resp.set_cookie(
            CSRF_COOKIE, base, httponly=True, secure=secure, samesite="strict", path="/"
        )
    return resp


@router.get("/persons/review", response_class=HTMLResponse, include_in_schema=False)
def review_page(request: Request, services: ServicesDep, _: Linker) -> HTMLResponse:
    with session_scope(services.sessions) as s:
        items = review_items(s)
    return _render(request, "review.html", items=items)


@router.post("/persons/review/{review_id}", include_in_schema=False)
async def review_decide(
    request: Request, services: ServicesDep, principal: Linker,
    review_id: Annotated[int, Path(ge=1)],
) -> RedirectResponse:  # fmt: skip
    from starlette.concurrency import run_in_threadpool

    form = await request.form(max_files=0, max_fields=4)
    decision = str(form.get("decision") or "")
    if decision not in ("same", "distinct"):
        raise ApiError(422, details={"decision": decision[:16]})

    def decide() -> None:
        with session_scope(services.sessions) as s:
            try:
                PersonIndex().decide(s, review_id, decision == "same", principal.name)
            except LookupError:
                raise ApiError(404, details={"review": review_id}) from None

    await run_in_threadpool(decide)
    if services.warehouse is not None:  # a merge reaches the dashboard like a record
        services.warehouse.wake()
    return RedirectResponse("/persons/review", status_code=303)


def _reach(request: Request, s: Session, principal: Principal, health_id: str, reason: str | None) -> tuple[str, bool]:  # fmt: skip
    """The live health ID if the caller may see it, and whether by break-glass; else 404."""
    live = resolve(s, health_id)
    if live is None:
        raise ApiError(404, details={"health_id": health_id})
    sc = principal.scope
    if sc.province:
        return live, False
    facs = facilities_of(s, live)
    q = select(Facility.code, Facility.commune).where(Facility.code.in_(sorted(facs)))
    communes: dict[str, str | None] = {str(r[0]): r[1] for r in s.execute(q)}
    if any(sc.allows(f, communes.get(f)) for f in facs):
        return live, False  # the treating relationship
    if reason is None or len(reason.strip()) < MIN_REASON:
        deny_out_of_scope(principal, f"person:{health_id}", request)
    return live, True  # break-glass


def _record(request: Request, services: Any, principal: Principal, health_id: str, reason: str | None, what: str) -> dict[str, Any]:  # fmt: skip
    with session_scope(services.sessions) as s:
        live, glass = _reach(request, s, principal, health_id, reason)
        rec = health_record(s, live)
    assert rec is not None
    details: dict[str, Any] = {"view": what, "break_glass": glass}
    if glass:
        details.update(reason=(reason or "").strip(), flagged=True)
    audit_event(request, principal, "person.break_glass" if glass else "person.view",
                f"person:{live}", details=details)  # fmt: skip
    rec["break_glass"] = glass
    return rec


@router.get("/api/v1/persons/{health_id}", tags=["persons"])
def person_api(request: Request, services: ServicesDep, principal: Reader, health_id: HealthId,
               reason: Reason = None) -> dict[str, Any]:  # fmt: skip
    """Hồ sơ sức khỏe của một người / a person's health record (audited)."""
    return _record(request, services, principal, health_id, reason, "json")


@router.get("/api/v1/persons/{health_id}/fhir", tags=["persons"])
def person_fhir(request: Request, services: ServicesDep, principal: Reader, health_id: HealthId,
                reason: Reason = None) -> dict[str, Any]:  # fmt: skip
    """Hồ sơ dạng FHIR R4 Bundle / the health record as a FHIR R4 Bundle (audited)."""
    return fhir.bundle(_record(request, services, principal, health_id, reason, "fhir"))


@router.get("/api/v1/persons/{health_id}/pdf", tags=["persons"], response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})  # fmt: skip
def person_pdf(request: Request, services: ServicesDep, principal: Reader, health_id: HealthId,
               reason: Reason = None) -> Response:  # fmt: skip
    """Hồ sơ dạng PDF để người bệnh đọc / the health record as a readable PDF (audited)."""
    from khoyte.persons.pdf import render

    rec = _record(request, services, principal, health_id, reason, "pdf")
    with session_scope(services.sessions) as s:
        q = select(Facility.code, Facility.name).where(Facility.code.in_(rec["facilities"]))
        names = {str(c): str(n) for c, n in s.execute(q)}
    return Response(
        render(rec, names, services.clock()),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="hoso-{rec["health_id"]}.pdf"'},
    )


@router.get("/persons/{health_id}", response_class=HTMLResponse, include_in_schema=False)
def person_page(request: Request, services: ServicesDep, principal: Reader, health_id: HealthId,
                reason: Reason = None) -> HTMLResponse:  # fmt: skip
    rec = _record(request, services, principal, health_id, reason, "page")
    return _render(request, "record.html", rec=rec)
