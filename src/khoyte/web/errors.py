"""One JSON error shape for the whole API (a contract test holds every route to it).

``{"error": {"status": 404, "code": "not_found", "message_vi": "...", "message_en": "...",
"details": {...}}}`` — ``code`` is stable and machine-readable; both messages say what to do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

_DEFAULTS: dict[int, tuple[str, str, str]] = {
    400: ("bad_request", "Yêu cầu không hợp lệ.", "Bad request."),
    401: (
        "unauthenticated",
        "Cần đăng nhập hoặc mã truy cập hợp lệ.",
        "Sign in or send a valid credential.",
    ),
    403: ("forbidden", "Không có quyền thực hiện thao tác này.", "You may not do this."),
    404: ("not_found", "Không tìm thấy.", "Not found."),
    405: ("method_not_allowed", "Phương thức không được hỗ trợ.", "Method not allowed."),
    413: ("too_large", "Dữ liệu gửi lên quá lớn.", "The body is too large."),
    415: (
        "unsupported_media_type",
        "Kiểu nội dung không được hỗ trợ.",
        "Unsupported content type.",
    ),
    422: ("invalid_request", "Tham số không hợp lệ.", "Invalid parameters."),
    429: (
        "rate_limited",
        "Gửi quá nhiều yêu cầu; hãy thử lại sau.",
        "Too many requests; retry later.",
    ),
    500: ("internal_error", "Lỗi hệ thống; hãy thử lại sau.", "Internal error; retry later."),
    503: ("unavailable", "Hệ thống tạm thời không sẵn sàng.", "Temporarily unavailable."),
}


class ApiError(Exception):
    """Raise from any route: rendered in the one error shape."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message_vi: str | None = None,
        message_en: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        dcode, dvi, den = _DEFAULTS.get(status, ("error", "Lỗi.", "Error."))
        self.status = status
        self.code = code or dcode
        self.message_vi = message_vi or dvi
        self.message_en = message_en or den
        self.details = details or {}
        self.headers = headers
        super().__init__(f"{status} {self.code}: {self.message_en}")


def error_body(err: ApiError) -> dict[str, Any]:
    return {
        "error": {
            "status": err.status,
            "code": err.code,
            "message_vi": err.message_vi,
            "message_en": err.message_en,
            "details": err.details,
        }
    }


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
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
