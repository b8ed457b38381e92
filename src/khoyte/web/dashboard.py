"""The operations-centre dashboards: pages and their JSON twins over the same query functions.

Pages (``/``, ``/kcb``, ``/completeness``) are server-rendered shells; their script fetches the
JSON twin with the page's own query string, so what a page shows is exactly what its twin says.
No inline script (strict CSP): data the script needs before fetching sits in a
``<script type="application/json">`` block.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import duckdb
from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from khoyte import i18n
from khoyte.access import Permission, Principal, Scope, requires
from khoyte.analytics import completeness as comp
from khoyte.analytics import export, kcb
from khoyte.analytics.filters import TIERS, Filters
from khoyte.config import Settings
from khoyte.errors import ApiError
from khoyte.warehouse.engine import AnalyticsEngine
from khoyte.warehouse.service import Warehouse, store_source

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))

_CODE = re.compile(r"[0-9A-Za-z_.\-]{1,20}")
MAX_DAYS = 366 * 20
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2199, 12, 31)

View = Annotated[Principal, Depends(requires(Permission.VIEW_DASHBOARD))]
Export = Annotated[Principal, Depends(requires(Permission.EXPORT))]
Quality = Annotated[Principal, Depends(requires(Permission.DATA_QUALITY))]
Public = Annotated[Principal, Depends(requires(Permission.PUBLIC))]


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


def _warehouse(request: Request) -> Warehouse:
    wh: Warehouse | None = request.app.state.warehouse
    if wh is None:
        raise ApiError(
            503,
            message_vi="Kho phân tích chưa mở được (đang bị tiến trình khác dùng?); thử lại sau.",
            message_en="The analytics store could not be opened (in use by another process?); "
            "retry later.",
        )
    settings: Settings = request.app.state.settings
    if settings.warehouse_refresh_seconds > 0 and not getattr(request.app.state, "_polling", 0):
        request.app.state._polling = 1
        source = store_source(settings)
        if source is not None:
            wh.start_polling(source, settings.warehouse_refresh_seconds)
    return wh


def _engine(request: Request) -> AnalyticsEngine:
    return _warehouse(request).engine


def _code(value: str | None, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not _CODE.fullmatch(value):
        raise ApiError(
            422,
            message_vi=f"Giá trị của tham số {name} không hợp lệ.",
            message_en=f"Invalid value for {name}.",
            details={"parameter": name},
        )
    return value


def _date(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        found = date.fromisoformat(value)
        if not FIRST_DAY <= found <= LAST_DAY:
            raise ValueError(value)
        return found
    except ValueError:
        raise ApiError(
            422,
            message_vi=f"Tham số {name} phải là ngày dạng YYYY-MM-DD.",
            message_en=f"{name} must be a date, YYYY-MM-DD.",
            details={"parameter": name, "value": value[:40]},
        ) from None


def filters_from(request: Request, principal: Principal) -> Filters:
    q = request.query_params
    d_from, d_to = _date(q.get("from"), "from"), _date(q.get("to"), "to")
    if d_from is None or d_to is None:
        # Default: the last twelve months of data (or of the calendar when there is none).
        found = kcb.data_range(_engine(request), principal.scope)
        end = found[1] if found else date.today()
        d_to = d_to or end
        d_from = d_from or max(
            found[0] if found else d_to, d_to.replace(day=1) - timedelta(days=334)
        ).replace(day=1)
    if d_from > d_to:
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
    tier = _code(q.get("tier"), "tier")
    if tier is not None and tier not in TIERS:
        raise ApiError(422, details={"parameter": "tier", "allowed": list(TIERS)})
    loai = _code(q.get("loai_kcb"), "loai_kcb")
    if loai is not None and loai.isascii() and loai.isdigit():
        loai = loai.zfill(2)
    return Filters(
        d_from,
        d_to,
        commune=_code(q.get("commune"), "commune"),
        facility=_code(q.get("facility"), "facility"),
        tier=tier,
        loai_kcb=loai,
    )


def _lang(request: Request) -> str:
    return i18n.lang_of(request.query_params.get("lang"))


def _page(request: Request, template: str, principal: Principal, **extra: Any) -> Response:
    lang = _lang(request)
    eng = _engine(request)
    flt = filters_from(request, principal)
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
            **extra,
        },
    )


def _on_submission(request: Request, _principal: Principal, _receipt: dict[str, Any]) -> None:
    if request.app.state.warehouse is not None and (
        request.app.state.settings.warehouse_refresh_seconds > 0
    ):
        _warehouse(request).wake()


def install(app: FastAPI, settings: Settings) -> None:
    try:
        app.state.warehouse = Warehouse(settings)
    except duckdb.IOException:
        # e.g. `khoyte warehouse rebuild` holds the file: serve 503 until restarted
        log.exception("cannot open the warehouse %s", settings.duckdb_path)
        app.state.warehouse = None
    app.state.after_submission.append(_on_submission)
    if app.state.warehouse is not None:
        app.router.on_shutdown.append(app.state.warehouse.stop_polling)
        app.router.on_shutdown.append(lambda: setattr(app.state, "_polling", 0))
    if settings.open_dashboard:
        app.state.authenticators.append(open_dashboard_authenticator)

    @app.get("/", include_in_schema=False)
    def home(request: Request, principal: View) -> Response:
        query = request.url.query
        return RedirectResponse("/kcb" + (f"?{query}" if query else ""), status_code=303)

    @app.get("/kcb", include_in_schema=False)
    def kcb_page(request: Request, principal: View) -> Response:
        return _page(request, "kcb.html", principal, page="kcb")

    @app.get("/completeness", include_in_schema=False)
    def completeness_page(request: Request, principal: Quality) -> Response:
        return _page(request, "completeness.html", principal, page="completeness")

    @app.get("/api/v1/dashboards/kcb", tags=["dashboards"])
    def kcb_twin(request: Request, principal: View) -> dict[str, Any]:
        """Bảng điều khiển KCB / the KCB dashboard's numbers (docs/warehouse.md)."""
        return kcb.kcb(_engine(request), principal.scope, filters_from(request, principal))

    @app.get("/api/v1/dashboards/kcb/daily", tags=["dashboards"])
    def kcb_daily(request: Request, principal: View) -> dict[str, Any]:
        """Lượt KCB theo ngày, cùng kỳ năm trước / visits per day with last year's."""
        flt = filters_from(request, principal)
        return {
            "period": {"from": flt.date_from.isoformat(), "to": flt.date_to.isoformat()},
            "filters": flt.as_dict(),
            "daily": kcb.q_daily(_engine(request), principal.scope, flt),
        }

    @app.get("/api/v1/dashboards/kcb/breakdown", tags=["dashboards"])
    def kcb_breakdown(request: Request, principal: View, by: str = "commune") -> dict[str, Any]:
        """Theo xã hoặc theo cơ sở / by commune or by facility (the drill-down table)."""
        if by not in ("commune", "facility"):
            raise ApiError(422, details={"parameter": "by", "allowed": ["commune", "facility"]})
        flt = filters_from(request, principal)
        return {
            "period": {"from": flt.date_from.isoformat(), "to": flt.date_to.isoformat()},
            "filters": flt.as_dict(),
            "by": by,
            "rows": kcb.q_breakdown(_engine(request), principal.scope, flt, by),
        }

    @app.get("/api/v1/dashboards/completeness", tags=["dashboards"])
    def completeness_twin(
        request: Request, principal: Quality, unit: str = "day", grid: bool | None = None
    ) -> dict[str, Any]:
        """Tính đầy đủ, kịp thời / completeness and timeliness by facility and day or month."""
        if unit not in ("day", "month"):
            raise ApiError(422, details={"parameter": "unit", "allowed": ["day", "month"]})
        return comp.completeness(
            _engine(request),
            principal.scope,
            filters_from(request, principal),
            settings.silent_days,
            unit,
            grid,
        )

    @app.get("/api/v1/dashboards/kcb/export.{fmt}", tags=["dashboards"])
    def kcb_export(
        request: Request, fmt: str, principal: Export, table: str = "summary"
    ) -> Response:
        """Xuất bảng / one table of the KCB dashboard as XLSX or CSV."""
        flt = filters_from(request, principal)
        return export.respond(
            export.kcb_table(_engine(request), principal.scope, flt, table, _lang(request)),
            flt,
            fmt,
            _lang(request),
        )

    @app.get("/api/v1/dashboards/completeness/export.{fmt}", tags=["dashboards"])
    def completeness_export(request: Request, fmt: str, principal: Export) -> Response:
        """Xuất bảng tính đầy đủ / the completeness table as XLSX or CSV."""
        if Permission.DATA_QUALITY not in principal.permissions:
            raise ApiError(403)
        flt = filters_from(request, principal)
        data = comp.completeness(_engine(request), principal.scope, flt, settings.silent_days)
        return export.respond(
            export.completeness_table(data, _lang(request)), flt, fmt, _lang(request)
        )

    @app.get("/static/{path:path}", include_in_schema=False)
    def static(path: str, principal: Public) -> Response:
        target = (STATIC / path).resolve()
        if not target.is_file() or STATIC.resolve() not in target.parents:
            raise ApiError(404)
        return FileResponse(target, headers={"Cache-Control": "public, max-age=3600"})
