"""HTTP: plans (kế hoạch, chỉ tiêu) — the page ``/aggregate/targets`` and its JSON twins
(issue 13). Reading needs ``view_dashboard`` (who sees the IOC dashboards) and shows the plans
of the caller's scope; writing (one value, a deletion, an upload through the same all-or-nothing
importer as ``khoyte aggregate targets``) needs ``enter_aggregate`` and a whole-province scope
(the provincial specialists): plans are the province's. Every change is audited
(``aggregate.target.put``, ``.delete``, ``.upload``), refusals too."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from khoyte import i18n
from khoyte.access import Permission, Principal, deny_out_of_scope, requires
from khoyte.aggregate import store, targets
from khoyte.aggregate.metadata import Metadata, load
from khoyte.aggregate.schemas import TargetIn, TargetRowOut, TargetsOut, TargetsReceiptOut
from khoyte.aggregate.web import _body
from khoyte.aggregate.web_entry import orgunit_choices
from khoyte.aggregate.web_quality import _ip
from khoyte.analytics.export import XLSX_TYPE as XLSX
from khoyte.deps import ServicesDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.layout import TEMPLATES as templates
from khoyte.registry import adminunits
from khoyte.security import audit
from khoyte.services import Services
from khoyte.store.db import session_scope

router = APIRouter(responses=ERROR_RESPONSES, tags=["aggregate"])
View = Annotated[Principal, Depends(requires(Permission.VIEW_DASHBOARD))]
Export = Annotated[Principal, Depends(requires(Permission.EXPORT))]
Enter = Annotated[Principal, Depends(requires(Permission.ENTER_AGGREGATE))]
YearQ = Annotated[str | None, Query(description="2026; empty: every year", pattern=r"^(\d{4})?$")]
UnitQ = Annotated[str | None, Query(description="mã tỉnh, xã hoặc cơ sở / org unit", max_length=16)]
TEXTS = {
    "saving": ("Đang lưu…", "Saving…"), "saved": ("Đã lưu", "Saved"),
    "save_failed": ("Không lưu được", "Not saved"),
    "not_a_number": ("không phải là số", "not a number"),
    "deleted": ("Đã xóa", "Deleted"), "delete": ("Xóa", "Delete"), "confirm_delete": ("Xóa kế hoạch này?", "Delete this plan?"),
    "uploading": ("Đang tải lên…", "Uploading…"), "row": ("Dòng", "Row"),
    "column": ("Cột", "Column"), "value": ("Giá trị", "Value"), "problem": ("Lỗi", "Problem"),
    "loaded": ("Đã lưu: {imported} mới, {updated} sửa.", "Stored: {imported} new, {updated} changed."),
    "unchanged": ("Không có gì thay đổi (các giá trị đã như trong tệp).",
                  "Nothing changed (the values were already the file's)."),
    "rejected": ("Tệp bị từ chối, không lưu gì: {n} lỗi.", "File refused, nothing stored: {n} problems."),
}  # fmt: skip


def number_text(value: str, lang: str) -> str:
    """A canonical number as people read it: ``1.234,5`` (Vietnamese) or ``1,234.5``."""
    got = f"{Decimal(value):,}"
    return got if lang == "en" else got.translate(str.maketrans(",.", ".,"))


def _names(s: Session, principal: Principal) -> tuple[list[dict[str, str]], dict[str, str]]:
    choices = orgunit_choices(s, principal)
    names = dict(adminunits.provinces())
    names.update({c: n for c, (n, _) in adminunits.communes().items()})
    names.update({u["code"]: u["name"] for u in choices})
    return choices, names


def _year(text: str | None) -> int | None:
    return int(text) if text else None


def _visible(principal: Principal, units: dict[str, tuple[str, str | None]], code: str) -> bool:
    unit = units.get(code)
    return principal.scope.province if unit is None else store.allowed(principal.scope, code, unit)


def _plans(
    s: Session, md: Metadata, principal: Principal, year: int | None, orgunit: str | None,
    missing_year: int,
) -> dict[str, Any]:  # fmt: skip
    """The twin: the plans of the year and org unit in the caller's scope, and the IOC's plans
    missing for the year and the org unit (the one chosen, else the province or the scope's
    only unit)."""
    units = store.known_orgunits(s)
    if orgunit and not _visible(principal, units, orgunit):
        deny_out_of_scope(principal, f"orgunit:{orgunit}")
    choices, names = _names(s, principal)
    ioc = targets.ioc_codes(md)
    every = targets.rows(s, md)

    def out(r: dict[str, Any]) -> dict[str, Any]:
        return {"indicator": r["indicator"], "name_vi": r["name_vi"], "name_en": r["name_en"],
                "unit_vi": r["unit_vi"], "unit_en": r["unit_en"], "orgUnit": r["orgunit"],
                "orgUnitName": names.get(r["orgunit"], r["orgunit"]), "year": r["year"],
                "target": r.get("target"), "source": r.get("source"),
                "stored": r.get("stored", False), "storedBy": r.get("stored_by"),
                "updatedAt": r.get("updated_at"), "iocGroups": ioc.get(r["indicator"], [])}  # fmt: skip

    rows = [
        out(r) for r in every
        if (year is None or r["year"] == year) and (not orgunit or r["orgunit"] == orgunit)
        and _visible(principal, units, r["orgunit"])
    ]  # fmt: skip
    scope = principal.scope
    only = scope.communes | scope.facilities
    unit = orgunit or next((u["code"] for u in choices if u["level"] == "province"), None)
    unit = unit or (next(iter(only)) if len(only) == 1 and not scope.province else None)
    have = {(r["indicator"], r["orgunit"], r["year"]) for r in every}
    missing = [
        out({"indicator": code, "orgunit": unit, "year": missing_year,
             **targets.describe(md, code)})
        for code in ioc if unit and (code, unit, missing_year) not in have
    ]  # fmt: skip
    return {"year": year, "orgUnit": orgunit or None, "rows": rows, "missing": missing,
            "missingYear": missing_year, "missingOrgUnit": unit,
            "canEdit": Permission.ENTER_AGGREGATE in principal.permissions and scope.province,
            "choices": choices, "years": sorted({r["year"] for r in every}, reverse=True)}  # fmt: skip


@router.get("/api/v1/aggregate/targets")
def targets_json(
    services: ServicesDep, principal: View, year: YearQ = None, orgunit: UnitQ = None
) -> TargetsOut:
    """Kế hoạch (chỉ tiêu) trong phạm vi / the plans in the caller's scope: every plan in effect
    (stored, or the package's ``targets.csv``) of the year and org unit, and the plans an IOC
    group shows that are missing (for the year asked, else this year)."""
    with session_scope(services.sessions) as s:
        got = _plans(s, load(), principal, _year(year), orgunit,
                     _year(year) or services.clock().year)  # fmt: skip
    return TargetsOut.model_validate(got)


def _download(services: Services, principal: Principal, year: str | None, orgunit: str | None,
              kind: str) -> Response:  # fmt: skip
    with session_scope(services.sessions) as s:
        got = _plans(s, load(), principal, _year(year), orgunit, services.clock().year)
        _, names = _names(s, principal)
    plans = [{"indicator": r["indicator"], "orgunit": r["orgUnit"], "year": r["year"],
              "target": r["target"], "name_vi": r["name_vi"], "unit_vi": r["unit_vi"]}
             for r in got["rows"]]  # fmt: skip
    name = f"ke_hoach_{year or 'tat_ca'}{'_' + orgunit if orgunit else ''}.{kind}"
    data = targets.to_xlsx(plans, names) if kind == "xlsx" else targets.to_csv(plans, names)
    return Response(data, media_type=XLSX if kind == "xlsx" else "text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


@router.get("/api/v1/aggregate/targets.csv", response_class=Response,
            responses={200: {"description": "CSV", "content": {"text/csv": {}}}})  # fmt: skip
def targets_csv(
    services: ServicesDep, principal: Export, year: YearQ = None, orgunit: UnitQ = None
) -> Response:
    """Kế hoạch dạng CSV / the plans as CSV in the importer's layout (``indicator, orgunit,
    year, target``, names after; uploading it back changes nothing)."""
    return _download(services, principal, year, orgunit, "csv")


@router.get("/api/v1/aggregate/targets.xlsx", response_class=Response,
            responses={200: {"description": "XLSX", "content": {XLSX: {}}}})  # fmt: skip
def targets_xlsx(
    services: ServicesDep, principal: Export, year: YearQ = None, orgunit: UnitQ = None
) -> Response:
    """Kế hoạch dạng Excel / the plans as XLSX, the same columns as the CSV."""
    return _download(services, principal, year, orgunit, "xlsx")


def _refuse(services: Services, request: Request, principal: Principal, action: str,
            what: str) -> None:  # fmt: skip
    """Plans are written by the province: audit the refusal and answer 403."""
    if principal.scope.province:
        return
    with session_scope(services.sessions) as s:
        audit.record(s, principal, action, what, "denied", _ip(request),
                     details={"reason": "not_province_scope"})  # fmt: skip
    raise ApiError(403, message_vi="Chỉ chuyên viên cấp tỉnh (phạm vi toàn tỉnh) được sửa kế hoạch.",
                   message_en="Only provincial specialists (whole-province scope) may change plans.")  # fmt: skip


def _row(s: Session, md: Metadata, principal: Principal, key: targets.Key) -> TargetRowOut | None:
    got = _plans(s, md, principal, key[2], key[1], key[2])
    return next((TargetRowOut.model_validate(r) for r in got["rows"]
                 if r["indicator"] == key[0]), None)  # fmt: skip


@router.put("/api/v1/aggregate/targets")
def target_put(
    request: Request, body: TargetIn, services: ServicesDep, principal: Enter
) -> TargetRowOut:
    """Sửa một kế hoạch / set one plan value (indicator × org unit × year); 422 naming the bad
    field; audited (``aggregate.target.put``, the old and new value)."""
    what = f"target:{body.indicator}/{body.orgUnit}/{body.year}"
    _refuse(services, request, principal, "aggregate.target.put", what)
    md = load()
    key = (body.indicator, body.orgUnit, body.year)
    row = None
    with session_scope(services.sessions) as s:
        value, bad = targets.check(md, *key[:2], str(body.year), body.value,
                                   store.known_orgunits(s))  # fmt: skip
        if value is None:
            audit.record(s, principal, "aggregate.target.put", what, "failure", _ip(request),
                         details={"problems": sorted(c for c, _, _ in bad)})  # fmt: skip
        else:
            old = targets.put(s, key, value, who=principal.name, now=services.clock())
            audit.record(s, principal, "aggregate.target.put", what, "success", _ip(request),
                         details={"old": old, "new": value})  # fmt: skip
            s.flush()
            row = _row(s, md, principal, key)
    if value is None or row is None:
        problems = [targets.problem(c, 0, col, v) for c, col, v in bad]
        raise ApiError(422, message_vi="Kế hoạch không hợp lệ; không lưu.",
                       message_en="Invalid plan; nothing stored.", details={"problems": problems})  # fmt: skip
    return row


@router.delete("/api/v1/aggregate/targets")
def target_delete(
    request: Request,
    services: ServicesDep,
    principal: Enter,
    indicator: Annotated[str, Query(max_length=64)],
    orgunit: Annotated[str, Query(max_length=16)],
    year: Annotated[int, Query(ge=2000, le=2100)],
) -> TargetRowOut | None:
    """Xóa một kế hoạch đã lưu / delete one stored plan: the package's (``targets.csv``), if
    any, applies again and is answered (null: none); 404 when none was stored; audited."""
    what = f"target:{indicator}/{orgunit}/{year}"
    _refuse(services, request, principal, "aggregate.target.delete", what)
    key = (indicator, orgunit, year)
    with session_scope(services.sessions) as s:
        old = targets.delete(s, key)
        if old is not None:
            audit.record(s, principal, "aggregate.target.delete", what, "success", _ip(request),
                         details={"old": old})  # fmt: skip
            s.flush()
            return _row(s, load(), principal, key)
    raise ApiError(404, message_vi="Không có kế hoạch đã lưu này.",
                   message_en="No such stored plan.")  # fmt: skip


def _upload(services: Services, request: Request, principal: Principal, data: bytes,
            name: str) -> dict[str, Any]:  # fmt: skip
    md = load()
    what = f"file:{name}"
    with session_scope(services.sessions) as s:
        _, problems = targets.read(data, md, store.known_orgunits(s))
    if not problems:  # a file that could be stored: only the province may
        _refuse(services, request, principal, "aggregate.target.upload", what)
    with session_scope(services.sessions) as s:
        receipt = targets.store(s, data, md, source=name, who=principal.name,
                                now=services.clock())  # fmt: skip
        outcome = "failure" if receipt["status"] == "rejected" else "success"
        audit.record(s, principal, "aggregate.target.upload", what, outcome, _ip(request),
                     details={"status": receipt["status"], "imported": receipt["imported"],
                              "updated": receipt["updated"],
                              "problems": sorted({p["code"] for p in receipt["problems"]})})  # fmt: skip
    return {**receipt, "file": name}


@router.post("/api/v1/aggregate/targets/uploads")
async def targets_upload(
    request: Request, services: ServicesDep, principal: Enter
) -> TargetsReceiptOut:
    """Tải lên tệp kế hoạch / upload a plan file (CSV or XLSX, the body; its name in
    ``X-Filename``, URL-encoded) through the importer of ``khoyte aggregate targets``: all-or-nothing, the
    receipt names row, column and value of every problem in Vietnamese and English; the same
    file twice is ``unchanged``."""
    data = await _body(request)
    name = unquote(request.headers.get("x-filename", "upload"))[:255]
    got = await run_in_threadpool(_upload, services, request, principal, data, name)
    return TargetsReceiptOut.model_validate(got)


@router.get("/aggregate/targets", include_in_schema=False)
def targets_page(
    request: Request, services: ServicesDep, principal: View, year: YearQ = None,
    orgunit: UnitQ = None,
) -> Response:  # fmt: skip
    lang = i18n.lang_of(request.query_params.get("lang"))
    this_year = services.clock().year
    chosen = this_year if year is None else _year(year)  # absent: this year; empty: every year
    with session_scope(services.sessions) as s:
        got = _plans(s, load(), principal, chosen, orgunit, chosen or this_year)
    years = sorted({*got["years"], this_year, this_year + 1}, reverse=True)
    for r in [*got["rows"], *got["missing"]]:
        r["shown"] = number_text(r["target"], lang) if r["target"] is not None else ""
    query = {k: v for k, v in (("year", "" if chosen is None else str(chosen)),
                               ("orgunit", orgunit or "")) if v}  # fmt: skip
    config = {"lang": lang, "t": {k: i18n.pair(v, lang) for k, v in TEXTS.items()},
              "canEdit": got["canEdit"]}  # fmt: skip
    return templates.TemplateResponse(
        request,
        "aggregate/targets.html",
        {"lang": lang, "t": i18n.texts(lang), "config": config, "got": got, "years": years,
         "chosen": chosen, "orgunit": orgunit or "", "query": query,
         "title": i18n.pair(("Kế hoạch, chỉ tiêu", "Plans (targets)"), lang)},
    )  # fmt: skip
