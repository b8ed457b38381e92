"""The error types of the whole system and the one JSON error shape of the API.

This module is on the ground floor: every package may raise these; only ``khoyte.web.errors``
turns them into HTTP responses (a contract test holds every route to the shape).

``{"error": {"status": 404, "code": "not_found", "message_vi": "...", "message_en": "...",
"details": {...}}}`` — ``code`` is stable and machine-readable; both messages say what to do.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

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


# --- the shape, as OpenAPI documents it (every router: ``responses=ERROR_RESPONSES``) -------


class ErrorDetail(BaseModel):
    status: int
    code: str = Field(description="Stable, machine-readable (e.g. `not_found`).")
    message_vi: str = Field(description="Tiếng Việt: what happened and what to do.")
    message_en: str = Field(description="English: what happened and what to do.")
    details: dict[str, Any] = Field(description="Identifiers: file, facility, parameter, …")


class ErrorBody(BaseModel):
    """The one error shape of the API (``khoyte.errors``)."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": desc}
    for status, desc in (
        (401, "Chưa đăng nhập / not signed in"),
        (403, "Không có quyền / forbidden"),
        (404, "Không tìm thấy / not found"),
        (422, "Tham số không hợp lệ / invalid parameters"),
        (429, "Quá nhiều yêu cầu / too many requests"),
        (503, "Tạm thời không sẵn sàng; thử lại sau / temporarily unavailable, retry later"),
    )
}
