"""HTTP: the web data-entry form of aggregate reports (issue 13, item 3). Permission and scope as
uploads (``enter_aggregate``, org units of the caller's scope; another answers 404); a locked
(approved) report answers 409 and nothing is stored; every save is audited."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte import i18n
from khoyte.access import Permission, Principal, deny_out_of_scope, requires
from khoyte.aggregate import entry, periods, store
from khoyte.aggregate.metadata import DataSet, load
from khoyte.aggregate.quality_report import registry_province
from khoyte.aggregate.schemas import EntryIn, EntryOut, EntrySavedOut
from khoyte.aggregate.web import _period
from khoyte.aggregate.web_quality import _dataset, _ip
from khoyte.deps import ServicesDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.layout import TEMPLATES as templates
from khoyte.registry import adminunits
from khoyte.registry.models import Facility
from khoyte.store.db import session_scope

router = APIRouter(responses=ERROR_RESPONSES, tags=["aggregate"])
Enter = Annotated[Principal, Depends(requires(Permission.ENTER_AGGREGATE))]


def _report_key(
    s: Session, principal: Principal, data_set: str, period: str, orgunit: str
) -> tuple[DataSet, periods.Period]:
    ds = _dataset(data_set)
    p = _period(period)
    if p.kind != ds.period_type:
        raise ApiError(422, message_vi="Kỳ báo cáo khác kỳ của bộ dữ liệu.",
                       message_en="The period type differs from the data set's.")  # fmt: skip
    unit = store.known_orgunits(s).get(orgunit)
    if unit is None or unit[0] != ds.orgunit_level:
        raise ApiError(404, message_vi=f"Không có đơn vị {orgunit} của bộ dữ liệu này.",
                       message_en=f"No org unit {orgunit} for this data set.")  # fmt: skip
    if not store.allowed(principal.scope, orgunit, unit):
        deny_out_of_scope(principal, f"orgunit:{orgunit}")
    return ds, p


@router.get("/api/v1/aggregate/entry")
def entry_form(
    services: ServicesDep,
    principal: Enter,
    dataSet: Annotated[str, Query(max_length=64)],
    period: Annotated[str, Query(description="2025 | 2025Q1 | 202501", max_length=16)],
    orgUnit: Annotated[str, Query(max_length=16)],
) -> EntryOut:
    """Một báo cáo để nhập / one report to enter: each cell with its value, last period's and
    the min–max of the earlier periods; ``locked`` when approved."""
    with session_scope(services.sessions) as s:
        ds, p = _report_key(s, principal, dataSet, period, orgUnit)
        return EntryOut.model_validate(entry.report(s, load(), ds, p, orgUnit))


@router.post("/api/v1/aggregate/entry")
def entry_save(
    request: Request, body: EntryIn, services: ServicesDep, principal: Enter
) -> EntrySavedOut:
    """Lưu các ô của một báo cáo / save cells of one report (autosave), all-or-nothing: 409
    when the report is locked, 422 naming every bad cell; audited (``aggregate.entry``)."""
    values = [(v.dataElement, v.categoryOptionCombo, v.value) for v in body.values]
    with session_scope(services.sessions) as s:
        ds, p = _report_key(s, principal, body.dataSet, body.period, body.orgUnit)
        receipt = entry.save(s, ds, p, body.orgUnit, values, principal, _ip(request),
                             services.clock())  # fmt: skip
    problems = receipt["problems"]
    if any(x["code"] == "locked" for x in problems):
        raise ApiError(409, code="locked", message_vi=problems[0]["message_vi"],
                       message_en=problems[0]["message_en"], details={"problems": problems})  # fmt: skip
    if problems:
        raise ApiError(422, message_vi="Có ô không hợp lệ; không lưu ô nào.",
                       message_en="Some cells are invalid; nothing was stored.",
                       details={"problems": problems})  # fmt: skip
    return EntrySavedOut(status=receipt["status"], importCount=receipt["importCount"],
                         problems=[])  # fmt: skip


PICKER = {"month": 36, "quarter": 12, "year": 6}  # how many periods the picker offers


def period_choices(today: date, lang: str) -> dict[str, list[dict[str, str]]]:
    """The periods of each type up to the current one, newest first (the page's picker)."""
    out: dict[str, list[dict[str, str]]] = {k: [] for k in PICKER}
    y, m = today.year, today.month
    for _ in range(PICKER["month"]):
        out["month"].append({"code": f"{y}{m:02d}",
                             "label": f"{m:02d}/{y}" if lang == "en" else f"Tháng {m:02d}/{y}"})  # fmt: skip
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    y, q = today.year, (today.month - 1) // 3 + 1
    for _ in range(PICKER["quarter"]):
        out["quarter"].append({"code": f"{y}Q{q}",
                               "label": f"Q{q} {y}" if lang == "en" else f"Quý {q}/{y}"})  # fmt: skip
        y, q = (y - 1, 4) if q == 1 else (y, q - 1)
    out["year"] = [{"code": str(today.year - i), "label": str(today.year - i)}
                   for i in range(PICKER["year"])]  # fmt: skip
    return out


def orgunit_choices(s: Session, principal: Principal) -> list[dict[str, str]]:
    """The org units the caller may enter for, with their level."""
    province = registry_province(s)
    scope = principal.scope
    out = []
    if scope.province:
        out.append({"code": province, "level": "province",
                    "name": adminunits.provinces().get(province, province)})  # fmt: skip
    out += [
        {"code": c, "level": "commune", "name": n}
        for c, n in adminunits.communes_of(province)
        if store.allowed(scope, c, ("commune", c))
    ]
    q = select(Facility.code, Facility.name, Facility.commune).where(Facility.province == province)
    out += [
        {"code": c, "level": "facility", "name": f"{c} — {n}"}
        for c, n, x in s.execute(q.order_by(Facility.code))
        if store.allowed(scope, c, ("facility", x))
    ]
    return out


@router.get("/aggregate/entry", include_in_schema=False)
def entry_page(
    request: Request,
    services: ServicesDep,
    principal: Enter,
    dataSet: Annotated[str | None, Query(max_length=64)] = None,
    period: Annotated[str | None, Query(max_length=16)] = None,
    orgUnit: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    lang = i18n.lang_of(request.query_params.get("lang"))
    md = load()
    with session_scope(services.sessions) as s:
        units = orgunit_choices(s, principal)
        chosen: dict[str, Any] = {}
        if dataSet and period and orgUnit:
            ds, p = _report_key(s, principal, dataSet, period, orgUnit)
            chosen = {"dataSet": ds.code, "period": p.iso, "orgUnit": orgUnit,
                      "period_type": ds.period_type}  # fmt: skip
    datasets = [
        {"code": d.code, "name": i18n.pair((d.name_vi, d.name_en), lang),
         "period_type": d.period_type, "level": d.orgunit_level}
        for d in md.datasets.values()
    ]  # fmt: skip
    periods_by_type = period_choices(services.clock().date(), lang)
    # the level the caller approves at (the approval API's rule), when they may approve
    approve_level = (("province" if principal.scope.province else "commune")
                     if Permission.APPROVE_AGGREGATE in principal.permissions else None)  # fmt: skip
    config = {"lang": lang, "t": i18n.texts(lang), "chosen": chosen,
              "periods": periods_by_type, "approve_level": approve_level}  # fmt: skip
    kind = chosen.get("period_type") or next(iter(md.datasets.values())).period_type
    if chosen and all(x["code"] != chosen["period"] for x in periods_by_type[kind]):
        periods_by_type[kind].insert(0, {"code": chosen["period"], "label": chosen["period"]})
    return templates.TemplateResponse(
        request,
        "aggregate/entry.html",
        {"lang": lang, "t": config["t"], "config": config, "datasets": datasets, "units": units,
         "chosen": chosen, "title": i18n.texts(lang)["nav_entry"],
         "period_choices": periods_by_type[kind]},
    )  # fmt: skip
