"""The epidemic page (``/epidemic``) and its JSON twin ``GET /api/v1/signals``.

Both read :func:`khoyte.surveillance.overview.overview`: every signal over time with its
expected value, upper bound and alarms (the documented algorithm per signal, the alert cycle's
verdicts), and the communes ranked by excess. Permission ``alerts`` (epidemic watch: the
people who receive the alerts these numbers raise), filtered by the caller's scope like the
dashboards. Counts are exact, as in the alerts themselves: surveillance needs the ones and
twos, and the callers are the ones who act on them (docs/surveillance.md).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from khoyte import i18n
from khoyte.access import Permission, Principal, requires
from khoyte.analytics import export, kcb
from khoyte.analytics.disclosure import small_for
from khoyte.analytics.filters import Filters
from khoyte.deps import ServicesDep, WarehouseDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.layout import TEMPLATES
from khoyte.services import Services
from khoyte.surveillance import export as sv_export
from khoyte.surveillance.detect import commune_map
from khoyte.surveillance.overview import RangeError, Window, overview, window
from khoyte.surveillance.signals import load_signals
from khoyte.warehouse.service import Warehouse

router = APIRouter(responses=ERROR_RESPONSES)
Watch = Annotated[Principal, Depends(requires(Permission.ALERTS))]
Export = Annotated[Principal, Depends(requires(Permission.EXPORT))]
SIGNAL_CODES = tuple(s.code for s in load_signals())


class Point(BaseModel):
    period: date = Field(description="first day of the day or ISO week")
    label: str = Field(description="2025-W07 (weeks) or the date (days)")
    observed: int
    expected: float | None = Field(description="baseline; null where the algorithm gives none")
    upperbound: float | None = Field(description="alarm threshold; null: not judged")
    alarm: bool | None = Field(description="observed above the bound; null: not judged")
    algorithm: str | None = Field(description="what ran for this period (history permitting)")


class SignalSeries(BaseModel):
    code: str
    name_vi: str
    name_en: str
    algorithm: str = Field(description="the documented algorithm for this frequency")
    params: dict[str, str] = Field(description="R `surveillance` parameter names and values")
    points: list[Point]
    alarms: int = Field(description="periods with an alarm in the range")


class CommuneExcess(BaseModel):
    signal: str
    commune: str = Field(description="residence commune (2025 code)")
    commune_name: str | None
    period: date
    label: str
    observed: int
    expected: float | None
    upperbound: float
    excess: float = Field(description="observed − upper bound (> 0: above the bound)")
    alarm: bool
    algorithm: str


class Range(BaseModel):
    from_: date = Field(alias="from")
    to: date


class SignalsTwin(BaseModel):
    frequency: Literal["day", "week"]
    period: Range
    commune: str | None
    signals: list[SignalSeries]
    ranking: list[CommuneExcess] = Field(
        description="visible communes × signals judged at the last period, by excess"
    )


def _window(
    services: Services, wh: Warehouse, frequency: str, d_from: date | None, d_to: date | None
) -> Window:
    found = wh.engine.query("SELECT MAX(ngay_vao) FROM fact_episode", [])
    data_end = found[0][0] if found and found[0][0] else None
    try:
        return window(frequency, d_from, d_to, data_end, services.clock().date())
    except RangeError as exc:
        raise ApiError(422, message_vi="Khoảng thời gian không hợp lệ (tối đa 5 năm tuần hoặc "
                       "366 ngày; từ ngày phải trước đến ngày).", message_en=f"Bad range: {exc}.",
                       details={"from": str(d_from), "to": str(d_to)}) from exc  # fmt: skip


SignalParam = Annotated[str | None, Query(pattern="^[a-z_]{1,32}$", description="signal code")]
CommuneParam = Annotated[str | None, Query(pattern="^[0-9A-Za-z]{1,16}$", description="commune")]
Frequency = Annotated[Literal["day", "week"], Query()]
From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query(alias="to")]


TEXTS = {  # what the page's script writes (Vietnamese, English)
    "observed": ("Số ca", "Cases"),
    "expected": ("Kỳ vọng", "Expected"),
    "upperbound": ("Ngưỡng trên", "Upper bound"),
    "alarm": ("Báo động", "Alarm"),
    "alarms": ("báo động", "alarms"),
    "signal": ("Tín hiệu", "Signal"),
    "commune": ("Xã", "Commune"),
    "excess": ("Vượt ngưỡng", "Excess"),
    "period": ("Kỳ", "Period"),
    "algorithm": ("Thuật toán", "Algorithm"),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
    "no_data": ("Không có dữ liệu.", "No data."),
    "failed": ("Không tải được dữ liệu.", "Could not load the data."),
    "ready": ("Đã cập nhật.", "Up to date."),
}


def _check_signal(signal: str | None) -> None:
    if signal is not None and signal not in SIGNAL_CODES:
        raise ApiError(422, "unknown_signal", "Không có tín hiệu này.", "No such signal.",
                       {"signal": signal, "known": list(SIGNAL_CODES)})  # fmt: skip


@router.get("/api/v1/signals", response_model=SignalsTwin, tags=["surveillance"])
def signals_twin(
    principal: Watch,
    services: ServicesDep,
    wh: WarehouseDep,
    frequency: Frequency = "week",
    d_from: From = None,
    d_to: To = None,
    signal: SignalParam = None,
    commune: CommuneParam = None,
) -> dict[str, Any]:
    """Tín hiệu dịch theo thời gian, kỳ vọng, ngưỡng, báo động và xã xếp theo mức vượt /
    signals over time with expected values, upper bounds and alarms, and the communes ranked
    by excess (in the caller's scope)."""
    _check_signal(signal)
    win = _window(services, wh, frequency, d_from, d_to)
    return overview(wh.engine, principal.scope, win, signal=signal, commune=commune,
                    commune_map=commune_map(services))  # fmt: skip


@router.get(
    "/api/v1/signals/export.{fmt}",
    tags=["surveillance"],
    response_class=Response,
    responses={200: {"description": "XLSX hoặc CSV / the table as a file",
                     "content": {export.XLSX_TYPE: {}, "text/csv": {}}}},
)  # fmt: skip
def signals_export(
    request: Request,
    fmt: Annotated[str, Path(description="xlsx | csv (else 404)", max_length=8)],
    principal: Export,
    services: ServicesDep,
    wh: WarehouseDep,
    table: Annotated[Literal["ranking", "signals"], Query()] = "ranking",
    frequency: Frequency = "week",
    d_from: From = None,
    d_to: To = None,
    signal: SignalParam = None,
    commune: CommuneParam = None,
) -> Response:
    """Xuất bảng xã xếp theo mức vượt ngưỡng hoặc tín hiệu theo thời gian / the ranking or the
    signals as XLSX or CSV, in the caller's scope; small counts written ``< 5`` for callers
    without ``view_records`` (as every export)."""
    if Permission.ALERTS not in principal.permissions:
        raise ApiError(403)
    if fmt not in ("csv", "xlsx"):
        raise ApiError(404, details={"formats": ["xlsx", "csv"]})
    data = signals_twin(principal, services, wh, frequency, d_from, d_to, signal, commune)
    lang = i18n.lang_of(request.query_params.get("lang"))
    got = sv_export.table(data, table, lang, small_for(principal, services.settings))
    win = data["period"]
    return export.respond(got, Filters(win["from"], win["to"], commune=commune), fmt, lang)


@router.get("/epidemic", response_class=HTMLResponse, include_in_schema=False)
def epidemic_page(
    request: Request,
    principal: Watch,
    services: ServicesDep,
    wh: WarehouseDep,
    frequency: Frequency = "week",
    d_from: From = None,
    d_to: To = None,
    signal: SignalParam = None,
    commune: CommuneParam = None,
) -> Response:
    _check_signal(signal)
    lang = i18n.lang_of(request.query_params.get("lang"))
    win = _window(services, wh, frequency, d_from, d_to)
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    config = {
        "lang": lang,
        "twin": "/api/v1/signals?" + urlencode(query),
        "t": {k: v[0] if lang == "vi" else v[1] for k, v in TEXTS.items()},
    }
    exports = {}
    if Permission.EXPORT in principal.permissions:
        asked = {**query, **({"lang": "en"} if lang == "en" else {})}
        for name in sv_export.TABLES:
            for fmt in ("csv", "xlsx"):
                exports[f"{name}_{fmt}"] = f"/api/v1/signals/export.{fmt}?" + urlencode(
                    {**asked, "table": name}
                )
    return TEMPLATES.TemplateResponse(
        request,
        "surveillance/epidemic.html",
        {
            "config": config,
            "exports": exports,
            "small": small_for(principal, services.settings),
            "signals": load_signals(),
            "communes": kcb.options(wh.engine, principal.scope)["communes"],
            "chosen": {
                "frequency": frequency,
                "signal": signal or "",
                "commune": commune or "",
                "from": win.first.isoformat(),
                "to": win.end.isoformat(),
            },
        },
    )
