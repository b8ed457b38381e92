"""How errors become HTTP responses: the one JSON shape for API clients (``khoyte.errors``)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from khoyte.errors import ApiError, KhoyteError, TransientError, error_body

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
        return error_response(exc)

    async def _domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, KhoyteError)
        return error_response(as_api_error(exc))

    async def _http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        err = ApiError(exc.status_code, headers=getattr(exc, "headers", None))
        if isinstance(exc.detail, str) and exc.detail not in ("Not Found", "Method Not Allowed"):
            err.details = {"detail": exc.detail}
        return error_response(err)

    async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return error_response(ApiError(422, details={"errors": errors}))

    async def _unhandled(_: Request, exc: Exception) -> JSONResponse:
        return error_response(ApiError(500))

    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(KhoyteError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
