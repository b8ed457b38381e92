"""``/admin/alert-delivery``: IT staff (``admin_users``) see who receives alerts, scope by
scope, set each person's e-mail address, and add or remove webhook subscriptions per scope
(:mod:`subscriptions`; every change audited). A new subscription's secret is shown once, on
the page that answers its creation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from khoyte import i18n
from khoyte.access import Permission, Principal, requires
from khoyte.errors import ERROR_RESPONSES, KhoyteError
from khoyte.layout import TEMPLATES, lang_query
from khoyte.services import Services
from khoyte.store.db import session_scope
from khoyte.surveillance import subscriptions

router = APIRouter(responses=ERROR_RESPONSES)
Admin = Annotated[Principal, Depends(requires(Permission.ADMIN_USERS))]
PATH = "/admin/alert-delivery"


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def _ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _render(
    request: Request, *, error: str | None = None, created: dict[str, str] | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    svc = _services(request)
    with session_scope(svc.sessions) as s:
        people = subscriptions.recipients(s)
        subs = [
            {"id": w.id, "scope": w.scope, "url": w.url, "note": w.note,
             "created_by": w.created_by, "secret_tail": w.secret[-4:]}
            for w in subscriptions.subscriptions(s)
        ]  # fmt: skip
    return TEMPLATES.TemplateResponse(
        request,
        "surveillance/delivery_admin.html",
        {
            "people": people,
            "subs": subs,
            "error": error,
            "created": created,
            "path": PATH,
            "global_webhook": bool(svc.settings.alert_webhook_url),
        },
        status_code=status,
    )


def _message(request: Request, exc: KhoyteError) -> str:
    lang = i18n.lang_of(request.query_params.get("lang"))
    return i18n.pair((exc.message_vi, exc.message_en), lang)


@router.get(PATH, response_class=HTMLResponse, include_in_schema=False)
def delivery_page(request: Request, _: Admin) -> Response:
    return _render(request)


@router.post(f"{PATH}/contact", include_in_schema=False)
def contact_form(
    request: Request,
    principal: Admin,
    username: Annotated[str, Form(max_length=64)],
    email: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    svc = _services(request)
    try:
        with session_scope(svc.sessions) as s:
            subscriptions.set_contact(s, principal, username, email, _ip(request))
    except KhoyteError as exc:
        return _render(request, error=_message(request, exc), status=422)
    return RedirectResponse(f"{PATH}{lang_query(request)}", status_code=303)


@router.post(f"{PATH}/webhooks", include_in_schema=False)
def webhook_form(
    request: Request,
    principal: Admin,
    action: Annotated[str, Form(pattern="^(add|remove)$")],
    scope: Annotated[str, Form(max_length=48)] = "",
    url: Annotated[str, Form(max_length=500)] = "",
    secret: Annotated[str | None, Form(max_length=128)] = None,  # None: generated
    note: Annotated[str, Form(max_length=200)] = "",
    webhook_id: Annotated[int, Form()] = 0,
) -> Response:
    svc = _services(request)
    created = None
    try:
        with session_scope(svc.sessions) as s:
            if action == "remove":
                subscriptions.remove_subscription(s, principal, webhook_id, _ip(request))
            else:
                sub = subscriptions.add_subscription(s, principal, scope=scope, url=url,
                                                     note=note, secret=secret or "", now=svc.clock(),
                                                     ip=_ip(request))  # fmt: skip
                created = {"id": str(sub.id), "scope": sub.scope, "url": sub.url,
                           "secret": sub.secret}  # fmt: skip
    except KhoyteError as exc:
        return _render(request, error=_message(request, exc), status=422)
    if created is not None:  # the secret, once: the receiver needs it to check signatures
        return _render(request, created=created)
    return RedirectResponse(f"{PATH}{lang_query(request)}", status_code=303)
