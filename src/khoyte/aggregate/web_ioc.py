"""HTTP: the IOC dashboards of groups 4–8 (issue 13, item 6) — ``/ioc/{group}`` pages and their
JSON twins ``/api/v1/ioc/{group}``, defined by ``ioc.toml``. Scoped like every dashboard (an org
unit outside the caller's scope answers 404); ``approved_only`` counts approved reports only."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from khoyte import i18n
from khoyte.access import Permission, Principal, deny_out_of_scope, requires
from khoyte.aggregate import ioc, ioc_claims, quality, residence, store, targets
from khoyte.aggregate.metadata import Group, Metadata, load
from khoyte.aggregate.models import AggReport, AggValue
from khoyte.aggregate.quality_report import registry_province
from khoyte.aggregate.schemas import IocGroupOut, IocTwin
from khoyte.analytics.disclosure import small_for
from khoyte.deps import ServicesDep, SettingsDep
from khoyte.errors import ERROR_RESPONSES, ApiError
from khoyte.layout import TEMPLATES as templates
from khoyte.registry import adminunits
from khoyte.registry.models import Facility
from khoyte.services import Services
from khoyte.store.db import session_scope

router = APIRouter(responses=ERROR_RESPONSES)
View = Annotated[Principal, Depends(requires(Permission.VIEW_DASHBOARD))]
MonthQ = Annotated[
    str | None, Query(description="YYYY-MM", max_length=7, pattern=r"^(\d{4}-\d{2})?$")
]
UnitQ = Annotated[str | None, Query(description="mã tỉnh, xã hoặc cơ sở / org unit", max_length=16)]
ApprovedQ = Annotated[bool, Query(description="true: chỉ báo cáo đã duyệt / approved reports only")]
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
MAX_MONTHS = 120


def _group(code: str) -> Group:
    g = load().groups.get(code)
    if g is None:
        raise ApiError(404, message_vi=f"Không có nhóm {code}.", message_en=f"No group {code}.")
    return g


def _month(text: str | None, what: str) -> str | None:
    if not text:
        return None
    m = _MONTH.fullmatch(text)
    if m is None:
        raise ApiError(422, message_vi="Tháng không hợp lệ (YYYY-MM).",
                       message_en="Invalid month (YYYY-MM).", details={what: text})  # fmt: skip
    return m.group(1) + m.group(2)


def _months(a: str, b: str) -> tuple[str, ...]:
    out: list[str] = []
    y, m = int(a[:4]), int(a[4:])
    while f"{y:04d}{m:02d}" <= b and len(out) <= MAX_MONTHS:
        out.append(f"{y:04d}{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    if not out or len(out) > MAX_MONTHS:
        raise ApiError(422, message_vi="Khoảng tháng không hợp lệ (tối đa 120 tháng).",
                       message_en="Invalid range of months (at most 120).")  # fmt: skip
    return tuple(out)


def _elements(md: Metadata, g: Group) -> set[str]:
    return {
        e
        for p in g.panels
        if p.kind == "indicator"
        for e in quality.refs(md.indicators[p.code].numerator)
        | quality.refs(md.indicators[p.code].denominator)
    }


def _data_range(s: Session, md: Metadata, g: Group, services: Services) -> tuple[str, str]:
    """The default months: from January of the last month with the group's aggregate values (or
    claims) — or from its first month with data, when later — to that last month."""
    q = select(func.min(AggValue.period), func.max(AggValue.period)).where(
        AggValue.data_element.in_(_elements(md, g)), func.length(AggValue.period) == 6
    )
    first, last = s.execute(q).one()
    if last is None and services.warehouse is not None:
        rows = services.warehouse.engine.query("SELECT MIN(ngay_vao), MAX(ngay_vao) FROM agg_month")
        if rows and rows[0][1] is not None:
            first, last = (str(x)[:7].replace("-", "") for x in rows[0])
    if last is None:
        first = last = services.clock().strftime("%Y%m")
    return max(str(first), f"{str(last)[:4]}01"), str(last)


def selection(
    s: Session,
    md: Metadata,
    g: Group,
    principal: Principal,
    services: Services,
    small: int,
    date_from: str | None,
    date_to: str | None,
    orgunit: str | None,
    approved_only: bool,
) -> ioc.Selection:
    first, last = _data_range(s, md, g, services)
    end = _month(date_to, "to") or last
    start = _month(date_from, "from") or (first if first <= end else f"{end[:4]}01")
    months = _months(start, end)
    units = store.known_orgunits(s)
    province = registry_province(s)
    scope = principal.scope
    names = {c: n for c, (n, _) in adminunits.communes().items() if c in units}
    names.update(dict(s.execute(select(Facility.code, Facility.name)).all()))
    names[province] = adminunits.provinces().get(province, province)
    if orgunit in (None, "") or (orgunit == province and scope.province):
        level = "province" if scope.province else "scope"
        code = province if scope.province else ""
    else:
        unit = units.get(orgunit)
        if unit is None or not store.allowed(scope, orgunit, unit):
            deny_out_of_scope(principal, f"orgunit:{orgunit}")
        level, code = unit[0], orgunit
    papers = any(p.kind == "papers" for p in g.panels)  # placed by residence (XML12)
    return ioc.Selection(months, code, level, province, scope, approved_only, small, units, names,
                         targets=targets.effective(s, md),
                         residence=residence.load(s) if papers else residence.Residence())  # fmt: skip


def twin(
    s: Session, services: Services, md: Metadata, g: Group, sel: ioc.Selection
) -> dict[str, Any]:
    panels = []
    for p in g.panels:
        if p.kind == "indicator":
            panels.append(ioc.indicator_panel(s, md, p, sel))
        elif services.warehouse is not None:
            eng = services.warehouse.engine
            if p.kind == "claims":
                panels.append(ioc_claims.claims_panel(eng, md, p, sel))
            elif p.kind == "papers":
                panels.append(ioc_claims.papers_panel(eng, md, p, sel))
            else:
                panels.append(ioc_claims.service_groups_panel(eng, sel))
    datasets = {d for p in panels for d in p["datasets"]}
    units = {
        (d, u) for d in datasets for u in ioc.units_of(sel, md.datasets[d].orgunit_level)
    }  # the reports the panels read: the data sets' org units in the selection
    q = select(AggReport.dataset, AggReport.orgunit, AggReport.level).where(
        AggReport.dataset.in_(sorted(datasets)), AggReport.period.in_(sel.months)
    )
    counted = [lv is not None for d, ou, lv in s.execute(q) if (d, ou) in units]
    name = (
        sel.names.get(sel.orgunit, sel.orgunit)
        if sel.orgunit
        else "Phạm vi được giao / assigned scope"
    )
    return {
        "group": g.code, "number": g.number, "name_vi": g.name_vi, "name_en": g.name_en,
        "source_vi": g.source_vi, "source_en": g.source_en,
        "period": {"from": f"{sel.months[0][:4]}-{sel.months[0][4:]}",
                   "to": f"{sel.months[-1][:4]}-{sel.months[-1][4:]}"},
        "orgunit": {"code": sel.orgunit or None, "name": name, "level": sel.level},
        "approval": {"approved_only": sel.approved_only, "reports": len(counted),
                     "approved": sum(counted)},
        "panels": panels, "suppressed_below": sel.small, "metadata_version": md.version,
    }  # fmt: skip


@router.get("/api/v1/ioc", tags=["dashboards"])
def ioc_groups(_: View) -> list[IocGroupOut]:
    """Các nhóm IOC / the IOC dashboards (groups 4–8 of seed 000), from ``ioc.toml``."""
    return [IocGroupOut(code=g.code, number=g.number, name_vi=g.name_vi, name_en=g.name_en)
            for g in load().groups.values()]  # fmt: skip


@router.get("/api/v1/ioc/{group}", response_model=IocTwin, tags=["dashboards"])
def ioc_twin(
    group: str,
    principal: View,
    services: ServicesDep,
    settings: SettingsDep,
    date_from: Annotated[MonthQ, Query(alias="from")] = None,
    date_to: Annotated[MonthQ, Query(alias="to")] = None,
    orgunit: UnitQ = None,
    approved_only: ApprovedQ = False,
) -> dict[str, Any]:
    """Một nhóm IOC: thực hiện so với kế hoạch theo tháng và theo đơn vị / one IOC group: actual
    against plan by month and by org unit (docs/aggregate.md)."""
    md, g = load(), _group(group)
    with session_scope(services.sessions) as s:
        sel = selection(s, md, g, principal, services, small_for(principal, settings),
                        date_from, date_to, orgunit, approved_only)  # fmt: skip
        return twin(s, services, md, g, sel)


@router.get("/ioc", include_in_schema=False)
def ioc_home(request: Request, principal: View) -> Response:
    first = next(iter(load().groups))
    query = request.url.query
    return RedirectResponse(f"/ioc/{first}" + (f"?{query}" if query else ""), status_code=303)


@router.get("/ioc/{group}", include_in_schema=False)
def ioc_page(
    request: Request,
    group: str,
    principal: View,
    services: ServicesDep,
    date_from: Annotated[MonthQ, Query(alias="from")] = None,
    date_to: Annotated[MonthQ, Query(alias="to")] = None,
    orgunit: UnitQ = None,
    approved_only: ApprovedQ = False,
) -> Response:
    md, g = load(), _group(group)
    lang = i18n.lang_of(request.query_params.get("lang"))
    with session_scope(services.sessions) as s:
        sel = selection(s, md, g, principal, services, 0, date_from, date_to, orgunit,
                        approved_only)  # fmt: skip
        communes = [
            {"code": c, "name": n}
            for c, n in adminunits.communes_of(sel.province)
            if store.allowed(sel.scope, c, ("commune", c))
        ]
        facilities = [
            {"code": c, "name": sel.names.get(c, c), "commune": lv[1] or ""}
            for c, lv in sorted(sel.units.items())
            if lv[0] == "facility" and store.allowed(sel.scope, c, lv)
        ]
    flt = {"from": f"{sel.months[0][:4]}-{sel.months[0][4:]}",
           "to": f"{sel.months[-1][:4]}-{sel.months[-1][4:]}",
           "orgunit": sel.orgunit if sel.level in ("commune", "facility") else "",
           "approved_only": "true" if approved_only else ""}  # fmt: skip
    query = {k: v for k, v in flt.items() if v} | ({"lang": "en"} if lang == "en" else {})

    def without(key: str, **extra: str) -> str:
        return "?" + urlencode({k: v for k, v in query.items() if k != key} | extra)

    links = {"orgunit": without("orgunit"),
             "approved": without("approved_only", **({} if approved_only else {"approved_only": "true"}))}  # fmt: skip
    config = {"lang": lang, "t": i18n.texts(lang), "group": g.code, "filters": flt,
              "province": sel.province}  # fmt: skip
    tabs = [(code, x.number, i18n.pair((x.name_vi, x.name_en), lang),
             f"/ioc/{code}?{urlencode(query)}")
            for code, x in md.groups.items()]  # fmt: skip
    return templates.TemplateResponse(
        request,
        "aggregate/ioc.html",
        {"lang": lang, "t": config["t"], "group": g, "config": config, "flt": flt, "tabs": tabs,
         "links": links,
         "targets_href": "/aggregate/targets?" + urlencode(
             {"year": flt["to"][:4], **({"orgunit": flt["orgunit"]} if flt["orgunit"] else {}),
              **({"lang": "en"} if lang == "en" else {})}),
         "communes": communes, "facilities": facilities, "sel": sel,
         "unit_name": sel.names.get(sel.orgunit, "") if flt["orgunit"] else "",
         "title": i18n.pair((g.name_vi, g.name_en), lang)},
    )  # fmt: skip
