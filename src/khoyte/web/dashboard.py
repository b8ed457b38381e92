"""The operations-centre dashboards: pages and their JSON twins over the same query functions.

Pages (``/``, ``/kcb``, ``/completeness``) are server-rendered shells; their script fetches the
JSON twin with the page's own query string, so what a page shows is exactly what its twin says.
No inline script (strict CSP): data the script needs before fetching sits in a
``<script type="application/json">`` block.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from khoyte import i18n
from khoyte.access import Permission, Principal, Scope, SubmissionHook, requires
from khoyte.analytics import completeness as comp
from khoyte.analytics import export, kcb, people
from khoyte.analytics.contracts import (
    MAX_DAYS,
    BreakdownTwin,
    CompletenessTwin,
    DailyTwin,
    FilterParams,
    KcbTwin,
    PeopleTwin,
)
from khoyte.analytics.disclosure import small_for
from khoyte.analytics.filters import Filters
from khoyte.deps import EngineDep, SettingsDep, WarehouseDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.layout import TEMPLATES as templates
from khoyte.services import Services
from khoyte.warehouse.engine import AnalyticsEngine
from khoyte.warehouse.service import Warehouse

log = logging.getLogger(__name__)


View = Annotated[Principal, Depends(requires(Permission.VIEW_DASHBOARD))]
Export = Annotated[Principal, Depends(requires(Permission.EXPORT))]
Quality = Annotated[Principal, Depends(requires(Permission.DATA_QUALITY))]


def open_dashboard_authenticator(request: Request) -> Principal:
    """Demo only (``KHOYTE_OPEN_DASHBOARD=1``): a visitor may read aggregates of the province."""
    return Principal(
        kind="user",
        name="khach",
        roles=frozenset({"open_dashboard"}),
        permissions=frozenset(
            {
                Permission.PUBLIC,
                Permission.VIEW_DASHBOARD,
                Permission.EXPORT,
                Permission.DATA_QUALITY,
            }
        ),
        scope=Scope.whole_province(),
    )


def filters_from(
    params: FilterParams, eng: AnalyticsEngine, principal: Principal, today: date | None = None
) -> Filters:
    """The validated query parameters, with the default period filled in: the last twelve
    months of data (or of the calendar when there is none)."""
    d_from, d_to = params.date_from, params.date_to
    if d_from is None or d_to is None:
        found = kcb.data_range(eng, principal.scope)
        end = found[1] if found else (today or date.today())
        d_to = d_to or end
        d_from = d_from or max(
            found[0] if found else d_to, d_to.replace(day=1) - timedelta(days=334)
        ).replace(day=1)
    if d_from > d_to:  # one end given, the default other end before it
        raise ApiError(
            422,
            message_vi="Ngày bắt đầu phải trước ngày kết thúc.",
            message_en="from must not be after to.",
            details={"from": d_from.isoformat(), "to": d_to.isoformat()},
        )
    if (d_to - d_from).days > MAX_DAYS:
        raise ApiError(
            422,
            message_vi="Khoảng thời gian tối đa là 20 năm.",
            message_en="The period may span at most 20 years.",
        )
    return Filters(
        d_from,
        d_to,
        commune=params.commune,
        facility=params.facility,
        tier=params.tier,
        loai_kcb=params.loai_kcb,
    )


Params = Annotated[FilterParams, Query()]


def _period(flt: Filters) -> dict[str, str]:
    return {"from": flt.date_from.isoformat(), "to": flt.date_to.isoformat()}


def _lang(request: Request) -> str:
    return i18n.lang_of(request.query_params.get("lang"))


def _page(
    request: Request,
    template: str,
    principal: Principal,
    params: FilterParams,
    wh: Warehouse,
    **extra: Any,
) -> Response:
    lang = _lang(request)
    eng = wh.engine
    flt = filters_from(params, eng, principal)
    opts = kcb.options(eng, principal.scope)
    config = {
        "lang": lang,
        "t": i18n.texts(lang),
        "visit_types": i18n.visit_types(lang),
        "tiers": i18n.TIERS[lang],
        "sexes": i18n.SEXES[lang],
        "filters": {
            "from": flt.date_from.isoformat(),
            "to": flt.date_to.isoformat(),
            **{k: v or "" for k, v in flt.as_dict().items()},
        },
        "options": opts,
    }
    query = dict(request.query_params)
    other = {**query, "lang": "vi" if lang == "en" else "en"}
    return templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": config["t"],
            "config": config,
            "flt": config["filters"],
            "options": opts,
            "visit_types": config["visit_types"],
            "tiers": config["tiers"],
            "other_lang_query": urlencode(other),
            "lang_query": f"lang={lang}",
            # still loading what the store held at start: the page says so, and since when
            "catching_up_since": wh.freshness()["catching_up_since"],
            **extra,
        },
    )


def wake_warehouse(services: Services) -> SubmissionHook:
    """The after-submission hook that refreshes the warehouse at once, not at the next tick."""

    def wake(_request: Request, _principal: Principal, _receipt: dict[str, Any]) -> None:
        if services.warehouse is not None and services.settings.warehouse_refresh_seconds > 0:
            services.warehouse.wake()

    return wake


router = APIRouter(responses=ERROR_RESPONSES)
# Every twin reads ``Warehouse.freshness()`` BEFORE its numbers: read after, a load finishing in
# between would mark numbers computed before it as complete ("ready") when they were not.
TWIN = {"response_model_exclude_unset": True, "tags": ["dashboards"]}


@router.get("/", include_in_schema=False)
def home(request: Request, principal: View) -> Response:
    query = request.url.query
    return RedirectResponse("/kcb" + (f"?{query}" if query else ""), status_code=303)


@router.get("/kcb", include_in_schema=False)
def kcb_page(request: Request, principal: View, params: Params, wh: WarehouseDep) -> Response:
    return _page(request, "kcb.html", principal, params, wh, page="kcb")


@router.get("/completeness", include_in_schema=False)
def completeness_page(
    request: Request, principal: Quality, params: Params, wh: WarehouseDep
) -> Response:
    return _page(request, "completeness.html", principal, params, wh, page="completeness")


@router.get("/api/v1/dashboards/kcb", response_model=KcbTwin, **TWIN)  # type: ignore[arg-type]
def kcb_twin(
    principal: View, params: Params, wh: WarehouseDep, settings: SettingsDep
) -> dict[str, Any]:
    """Bảng điều khiển KCB / the KCB dashboard's numbers (docs/warehouse.md)."""
    fresh, eng = wh.freshness(), wh.engine  # read before the numbers (see ``TWIN``)
    flt, small = filters_from(params, eng, principal), small_for(principal, settings)
    return {**kcb.kcb(eng, principal.scope, flt, small), **fresh}


