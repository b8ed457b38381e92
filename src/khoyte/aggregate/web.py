"""HTTP: the statutory forms (``/api/v1/forms``), uploads of aggregate files and DHIS2's
``dataValueSets`` (issue 13). Scoped like the dashboards: a caller sees and writes only the
org units of their scope; asking for another answers 404."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from khoyte.access import Permission, Principal, deny_out_of_scope, requires
from khoyte.aggregate import (
    dhis2,
    form_claims,
    forms,
    importer,
    periods,
    residence,
    store,
    workbook,
)
from khoyte.aggregate.metadata import Form, load
from khoyte.deps import EngineDep, ServicesDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.registry import adminunits
from khoyte.services import Services
from khoyte.store.db import session_scope
from khoyte.warehouse.engine import AnalyticsEngine

router = APIRouter(responses=ERROR_RESPONSES, tags=["aggregate"])
View = Annotated[Principal, Depends(requires(Permission.VIEW_DASHBOARD))]
Export = Annotated[Principal, Depends(requires(Permission.EXPORT))]
Enter = Annotated[Principal, Depends(requires(Permission.ENTER_AGGREGATE))]
PeriodQ = Annotated[str, Query(description="2025 | 2025Q1 | 202501", max_length=16)]
UnitQ = Annotated[str | None, Query(description="mã tỉnh, xã hoặc cơ sở / org unit", max_length=16)]
MAX_UPLOAD = 64 * 1024 * 1024


def _form(code: str) -> Form:
    form = load().forms.get(code)
    if form is None:
        raise ApiError(404, message_vi=f"Không có biểu {code}.", message_en=f"No form {code}.")
    return form


def _period(text: str) -> periods.Period:
    try:
        return periods.parse(text)
    except periods.PeriodError:
        raise ApiError(
            422,
            message_vi="Kỳ báo cáo không hợp lệ (2025, 2025Q1 hoặc 202501).",
            message_en="Invalid period (2025, 2025Q1 or 202501).",
            details={"period": text},
        ) from None


def province_of(eng: AnalyticsEngine) -> str:
    """The province the warehouse serves: the one most of its facilities are in."""
    got = Counter(str(r[0]) for r in eng.query("SELECT ma_tinh FROM dim_facility") if r[0])
    return got.most_common(1)[0][0] if got else ""


def resolve(
    eng: AnalyticsEngine, principal: Principal, orgunit: str | None
) -> tuple[str, str, forms.Target]:
    """(org unit code, its name, target) of a request; 404 outside the caller's scope."""
    province = province_of(eng)
    scope = principal.scope
    if orgunit is None or orgunit == province:
        if orgunit is not None and not scope.province:
            deny_out_of_scope(principal, f"orgunit:{orgunit}")
        name = adminunits.provinces().get(province, province)
        if scope.province:
            return province, name, forms.Target()
        return "", "Phạm vi được giao / assigned scope", forms.Target()
    communes = adminunits.communes()
    if orgunit in communes:
        if not store.allowed(scope, orgunit, ("commune", orgunit)):
            deny_out_of_scope(principal, f"orgunit:{orgunit}")
        return orgunit, communes[orgunit][0], forms.Target(commune=orgunit)
    row = eng.query("SELECT ten, ma_xa FROM dim_facility WHERE ma_cskcb = ?", [orgunit])
    if not row or not store.allowed(scope, orgunit, ("facility", row[0][1])):
        deny_out_of_scope(principal, f"orgunit:{orgunit}")
    return orgunit, str(row[0][0] or orgunit), forms.Target(facility=orgunit)


@router.get("/api/v1/forms")
def list_forms(_: View) -> list[dict[str, str]]:
    """The statutory forms (biểu mẫu) of the regime in force."""
    return [
        {"code": f.code, "name_vi": f.name_vi, "name_en": f.name_en, "period_type": f.period_type}
        for f in load().forms.values()
    ]


def _filled(
    eng: AnalyticsEngine,
    services: Services,
    principal: Principal,
    code: str,
    period: str,
    orgunit: str | None,
) -> tuple[Form, periods.Period, str, str, list[dict[str, Any]]]:
    form = _form(code)
    p = _period(period)
    unit, name, target = resolve(eng, principal, orgunit)
    with session_scope(services.sessions) as s:
        collected = form_claims.collected_values(
            s, principal.scope, form, p, target.commune or target.facility
        )
        places = residence.load(s)
    cells = forms.cells(eng, principal.scope, code, p, target, collected, places)
    return form, p, unit, name, cells


