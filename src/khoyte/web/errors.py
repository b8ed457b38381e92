"""How errors become HTTP responses: the one JSON shape for API clients (``khoyte.errors``),
and a page in the site's layout for people (a browser asking for HTML, outside ``/api/``,
without an ``Authorization`` header)."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from khoyte import i18n
from khoyte.access import authenticate
from khoyte.errors import ApiError, KhoyteError, TransientError, error_body
from khoyte.layout import TEMPLATES

log = logging.getLogger(__name__)

# The HTTP status of each domain error code (the domain never names one); a code not listed
# takes its kind's: terminal → 422, transient → 503.
STATUS: dict[str, int] = {
    "wrong_facility": 403,
    "facility_mismatch": 400,
    "wrong_document_kind": 400,
    "too_large": 413,
    "store_busy": 503,
}


def status_of(err: KhoyteError) -> int:
    return STATUS.get(err.code, 503 if isinstance(err, TransientError) else 422)


def as_api_error(err: KhoyteError) -> ApiError:
    headers = None
    if isinstance(err, TransientError):
        headers = {"Retry-After": str(max(1, round(err.retry_after or 1)))}
    return ApiError(status_of(err), err.code, err.message_vi, err.message_en, err.details, headers)


def error_response(err: ApiError) -> JSONResponse:
    return JSONResponse(error_body(err), status_code=err.status, headers=err.headers)


def _for_person(request: Request) -> bool:
    """A browser showing the answer to a person: a page, or a form's answer."""
    return (
        "text/html" in request.headers.get("accept", "")
        and not request.url.path.startswith("/api/")
        and "authorization" not in request.headers
    )


async def error_page(request: Request, err: ApiError) -> Response:
    """The error as a page in the layout (header with the person's navigation and a way back);
    the JSON shape if the page itself cannot be drawn."""
    try:
        try:  # who is asking: their navigation in the header (404s never met a `requires`)
            await run_in_threadpool(authenticate, request)
        except Exception:  # e.g. the store is down: a page without a user
            log.warning("error page without a user: authentication failed", exc_info=True)
        lang = i18n.lang_of(request.query_params.get("lang"))
        other = "vi" if lang == "en" else "en"
        msg = {"vi": err.message_vi, "en": err.message_en}
        default = i18n.ERROR_TITLES.get(err.status, (msg["vi"], msg["en"]))
        hint = i18n.ERROR_HINTS.get(err.status)
        return TEMPLATES.TemplateResponse(
            request,
            "error.html",
            {
                "status": err.status,
                "code": err.code,
                "title": i18n.pair(default, lang),
                "message": msg[lang],
                "hint": i18n.pair(hint, lang) if hint else None,
                "other_lang": other,
                "other_message": msg[other],
            },
            status_code=err.status,
            headers=err.headers,
        )
    except Exception:
        log.exception("cannot draw the error page for %s %s", err.status, request.url.path)
        return error_response(err)


def _wants_page(request: Request) -> bool:
    """A browser navigating to a page (not an API client, not a script's fetch)."""
    accept = request.headers.get("accept", "")
    return (
        request.method == "GET"
        and "text/html" in accept
        and not request.url.path.startswith("/api/")
        and "authorization" not in request.headers
    )


def _has_login(request: Request) -> bool:
    return getattr(request.app.state, "security", None) is not None  # khoyte.security: /login


def install(app: FastAPI) -> None:
    async def _api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if exc.status == 401 and _wants_page(request) and _has_login(request):
            # a person opening a page: to the sign-in page, and back here afterwards
            back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': back})}", status_code=303)
        return await _answer(request, exc)

    async def _domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KhoyteError)
        return await _answer(request, as_api_error(exc))

    async def _answer(request: Request, err: ApiError) -> Response:
        return await error_page(request, err) if _for_person(request) else error_response(err)

    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        err = ApiError(exc.status_code, headers=getattr(exc, "headers", None))
        if isinstance(exc.detail, str) and exc.detail not in ("Not Found", "Method Not Allowed"):
            err.details = {"detail": exc.detail}
        return await _answer(request, err)

    async def _validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return await _answer(request, ApiError(422, details={"errors": errors}))

    async def _unhandled(request: Request, exc: Exception) -> Response:
        return await _answer(request, ApiError(500))

    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(KhoyteError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
