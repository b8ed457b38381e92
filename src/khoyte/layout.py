"""One layout for every page a person sees: one Jinja environment, one header, one stylesheet.

Every page template extends ``base.html``; the header (site name, navigation by the caller's
permissions, account, language switch, sign-out form) comes from the ``site`` variable that
this module's context processor adds to every page. Components keep their templates in their
own package (``security/templates/security/…``); the one environment finds them all.

Static files (stylesheet, scripts, vendor libraries) are served by one ``StaticFiles`` mount;
the route guard classifies such mounts as public built-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.routing import iter_route_contexts
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from starlette.staticfiles import StaticFiles

from khoyte import i18n
from khoyte.access import Permission, Principal

HERE = Path(__file__).parent
STATIC = HERE / "web" / "static"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: tuple[str, str]  # Vietnamese, English
    permission: Permission
    also: Permission | None = None  # a second permission that shows the item too


# The main navigation, in order. An item shows when the caller holds its permission and the
# application serves its path (a component that is not installed shows no link).
NAV: list[NavItem] = [
    NavItem("/kcb", i18n.WORDS["nav_kcb"], Permission.VIEW_DASHBOARD),
    NavItem("/ioc", i18n.WORDS["nav_ioc"], Permission.VIEW_DASHBOARD),
    NavItem("/completeness", i18n.WORDS["nav_completeness"], Permission.DATA_QUALITY),
    NavItem("/aggregate/entry", i18n.WORDS["nav_entry"], Permission.ENTER_AGGREGATE),
    NavItem("/quality", ("Chất lượng dữ liệu", "Data quality"), Permission.DATA_QUALITY),
    NavItem("/findings", ("Hồ sơ có lỗi", "Records with findings"), Permission.VIEW_SUBMISSIONS),
    NavItem("/epidemic", ("Giám sát dịch", "Epidemic watch"), Permission.ALERTS),
    NavItem("/alerts", ("Cảnh báo", "Alerts"), Permission.ALERTS),
    NavItem(
        "/requests",
        ("Yêu cầu báo cáo", "Report requests"),
        Permission.REQUEST_REPORTS,
        Permission.ANSWER_REPORTS,
    ),
    NavItem("/persons/review", ("Ghép hồ sơ", "Person matching"), Permission.LINK_PERSONS),
    NavItem("/admin/users", i18n.WORDS["nav_users"], Permission.ADMIN_USERS),
    NavItem("/admin/facilities", ("Cơ sở KCB", "Facilities"), Permission.ADMIN_FACILITIES),
    NavItem("/admin/alert-delivery", ("Gửi cảnh báo", "Alert delivery"), Permission.ADMIN_USERS),
    NavItem("/audit", i18n.WORDS["nav_audit"], Permission.VIEW_AUDIT),
]


@dataclass(frozen=True)
class Site:
    """What the layout needs to draw the header of one page."""

    lang: str
    t: dict[str, str]
    nav: list[tuple[str, str, bool]]  # href, label, current
    user: str | None  # the signed-in person's name
    account_href: str | None
    csrf: str | None  # sign-out form token (set by the security component's authenticator)
    sign_in_href: str | None
    lang_href: str
    home: str


def principal_of(request: Request) -> Principal | None:
    found = getattr(request.state, "principal", None)
    return found if isinstance(found, Principal) else None


def _served(app: FastAPI) -> frozenset[str]:
    """The paths the application serves (included routers stay nested: walk them)."""
    key = len(app.router.routes)
    cached: tuple[int, frozenset[str]] | None = getattr(app.state, "_layout_paths", None)
    if cached is None or cached[0] != key:
        paths = frozenset(str(rc.path) for rc in iter_route_contexts(app.router.routes))
        cached = app.state._layout_paths = (key, paths)
    return cached[1]


def _with_lang(path: str, lang: str) -> str:
    return f"{path}?lang=en" if lang == "en" else path


def site(request: Request) -> Site:
    lang = i18n.lang_of(request.query_params.get("lang"))
    principal = principal_of(request)
    perms = principal.permissions if principal else frozenset()
    served = _served(request.app)
    here = request.url.path
    nav = [
        (_with_lang(n.path, lang), i18n.pair(n.label, lang), here.startswith(n.path))
        for n in NAV
        if (n.permission in perms or n.also in perms) and n.path in served
    ]
    person = principal is not None and principal.kind == "user"
    csrf = getattr(request.state, "csrf_token", None)
    if request.method == "GET":
        other = {**request.query_params, "lang": "vi" if lang == "en" else "en"}
        lang_href = f"{here}?{urlencode(other)}"
    else:  # a form's answer: its address answers POST only, so switch on the first page
        lang_href = _with_lang(
            nav[0][0].split("?")[0] if nav else "/", "vi" if lang == "en" else "en"
        )
    signed_in = person and isinstance(csrf, str)
    return Site(
        lang=lang,
        t=i18n.texts(lang),
        nav=nav,
        user=principal.name if person and principal else None,
        account_href=_with_lang("/account", lang) if signed_in and "/account" in served else None,
        csrf=csrf if signed_in else None,
        sign_in_href=(
            f"/login?{urlencode({'next': here})}"
            if not signed_in and "/login" in served and here != "/login"
            else None
        ),
        lang_href=lang_href,
        home=nav[0][0] if nav else ("/account" if signed_in and "/account" in served else "/"),
    )


def _context(request: Request) -> dict[str, Any]:
    return {"site": site(request)}


def _date(iso: str, lang: str) -> str:
    if lang == "en" or len(iso) != 10:
        return iso
    return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}"  # dd/mm/yyyy, as Vietnamese readers write it


def selection(
    flt: dict[str, str],
    options: dict[str, list[dict[str, str]]],
    tiers: dict[str, str],
    visit_types: dict[str, str],
    lang: str,
) -> dict[str, Any]:
    """What a dashboard's filters select, by name: the chips above the page (each with a link
    that removes it) and the facility or commune the page is about."""
    t = i18n.texts(lang)
    query = {k: v for k, v in flt.items() if v}
    if lang == "en":
        query["lang"] = "en"

    def without(*keys: str) -> str:
        return "?" + urlencode({k: v for k, v in query.items() if k not in keys})

    communes = {c["code"]: c["name"] for c in options.get("communes", [])}
    facilities = {f["code"]: f for f in options.get("facilities", [])}
    chips: list[dict[str, str | None]] = [
        {
            "key": "period",
            "name": t["period"],
            "value": f"{_date(flt['from'], lang)} – {_date(flt['to'], lang)}",
            "remove": None,  # a period is always selected
        }
    ]
    commune = facility = None
    if flt.get("commune"):
        code = flt["commune"]
        commune = {"code": code, "name": communes.get(code, code)}
        chips.append({"key": "commune", "name": t["commune"], "value": commune["name"],
                      "remove": without("commune", "facility")})  # fmt: skip
    if flt.get("facility"):
        code = flt["facility"]
        found = facilities.get(code, {})
        facility = {
            "code": code,
            "name": found.get("name") or code,
            "commune_name": communes.get(found.get("commune", ""), ""),
            "tier_name": tiers.get(found.get("tier", ""), ""),
        }
        chips.append({"key": "facility", "name": t["facility"],
                      "value": f"{code} — {facility['name']}", "remove": without("facility")})  # fmt: skip
    if flt.get("tier"):
        chips.append({"key": "tier", "name": t["tier"],
                      "value": tiers.get(flt["tier"], flt["tier"]), "remove": without("tier")})  # fmt: skip
    if flt.get("loai_kcb"):
        code = flt["loai_kcb"]
        chips.append({"key": "loai_kcb", "name": t["loai_kcb"],
                      "value": f"{code} — {visit_types.get(code, code)}",
                      "remove": without("loai_kcb")})  # fmt: skip
    return {"chips": chips, "commune": commune, "facility": facility}


ENV = Environment(
    loader=FileSystemLoader(
        [
            HERE / "web" / "templates",
            HERE / "security" / "templates",
            HERE / "registry" / "templates",
            HERE / "quality" / "templates",
            HERE / "surveillance" / "templates",
            HERE / "persons" / "templates",
            HERE / "aggregate" / "templates",
        ]
    ),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


@pass_context
def tr(ctx: Any, vi: str, en: str) -> str:
    """The word in the page's language: ``{{ tr("Đăng nhập", "Sign in") }}``."""
    page: Site | None = ctx.get("site")
    return en if page is not None and page.lang == "en" else vi


def lang_query(request: Request) -> str:
    """``?lang=en`` for a form's action on an English page (its answer stays English)."""
    return "?lang=en" if request.query_params.get("lang") == "en" else ""


ENV.globals["selection"] = selection
ENV.globals["tr"] = tr
ENV.globals["lang_query"] = lang_query
TEMPLATES = Jinja2Templates(env=ENV, context_processors=[_context])


def install(app: FastAPI) -> None:
    # html=False: no directory listings or index pages; unknown and malformed paths → 404
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