@router.get("/api/v1/forms/{form}.xlsx")
def form_xlsx(
    form: str,
    period: PeriodQ,
    eng: EngineDep,
    services: ServicesDep,
    principal: Export,
    orgunit: UnitQ = None,
) -> Response:
    """The form as an official-layout workbook, with a sheet saying where each number came from."""
    spec, p, unit, name, cells = _filled(eng, services, principal, form, period, orgunit)
    label = unit or ",".join(sorted(principal.scope.communes | principal.scope.facilities))
    data = workbook.render(spec, cells, p, name, label, services.clock())
    return Response(
        data,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{spec.code}_{p.iso}.xlsx"'},
    )


@router.get("/api/v1/forms/{form}")
def form_json(
    form: str,
    period: PeriodQ,
    eng: EngineDep,
    services: ServicesDep,
    principal: View,
    orgunit: UnitQ = None,
) -> dict[str, Any]:
    """Every cell of the form with its value and source (empty for forms khoyte cannot fill):
    claims rows from the warehouse, collected rows from the stored aggregates."""
    spec, p, unit, _, cells = _filled(eng, services, principal, form, period, orgunit)
    return {"form": spec.code, "period": p.iso, "orgunit": unit or None, "cells": cells}


async def _body(request: Request) -> bytes:
    data = await request.body()
    if len(data) > MAX_UPLOAD:
        raise ApiError(413)
    return data


@router.post("/api/v1/aggregate/uploads")
async def upload(request: Request, services: ServicesDep, principal: Enter) -> dict[str, Any]:
    """An aggregate file (CSV or XLSX in the synth's layout) as the request body; all-or-nothing,
    answered with a receipt naming sheet, row, column and value of every problem."""
    data = await _body(request)
    name = request.headers.get("x-filename", "upload")[:255]
    fmt, cells, problems = importer.read(data, name)
    with session_scope(services.sessions) as s:
        return store.store(s, cells, problems, data=data, filename=name, fmt=fmt,
                           who=principal.name, now=services.clock(), scope=principal.scope)  # fmt: skip


@router.get("/api/v1/dataValueSets")
def data_value_sets(
    request: Request,
    services: ServicesDep,
    principal: View,
    dataSet: Annotated[str, Query(max_length=64)],
    period: PeriodQ,
    orgUnit: UnitQ = None,
) -> Response:
    """Values of a data set for a period (and org unit) in DHIS2's JSON, CSV (``Accept:
    text/csv``) or ADX (``Accept: application/adx+xml``)."""
    md = load()
    ds = md.datasets.get(dataSet)
    if ds is None:
        raise ApiError(
            404, message_vi=f"Không có bộ dữ liệu {dataSet}.", message_en=f"No data set {dataSet}."
        )
    p = _period(period)
    with session_scope(services.sessions) as s:
        units = store.known_orgunits(s)
        values = store.read(s, elements=set(ds.elements), period_list=[m.iso for m in p.months()] + [p.iso],
                            orgunits={orgUnit} if orgUnit else None)  # fmt: skip
    values = [
        v
        for v in values
        if v.orgunit in units and store.allowed(principal.scope, v.orgunit, units[v.orgunit])
    ]
    accept = request.headers.get("accept", "")
    if "adx" in accept:
        return Response(dhis2.to_adx(values, dataSet, md), media_type="application/adx+xml")
    if "text/csv" in accept or "application/csv" in accept:
        return Response(dhis2.to_csv(values, md), media_type="text/csv; charset=utf-8")
    return Response(dhis2.to_json(values, dataSet, md), media_type="application/json")


@router.post("/api/v1/dataValueSets")
async def post_data_value_sets(
    request: Request, services: ServicesDep, principal: Enter
) -> dict[str, Any]:
    """DHIS2's ``dataValueSets`` import (JSON, CSV or ADX by ``Content-Type``), answered with
    DHIS2's import summary (``status``, ``importCount``, ``conflicts``)."""
    data = await _body(request)
    kind = request.headers.get("content-type", "application/json")
    fmt, cells, problems = dhis2.read(data, kind, load())
    with session_scope(services.sessions) as s:
        receipt = store.store(s, cells, problems, data=data, filename="dataValueSets", fmt=fmt,
                              who=principal.name, now=services.clock(), scope=principal.scope)  # fmt: skip
    return dhis2.import_summary(receipt)