@router.get("/api/v1/dashboards/kcb/people", response_model=PeopleTwin, **TWIN)  # type: ignore[arg-type]
def kcb_people(
    principal: View, params: Params, wh: WarehouseDep, settings: SettingsDep
) -> dict[str, Any]:
    """Số người, tái nhập viện, chuyển tuyến / persons served, re-admissions, referral flows."""
    fresh, eng = wh.freshness(), wh.engine  # read before the numbers (see ``TWIN``)
    flt, small = filters_from(params, eng, principal), small_for(principal, settings)
    return {**people.people(eng, principal.scope, flt, small), **fresh}


@router.get("/api/v1/dashboards/kcb/daily", response_model=DailyTwin, **TWIN)  # type: ignore[arg-type]
def kcb_daily(
    principal: View, params: Params, wh: WarehouseDep, settings: SettingsDep
) -> dict[str, Any]:
    """Lượt KCB theo ngày, cùng kỳ năm trước / visits per day with last year's."""
    fresh, eng = wh.freshness(), wh.engine
    flt = filters_from(params, eng, principal)
    return {
        "period": _period(flt),
        "filters": flt.as_dict(),
        "daily": kcb.q_daily(eng, principal.scope, flt, small_for(principal, settings)),
        **fresh,
    }


@router.get("/api/v1/dashboards/kcb/breakdown", response_model=BreakdownTwin, **TWIN)  # type: ignore[arg-type]
def kcb_breakdown(
    principal: View,
    params: Params,
    wh: WarehouseDep,
    settings: SettingsDep,
    by: Annotated[Literal["commune", "facility"], Query()] = "commune",
) -> dict[str, Any]:
    """Theo xã hoặc theo cơ sở / by commune or by facility (the drill-down table)."""
    fresh, eng = wh.freshness(), wh.engine
    flt = filters_from(params, eng, principal)
    return {
        "period": _period(flt),
        "filters": flt.as_dict(),
        "by": by,
        "rows": kcb.q_breakdown(eng, principal.scope, flt, by, small_for(principal, settings)),
        **fresh,
    }


@router.get("/api/v1/dashboards/completeness", response_model=CompletenessTwin, **TWIN)  # type: ignore[arg-type]
def completeness_twin(
    principal: Quality,
    params: Params,
    wh: WarehouseDep,
    settings: SettingsDep,
    unit: Annotated[Literal["day", "month"], Query()] = "day",
    grid: Annotated[bool | None, Query()] = None,
) -> dict[str, Any]:
    """Tính đầy đủ, kịp thời / completeness and timeliness by facility and day or month."""
    fresh, eng = wh.freshness(), wh.engine
    flt = filters_from(params, eng, principal)
    small = small_for(principal, settings, reporting=True)
    data = comp.completeness(eng, principal.scope, flt, settings.silent_days, unit, grid, small)
    return {**data, **fresh}


EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "XLSX hoặc CSV / the table as a file",
        "content": {
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            "text/csv": {},
        },
    }
}


@router.get(
    "/api/v1/dashboards/kcb/export.{fmt}",
    tags=["dashboards"],
    response_class=Response,
    responses=EXPORT_RESPONSES,
)
def kcb_export(
    request: Request,
    fmt: Annotated[str, Path(description="xlsx | csv (else 404)", max_length=8)],
    principal: Export,
    params: Params,
    eng: EngineDep,
    settings: SettingsDep,
    table: str = "summary",
) -> Response:
    """Xuất bảng / one table of the KCB dashboard as XLSX or CSV."""
    flt, small = filters_from(params, eng, principal), small_for(principal, settings)
    lang = _lang(request)
    got = export.kcb_table(eng, principal.scope, flt, table, lang, small)
    return export.respond(got, flt, fmt, lang)


@router.get(
    "/api/v1/dashboards/completeness/export.{fmt}",
    tags=["dashboards"],
    response_class=Response,
    responses=EXPORT_RESPONSES,
)
def completeness_export(
    request: Request,
    fmt: Annotated[str, Path(description="xlsx | csv (else 404)", max_length=8)],
    principal: Export,
    params: Params,
    eng: EngineDep,
    settings: SettingsDep,
) -> Response:
    """Xuất bảng tính đầy đủ / the completeness table as XLSX or CSV."""
    if Permission.DATA_QUALITY not in principal.permissions:
        raise ApiError(403)
    flt = filters_from(params, eng, principal)
    data = comp.completeness(eng, principal.scope, flt, settings.silent_days)
    lang = _lang(request)
    small = small_for(principal, settings, reporting=True)
    return export.respond(export.completeness_table(data, lang, small), flt, fmt, lang)
