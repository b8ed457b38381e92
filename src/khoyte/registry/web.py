"""The facility registry for IT administrators: a page to view, add and edit facilities, and its
JSON twin. Every change is checked by the importer's own row checks
(:func:`khoyte.registry.facilities.parse_row`) and written to the audit trail in the same
transaction; the warehouse picks it up through the hand-off (its registry watermark), so the
dashboards follow within a refresh.

``router`` is included by the app factory (one line in ``khoyte.web.app``). The pages use the
security component's layout, CSRF token and audit trail: without it there is nobody to sign in
as an administrator anyway.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from khoyte import i18n
from khoyte.access import Permission, Principal, requires
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.layout import TEMPLATES
from khoyte.registry import facilities as reg
from khoyte.registry.facilities import TIERS, FacilityEntry, Problem
from khoyte.store.db import session_scope

HERE = Path(__file__).parent
Admin = Annotated[Principal, Depends(requires(Permission.ADMIN_FACILITIES))]
router = APIRouter(responses=ERROR_RESPONSES)  # the one error shape (khoyte.errors)

FORM_FIELDS = ("ma_cskcb", "ten", "loai", "tuyen", "ma_xa", "ma_tinh", "giuong", "nhan_luc",
               "hieu_luc_tu", "hieu_luc_den")  # fmt: skip


class FacilityOut(BaseModel):
    code: str
    name: str
    kind: str | None
    tier: str | None
    commune: str | None
    commune_name: str | None
    province: str | None
    beds: int | None
    staff: int | None
    valid_from: date | None
    valid_to: date | None
    active: bool
    revision: int


def _sessions(request: Request) -> sessionmaker[Session]:
    """The operational store's sessions (the composition root's, ``khoyte.services``)."""
    factory: sessionmaker[Session] = request.app.state.services.sessions
    return factory


def _all(request: Request) -> list[FacilityEntry]:
    with session_scope(_sessions(request)) as s:
        return reg.list_all(s)


@router.get("/api/v1/admin/facilities", response_model=list[FacilityOut], tags=["admin"])
def facilities_api(request: Request, _: Admin) -> list[FacilityOut]:
    """Danh mục cơ sở KCB / the facility registry (for IT administrators)."""
    return [FacilityOut(**asdict(f)) for f in _all(request)]


@router.get("/api/v1/admin/facilities/{code}", response_model=FacilityOut, tags=["admin"])
def facility_api(request: Request, code: str, _: Admin) -> FacilityOut:
    """Một cơ sở / one facility."""
    with session_scope(_sessions(request)) as s:
        found = reg.get(s, code)
    if found is None:
        raise ApiError(404, details={"facility": code[:16]})
    return FacilityOut(**asdict(found))


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    from khoyte.security.middleware import CSRF_COOKIE, csrf_base, csrf_token
    from khoyte.security.roles import ROLES
    from khoyte.security.web import state

    st = state(request)
    jar = dict(request.cookies)
    base = csrf_base(jar)
    set_csrf = None
    if base is None:
        base = set_csrf = secrets.token_urlsafe(32)
    resp = TEMPLATES.TemplateResponse(  # the one layout (khoyte.layout)
        request,
        f"registry/{name}",
        {
            "csrf": csrf_token(st.secret, base),
            "roles": ROLES,
            "tiers": TIERS,
            "tier_vi": i18n.TIERS["vi"],
            "tier_en": i18n.TIERS["en"],
            **ctx,
        },
        status_code=status,
    )
    if set_csrf is not None:
        secure = st.settings.environment == "production" or request.url.scheme == "https"
        resp.set_cookie(CSRF_COOKIE, set_csrf, httponly=True, secure=secure, samesite="strict",
                        path="/")  # fmt: skip
    return resp


@router.get("/admin/facilities", response_class=HTMLResponse, include_in_schema=False)
def facilities_page(request: Request, _: Admin) -> HTMLResponse:
    return render(request, "facilities.html", facilities=_all(request), message=None,
                  problems=[], form={})  # fmt: skip


@router.get("/admin/facilities/{code}", response_class=HTMLResponse, include_in_schema=False)
def facility_page(request: Request, code: str, _: Admin) -> HTMLResponse:
    with session_scope(_sessions(request)) as s:
        found = reg.get(s, code)
    if found is None:
        raise ApiError(404, details={"facility": code[:16]})
    return render(request, "facility.html", f=found, form=_form_of(found), message=None,
                  problems=[])  # fmt: skip


def _form_of(f: FacilityEntry) -> dict[str, str]:
    def s(v: object) -> str:
        return "" if v is None else str(v)

    return {
        "ma_cskcb": f.code, "ten": f.name, "loai": s(f.kind), "tuyen": s(f.tier),
        "ma_xa": s(f.commune), "ma_tinh": s(f.province), "giuong": s(f.beds),
        "nhan_luc": s(f.staff), "hieu_luc_tu": s(f.valid_from), "hieu_luc_den": s(f.valid_to),
        "hoat_dong": "1" if f.active else "",
    }  # fmt: skip


async def _posted(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=40)
    out = {k: str(form.get(k) or "").strip()[:300] for k in FORM_FIELDS}
    out["hoat_dong"] = "1" if form.get("hoat_dong") else "0"
    return out


def _save(request: Request, principal: Principal, raw: dict[str, str], code: str | None) -> Any:
    """Check and write one facility from a form; audited in the same transaction."""
    from khoyte.security import audit
    from khoyte.security.web import client_ip

    if code is not None:
        raw["ma_cskcb"] = code  # the code of an existing facility is its identity
    with session_scope(_sessions(request)) as s:
        entry, problems, given = reg.parse_row(raw, "biểu mẫu / form", 1, reg.old_commune_map(s))
        if entry is None:
            return None, problems
        before = reg.get(s, entry.code)
        if code is None and before is not None:
            return None, [Problem("biểu mẫu / form", 1, "ma_cskcb", entry.code,
                                  "mã này đã có; hãy sửa cơ sở đó", "this code exists; edit "
                                  "that facility instead")]  # fmt: skip
        if code is not None and before is None:
            raise ApiError(404, details={"facility": code[:16]})
        outcome = reg.upsert(s, entry, given)
        if outcome != "unchanged":
            changes = {
                f: [_plain(getattr(before, f)) if before else None, _plain(getattr(entry, f))]
                for f in reg.FIELDS
                if before is None or getattr(before, f) != getattr(entry, f)
            }
            action = "facility.create" if before is None else "facility.update"
            if before is not None and set(changes) == {"active"}:
                action = "facility.activate" if entry.active else "facility.deactivate"
            audit.record(s, principal, action, f"facility:{entry.code}", "success",
                         client_ip(request), details={"changes": changes})  # fmt: skip
        return outcome, []


def _plain(v: object) -> object:
    return v.isoformat() if isinstance(v, date) else v


_DONE = {
    "created": ("Đã thêm cơ sở", "Facility added"),
    "updated": ("Đã lưu thay đổi; bảng điều khiển cập nhật trong vài giây",
                "Saved; the dashboards follow within seconds"),
    "unchanged": ("Không có gì thay đổi", "Nothing changed"),
}  # fmt: skip


@router.post("/admin/facilities", response_class=HTMLResponse, include_in_schema=False)
async def facilities_create(request: Request, principal: Admin) -> HTMLResponse:
    from starlette.concurrency import run_in_threadpool

    raw = await _posted(request)
    outcome, problems = await run_in_threadpool(_save, request, principal, raw, None)
    facs = await run_in_threadpool(_all, request)
    if problems:
        return render(request, "facilities.html", status=400, facilities=facs, problems=problems,
                      message=None, form=raw)  # fmt: skip
    vi, en = _DONE[outcome]
    return render(request, "facilities.html", facilities=facs, problems=[], form={},
                  message=("ok", f"{vi}: {raw['ma_cskcb']}.", f"{en}: {raw['ma_cskcb']}."))  # fmt: skip


def _paste(request: Request, principal: Principal, text: str) -> Any:
    """Rows pasted on the page (CSV, or cells copied from a spreadsheet: tab-separated), read
    by the one importer; audited like ``khoyte facility import``."""
    import hashlib
    import tempfile

    from khoyte.security import audit
    from khoyte.security.web import client_ip

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dan-tu-trang.csv"  # "pasted on the page": named so in errors
        path.write_text(text, encoding="utf-8")
        with session_scope(_sessions(request)) as s:
            report = reg.import_file(s, path)
            if report.codes:
                audit.record(s, principal, "facility.import", "page:paste", "success",
                             client_ip(request), details={
                                 "sha256": hashlib.sha256(text.encode()).hexdigest(),
                                 "rows": report.rows, "created": report.created,
                                 "updated": report.updated, "codes": report.codes[:500]})  # fmt: skip
    return report


@router.post("/admin/facilities/paste", response_class=HTMLResponse, include_in_schema=False)
async def facilities_paste(request: Request, principal: Admin) -> HTMLResponse:
    from starlette.concurrency import run_in_threadpool

    form = await request.form(max_files=0, max_fields=5)
    text = str(form.get("rows") or "")
    try:
        r = await run_in_threadpool(_paste, request, principal, text)
    except reg.RegistryError as err:
        facs = await run_in_threadpool(_all, request)
        return render(request, "facilities.html", status=400, facilities=facs,
                      problems=err.problems, message=None, form={}, rows=text)  # fmt: skip
    facs = await run_in_threadpool(_all, request)
    msg = (
        "ok",
        f"Đã nhập {r.rows} dòng: {r.created} mới, {r.updated} thay đổi, {r.unchanged} không đổi.",
        f"{r.rows} rows: {r.created} new, {r.updated} changed, {r.unchanged} unchanged.",
    )
    return render(request, "facilities.html", facilities=facs, problems=[], form={}, message=msg)


@router.post("/admin/facilities/{code}", response_class=HTMLResponse, include_in_schema=False)
async def facility_save(request: Request, code: str, principal: Admin) -> HTMLResponse:
    from starlette.concurrency import run_in_threadpool

    raw = await _posted(request)
    outcome, problems = await run_in_threadpool(_save, request, principal, raw, code)

    def current() -> FacilityEntry | None:
        with session_scope(_sessions(request)) as s:
            return reg.get(s, code)

    found = await run_in_threadpool(current)
    if found is None:
        raise ApiError(404, details={"facility": code[:16]})
    if problems:
        return render(request, "facility.html", status=400, f=found, form=raw,
                      problems=problems, message=None)  # fmt: skip
    vi, en = _DONE[outcome]
    return render(request, "facility.html", f=found, form=_form_of(found), problems=[],
                  message=("ok", f"{vi}.", f"{en}."))  # fmt: skip
