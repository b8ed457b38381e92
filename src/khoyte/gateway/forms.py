"""Small checks of what a submission carries and who may read the gateway's counters.

- A multipart submission holds exactly one ``file`` part: with two, the last silently replaced
  the first (security test 2026-12, F25), so more than one is refused; a multipart body that
  breaks off before its closing boundary is a malformed form, not a missing file.
- ``/metrics`` shows submission volumes and refusal codes (``wrong_facility`` attempts …), so
  who may read it is a setting (F26).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from khoyte.access import Permission, Principal
from khoyte.errors import ApiError

METRICS_PERMISSION = Permission.ADMIN_FACILITIES


def _boundary(content_type: str) -> bytes | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"').encode("latin-1")
    return None


def one_file(form: FormData, body: bytes, content_type: str) -> Any:
    """The one ``file`` part of a form (``None`` when there is none)."""
    files = form.getlist("file")
    if len(files) > 1:
        raise ApiError(
            400,
            "multiple_files",
            f"Biểu mẫu có {len(files)} phần `file`; mỗi lần gửi chỉ một tệp — hãy gửi từng tệp "
            "một.",
            f"The form has {len(files)} `file` parts; send one file per submission.",
            {"file_parts": len(files)},
        )
    boundary = _boundary(content_type)
    if boundary is not None and not body.rstrip().endswith(b"--" + boundary + b"--"):
        raise ApiError(
            400,
            "invalid_form",
            "Biểu mẫu bị cắt cụt (thiếu ranh giới kết thúc); hãy gửi lại toàn bộ.",
            "The form is truncated (its closing boundary is missing); send it again whole.",
        )
    return files[0] if files else None


def metrics_gate(principal: Principal, access: str) -> None:
    """Go on only if ``principal`` may read the metrics under the ``metrics_access`` setting."""
    if access == "public":
        return
    if access == "off":
        raise ApiError(404)
    if principal.is_anonymous:
        raise ApiError(401, headers={"WWW-Authenticate": "Bearer"})
    if METRICS_PERMISSION not in principal.permissions:
        raise ApiError(403)
