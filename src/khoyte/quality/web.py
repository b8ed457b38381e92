"""The workspace's pages, JSON twins and exports (``router``, included by the app factory).

- ``/quality`` and ``GET /api/v1/quality[/months]`` (``data_quality``): the Department of
  Health's view of every facility in scope.
- ``/findings`` and ``GET /api/v1/quality/records`` (``view_submissions``): the records with
  findings, filterable by facility, rule, month and status, each linking to its receipt; a
  facility's staff see their own facility only. The export of that list needs no ``export``
  permission: it holds what the caller may already read in the twin and the receipts.

Pages are rendered on the server from the same query functions as the twins (no script: the
numbers on a page are the twin's). Asking for a facility outside one's scope answers 404 and
is audited (``access.require_in_scope``), as everywhere.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import Connection, select

from khoyte.access import Permission, Principal, audit_event, require_in_scope, requires
from khoyte.analytics import export
from khoyte.analytics.contracts import MAX_DAYS
from khoyte.analytics.filters import Filters
from khoyte.deps import ServicesDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.layout import TEMPLATES
from khoyte.quality import privacy, queries
from khoyte.quality.contracts import MonthsTwin, QualityParams, QualityTwin, RecordsTwin
from khoyte.quality.rules import convention_texts, explain
from khoyte.quality.sheets import records_table, summary_table
from khoyte.quality.store import FAC
from khoyte.quality.store import Query as Q
from khoyte.services import Services

Quality = Annotated[Principal, Depends(requires(Permission.DATA_QUALITY))]
Submissions = Annotated[Principal, Depends(requires(Permission.VIEW_SUBMISSIONS))]
Export = Annotated[Principal, Depends(requires(Permission.EXPORT))]
Params = Annotated[QualityParams, Query()]
Fmt = Annotated[str, Path(description="xlsx | csv (else 404)", max_length=8)]
PAGE = 100  # records per page of a list
EXPORT_MAX = 50_000  # records per export (the file says when it was cut)
TWIN: dict[str, Any] = {"tags": ["data quality"]}
router = APIRouter(responses=ERROR_RESPONSES)


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "vi"


def _query(conn: Connection, services: Services, principal: Principal, p: QualityParams) -> Q:
    """The validated parameters with the caller's scope checked and the default period filled
    in: the twelve months up to the newest record received (or up to today)."""
    if p.facility:
        commune = conn.scalar(select(FAC.c.commune).where(FAC.c.code == p.facility))
        require_in_scope(principal, f"facility:{p.facility}", p.facility, commune)
    d_to = p.date_to or queries.data_end(conn, principal.scope) or services.clock().date()
    d_from = p.date_from or (d_to.replace(day=1) - timedelta(days=334)).replace(day=1)
    if d_from > d_to or (d_to - d_from).days > MAX_DAYS:
        raise ApiError(
            422,
            message_vi="Khoảng thời gian không hợp lệ (từ ngày phải trước đến ngày, tối đa 20 "
            "năm).",
            message_en="Invalid period (from must not be after to; at most 20 years).",
            details={"from": d_from.isoformat(), "to": d_to.isoformat()},
        )
    return Q(d_from, d_to, p.facility, p.code, p.month, p.status)


def _today(services: Services) -> date:
    return services.clock().date()


def _summary(conn: Connection, services: Services, principal: Principal, q: Q) -> dict[str, Any]:
    data = queries.summary(conn, principal.scope, q, _today(services))
    return privacy.summary(data, privacy.threshold(principal, services.settings))


def _months(conn: Connection, services: Services, principal: Principal, q: Q) -> dict[str, Any]:
    data = queries.months(conn, principal.scope, q)
    return privacy.months(data, privacy.threshold(principal, services.settings))


def receipt_url(submission_id: str) -> str:
    return f"/api/v1/submissions/{submission_id}"


def _records(
    request: Request, conn: Connection, principal: Principal, q: Q, limit: int, offset: int
) -> dict[str, Any]:
    data = queries.record_list(conn, principal.scope, q, limit, offset)
    for r in data["rows"]:
        r["receipt_url"] = receipt_url(r["submission_id"])
    shown = privacy.findings(principal, data["rows"])
    if shown:  # identifying values were shown to a record-viewing caller: audit it
        audit_event(
            request,
            principal,
            "findings.view",
            f"facility:{q.facility or '*'}",
            details={"identifying_findings": shown, "records": len(data["rows"])},
        )
    return data


@router.get("/api/v1/quality", response_model=QualityTwin, **TWIN)
def quality_twin(principal: Quality, params: Params, services: ServicesDep) -> dict[str, Any]:
    """Chất lượng dữ liệu / data quality: records, findings, rejections, money at risk, by rule
    and by facility (docs/quality.md)."""
    with services.engine.connect() as conn:
        q = _query(conn, services, principal, params)
        return _summary(conn, services, principal, q)


@router.get("/api/v1/quality/months", response_model=MonthsTwin, **TWIN)
def months_twin(principal: Quality, params: Params, services: ServicesDep) -> dict[str, Any]:
    """Theo tháng / the trend by month and the facility × rule × month grid."""
    with services.engine.connect() as conn:
        q = _query(conn, services, principal, params)
        return _months(conn, services, principal, q)


@router.get("/api/v1/quality/records", response_model=RecordsTwin, **TWIN)
def records_twin(
    request: Request, principal: Submissions, params: Params, services: ServicesDep
) -> dict[str, Any]:
    """Hồ sơ có lỗi / the records with findings (or rejected), a page of ``PAGE`` at a time,
    each with its findings and its receipt."""
    with services.engine.connect() as conn:
        q = _query(conn, services, principal, params)
        return _records(request, conn, principal, q, PAGE, (params.page - 1) * PAGE)


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "XLSX hoặc CSV / the table as a file",
        "content": {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            "text/csv": {},
        },
    }
}
EXPORT_ROUTE: dict[str, Any] = {
    "tags": ["data quality"],
    "response_class": Response,
    "responses": EXPORT_RESPONSES,
}
TABLES = ("facilities", "rules", "months")


@router.get("/api/v1/quality/export.{fmt}", **EXPORT_ROUTE)
def quality_export(
    request: Request,
    fmt: Fmt,
    principal: Export,
    params: Params,
    services: ServicesDep,
    table: str = "facilities",
) -> Response:
    """Xuất bảng / one table of the workspace (facilities, rules, months) as XLSX or CSV."""
    if Permission.DATA_QUALITY not in principal.permissions:
        raise ApiError(403)
    if table not in TABLES:
        raise ApiError(422, details={"parameter": "table", "allowed": list(TABLES)})
    lang = _lang(request)
    with services.engine.connect() as conn:
        q = _query(conn, services, principal, params)
        if table == "months":
            got = _months(conn, services, principal, q)
        else:
            got = _summary(conn, services, principal, q)
    small = privacy.threshold(principal, services.settings)
    out = summary_table(table, got, lang, small)
    return export.respond(out, Filters(q.date_from, q.date_to, facility=q.facility), fmt, lang)


@router.get("/api/v1/quality/records/export.{fmt}", **EXPORT_ROUTE)
def records_export(
    request: Request, fmt: Fmt, principal: Submissions, params: Params, services: ServicesDep
) -> Response:
    """Xuất hồ sơ có lỗi / the records with findings, one row per finding, as XLSX or CSV
    (at most ``EXPORT_MAX`` records)."""
    lang = _lang(request)
    with services.engine.connect() as conn:
        q = _query(conn, services, principal, params)
        data = _records(request, conn, principal, q, EXPORT_MAX, 0)
    out = records_table(data, lang)
    return export.respond(out, Filters(q.date_from, q.date_to, facility=q.facility), fmt, lang)


# --- pages ----------------------------------------------------------------------------------


def _links(q: Q, lang: str) -> Any:
    """``href(path, **changes)``: a link keeping the period (and language), with changes."""
    base: dict[str, str] = {"from": q.date_from.isoformat(), "to": q.date_to.isoformat()}
    if lang == "en":
        base["lang"] = "en"

    def href(path: str, **changes: Any) -> str:
        query = {**base, **{k: str(v) for k, v in changes.items() if v not in (None, "")}}
        return f"{path}?{urlencode(query)}"

    return href


def _page(
    request: Request, name: str, conn: Connection, principal: Principal, q: Q, **ctx: Any
) -> Response:
    lang = _lang(request)
    return TEMPLATES.TemplateResponse(
        request,
        f"quality/{name}",
        {
            "lang": lang,
            "q": q,
            "href": _links(q, lang),
            "facilities": queries.facilities_in_scope(conn, principal.scope),
            "conventions": convention_texts(lang),
            "explain": explain,
            **ctx,
        },
    )


@router.get("/quality", include_in_schema=False)
def quality_page(
    request: Request, principal: Quality, params: Params, services: ServicesDep
) -> Response:
    with services.engine.connect() as conn:
        q = _query(conn, services, principal, params)
        data = _summary(conn, services, principal, q)
        trend = _months(conn, services, principal, q)
        return _page(
            request, "quality.html", conn, principal, q, data=data, trend=_grid(data, trend),
            drill=privacy.may_drill(principal), may_export=Permission.EXPORT in principal.permissions,
        )  # fmt: skip


@router.get("/findings", include_in_schema=False)
def findings_page(
    request: Request, principal: Submissions, params: Params, services: ServicesDep
) -> Response:
    with services.engine.connect() as conn:
        q = _query(conn, services, principal, params)
        data = _records(request, conn, principal, q, PAGE, (params.page - 1) * PAGE)
        pages = max(1, -(-data["total"] // PAGE))
        return _page(
            request, "findings.html", conn, principal, q, data=data, page=params.page,
            pages=pages, may_quality=Permission.DATA_QUALITY in principal.permissions,
        )  # fmt: skip


def _grid(data: dict[str, Any], trend: dict[str, Any]) -> dict[str, Any]:
    """The months as columns: facilities × months (share with findings) and the most frequent
    rules × months (records with the rule / records of the month)."""
    months = [m["month"] for m in trend["months"]]
    per_month = {m["month"]: m["records"] for m in trend["months"]}
    fac_rows: dict[str, dict[str, Any]] = {}
    for r in trend["facility_months"]:
        share = r["with_findings"] / r["records"] if r["records"] and r["with_findings"] is not None else None  # fmt: skip
        fac_rows.setdefault(r["facility"], {})[r["month"]] = (r["with_findings"], share)
    top = [r["code"] for r in data["by_rule"][:12]]
    rule_rows: dict[str, dict[str, Any]] = {c: {} for c in top}
    for c in trend["cells"]:
        if c["code"] in rule_rows and c["records"] is not None:
            n = rule_rows[c["code"]].get(c["month"], (0, None))[0] + c["records"]
            whole = per_month.get(c["month"])
            rule_rows[c["code"]][c["month"]] = (n, n / whole if whole else None)
    return {"months": months, "trend": trend["months"], "facilities": fac_rows, "rules": rule_rows}
