"""The error types of the whole system and the one JSON error shape of the API.

This module is on the ground floor: every package may raise these; only ``khoyte.web.errors``
turns them into HTTP responses (a contract test holds every route to the shape).

Domain code (intake, the drop folder, ingest) raises :class:`KhoyteError`s with two axes, as
dlt does: a :class:`TerminalError` refuses the input (tell the sender; sending the same bytes
again will not help), a :class:`TransientError` says "not now" (retry later; the input is
never moved to ``rejected/`` and never lost). They carry identifiers and what to do in both
languages, and no HTTP status: the web layer assigns it (``khoyte.web.errors.STATUS``).
:class:`ApiError` is for routes only.

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


class KhoyteError(Exception):
    """An error a person can act on: a stable ``code``, what happened and what to do in
    Vietnamese and English, and the identifiers (file, facility, MA_LK, table, STT, field…)
    in ``details``."""

    def __init__(
        self, code: str, message_vi: str, message_en: str, details: dict[str, Any] | None = None
    ) -> None:
        self.code = code
        self.message_vi = message_vi
        self.message_en = message_en
        self.details = details or {}
        super().__init__(f"{code}: {message_en}")

    @property
    def kind(self) -> str:
        return "transient" if isinstance(self, TransientError) else "terminal"

    def as_body(self) -> dict[str, Any]:
        """The error shape without an HTTP status (drop-folder receipts, logs)."""
        return {
            "error": {
                "kind": self.kind,
                "code": self.code,
                "message_vi": self.message_vi,
                "message_en": self.message_en,
                "details": self.details,
            }
        }


class TerminalError(KhoyteError):
    """Refused for good: the sender must change something (wrong facility, wrong document,
    too large). The input is kept in the archive and answered."""


class TransientError(KhoyteError):
    """Not now: the store is busy or down. Retry later (``retry_after`` seconds when known);
    the input must not be rejected or lost."""

    def __init__(
        self,
        code: str,
        message_vi: str,
        message_en: str,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(code, message_vi, message_en, details)
        self.retry_after = retry_after


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
