"""HTTP intake: ``POST /api/v1/submissions``, ``/checkins`` and ``/assessments``, receipts,
record history, health and metrics — one module-level ``router`` (included by ``khoyte.web.app.create_app``);
routes take the intake service and the caller as dependencies (``khoyte.deps``)."""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import ColumnElement, false, or_, select, text, true
from starlette.concurrency import run_in_threadpool

from khoyte.access import (
    Permission,
    Principal,
    Scope,
    after_submission,
    audit_event,
    hooks_of,
)
from khoyte.config import Settings
from khoyte.deps import IntakeDep, PublicCaller, ServicesDep, SubmissionsCaller, SubmitCaller
from khoyte.errors import ERROR_RESPONSES, ApiError, ErrorBody, KhoyteError
from khoyte.gateway import intake, quota, receipts
from khoyte.gateway.contracts import Receipt, RecordHistory, Status, SubmissionList
from khoyte.gateway.facilities import lookup_token
from khoyte.gateway.forms import metrics_gate, one_file
from khoyte.gateway.intake import IntakeService
from khoyte.gateway.limits import read_body
from khoyte.gateway.models import Facility, RecordHead, RecordVersionRow, Submission
from khoyte.gateway.versions import aware
from khoyte.services import Services
from khoyte.standards.reader import DocumentKind
from khoyte.standards.serialize import Unseal, record_from_json, record_to_dict
from khoyte.store.crypto import keyring

FACILITY_PERMISSIONS = frozenset({Permission.SUBMIT, Permission.VIEW_SUBMISSIONS})
XML_TYPES = ("application/xml", "text/xml")
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded", "application/json")

_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Tệp XML (application/xml), tải tệp (multipart, trường `file`) hoặc các "
        "trường của cổng giám định BHXH (`loaiHoSo`, `maTinh`, `maCSKCB`, `fileHSBase64`) dạng "
        "form hoặc JSON. / The XML file, a multipart upload, or the social-insurance gateway's "
        "fields.",
        "content": {
            "application/xml": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "loaiHoSo": {"type": "string"},
                        "maTinh": {"type": "string"},
                        "maCSKCB": {"type": "string"},
                        "fileHSBase64": {"type": "string"},
                    },
                    "required": ["fileHSBase64"],
                }
            },
        },
    }
}


_RECEIPT_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    200: {"model": Receipt, "description": "Đã nhận trước đó: biên nhận đã lưu / already "
          "received: the stored receipt"},
    400: {"model": ErrorBody, "description": "Tệp hoặc biểu mẫu không hợp lệ / bad body"},
    408: {"model": ErrorBody, "description": "Gửi quá chậm / body too slow"},
    413: {"model": ErrorBody, "description": "Quá lớn / too large"},
    415: {"model": ErrorBody, "description": "Kiểu nội dung / unsupported content type"},
    422: {"model": ErrorBody, "description": "Tệp bị từ chối (biên nhận trong `details.receipt`) "
          "hoặc tham số sai / rejected file (receipt in `details.receipt`) or bad parameters"},
}  # fmt: skip

router = APIRouter(responses=ERROR_RESPONSES)


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def make_authenticator(service: IntakeService) -> Any:
    """Facility API credentials (``Authorization: Bearer khy_…``) → a facility principal."""

    def authenticate(request: Request) -> Principal | None:
        token = _bearer(request)
        if token is None:
            return None
        with service.reads.connect() as conn:  # no ORM session: one prepared statement
            owner = lookup_token(conn, token)
        if owner is None:
            return None
        return Principal(
            kind="facility",
            name=owner.facility,
            permissions=FACILITY_PERMISSIONS,
            scope=Scope(facilities=frozenset({owner.facility})),
            facility=owner.facility,
            credential_id=owner.credential_id,
        )

    return authenticate


def scope_filter(principal: Principal) -> ColumnElement[bool]:
    """A condition on ``gw_submission.facility``-like columns: what the principal may see."""
    return _scope_on(principal.scope, Submission.facility)


def _scope_on(scope: Scope, column: Any) -> ColumnElement[bool]:
    if scope.province:
        return true()
    conds: list[ColumnElement[bool]] = []
    if scope.facilities:
        conds.append(column.in_(sorted(scope.facilities)))
    if scope.communes:
        conds.append(
            column.in_(select(Facility.code).where(Facility.commune.in_(sorted(scope.communes))))
        )
    return or_(*conds) if conds else false()


async def receive(
    request: Request, services: Services, principal: Principal, expect: DocumentKind | None
) -> Response:
    settings, service, metrics = services.settings, services.intake, services.metrics
    started = time.perf_counter()
    try:
        wait = services.limiter.check(principal.credential_id or principal.name)
        if wait > 0:
            await run_in_threadpool(
                service.record_event,
                "rate_limited",
                429,
                principal.facility,
                principal.credential_id,
            )
            raise ApiError(
                429,
                "rate_limited",
                f"Gửi quá {settings.rate_limit_per_minute} lần/phút; hãy thử lại sau "
                f"{math.ceil(wait)} giây.",
                f"More than {settings.rate_limit_per_minute} submissions a minute; retry in "
                f"{math.ceil(wait)} s.",
                {"retry_after_seconds": math.ceil(wait)},
                headers={"Retry-After": str(math.ceil(wait))},
            )
        data, declared, channel = await _payload(request, settings)
        metrics.body.observe(len(data))

        def store() -> intake.Receipt:  # one trip to the thread pool: under load each trip queues
            limit = settings.archive_quota_bytes_per_day  # F13
            quota.check(service, principal.facility, data, limit, principal.credential_id)
            stored = service.submit(
                data,
                facility=principal.facility,
                credential_id=principal.credential_id,
                channel=channel,
                expect=expect,
                declared_facility=declared,
                actor=principal,  # the audit entry is written in the submission's transaction
                ip=request.client.host if request.client else "",
            )
            after_submission(request, principal, stored.data)  # in the same trip
            return stored

        receipt = await run_in_threadpool(store)
    except KhoyteError as err:  # refused (terminal) or not now (transient): counted, answered
        metrics.refused.labels(err.code).inc()
        raise
    except ApiError as err:
        metrics.refused.labels(err.code).inc()
        if err.status in (408, 413):
            await run_in_threadpool(
                service.record_event,
                err.code,
                err.status,
                principal.facility,
                principal.credential_id,
            )
        raise
    shown = receipts.for_principal(principal, receipt.data)  # F4: one redaction for all
    c = receipt.data["counts"]
    metrics.submissions.labels(receipt.data["status"], str(not receipt.created)).inc()
    if receipt.created:
        for k in ("accepted", "accepted_with_warnings", "rejected"):
            metrics.records.labels(k).inc(c[k])
    metrics.duration.observe(time.perf_counter() - started)
    location = {"Location": f"/api/v1/submissions/{receipt.id}"}
    if receipt.data["status"] == "rejected":
        # Stored and receipted, but nothing in it can be used: a 4xx in the one error shape,
        # with the receipt (every finding) in the details.
        raise ApiError(
            422,
            "submission_rejected",
            "Tệp bị từ chối: không hồ sơ nào được chấp nhận; xem các lỗi trong biên nhận, "
            "sửa và gửi lại.",
            "The file was rejected: no record was accepted; see the findings in the receipt, "
            "fix them and send it again.",
            {"receipt": shown, "duplicate": not receipt.created},
            headers=location,
        )
    return JSONResponse(shown, status_code=201 if receipt.created else 200, headers=location)


@router.post(
    "/api/v1/submissions",
    tags=["intake"],
    summary="Gửi hồ sơ XML 130/4210 / submit a claim file",
    openapi_extra=_BODY_DOC,
    status_code=201,
    response_model=Receipt,
    responses=_RECEIPT_RESPONSES,
)
async def submit(request: Request, services: ServicesDep, principal: SubmitCaller) -> Response:
    return await receive(request, services, principal, DocumentKind.CLAIMS)


@router.post(
    "/api/v1/checkins",
    tags=["intake"],
    summary="Gửi chỉ tiêu trạng thái KCB (XML0) / submit a check-in document",
    openapi_extra=_BODY_DOC,
    status_code=201,
    response_model=Receipt,
    responses=_RECEIPT_RESPONSES,
)
async def checkin(request: Request, services: ServicesDep, principal: SubmitCaller) -> Response:
    return await receive(request, services, principal, DocumentKind.CHECKIN)


@router.post(
    "/api/v1/assessments",
    tags=["intake"],
    summary="Gửi dữ liệu giám định y khoa (XML12) / submit a medical-assessment document",
    description="Tài liệu `CHI_TIEU_GIAM_DINH_YKHOA` của hội đồng giám định y khoa (cổng BHXH: "
    "`guiDuLieuGdykQd130`, `loaiHoSo` = 12). Mỗi `GIAM_DINH_YKHOA` là một hồ sơ của cơ sở gửi, "
    "khóa `GDYK:` + `SO_BIEN_BAN`; gửi lại cùng số biên bản là cập nhật (phiên bản mới). / "
    "An XML12 document of the medical-assessment council; each record is keyed `GDYK:` + "
    "`SO_BIEN_BAN`, and resending the same minutes number updates it (a new version).",
    openapi_extra=_BODY_DOC,
    status_code=201,
    response_model=Receipt,
    responses=_RECEIPT_RESPONSES,
)
async def assessment(request: Request, services: ServicesDep, principal: SubmitCaller) -> Response:
    return await receive(request, services, principal, DocumentKind.ASSESSMENT)


@router.get(
    "/api/v1/submissions/{submission_id}",
    tags=["intake"],
    summary="Biên nhận của một lần gửi / the receipt of a submission",
    response_model=Receipt,
)
def get_submission(
    request: Request,
    submission_id: Annotated[str, Path(max_length=64)],
    intake: IntakeDep,
    principal: SubmissionsCaller,
) -> Response:
    with intake.sessions() as s:
        raw = s.scalar(
            select(Submission.receipt).where(
                Submission.id == submission_id, scope_filter(principal)
            )
        )
        if raw is None and s.scalar(select(Submission.id).where(Submission.id == submission_id)):
            _out_of_scope(request, principal, f"submission:{submission_id}")
    if raw is None:
        raise _not_found("submission", submission_id)
    return receipts.serve(request, principal, raw)  # as committed, or redacted (F4)


@router.get(
    "/api/v1/submissions",
    tags=["intake"],
    summary="Lịch sử gửi của cơ sở / a facility's submission history",
    response_model=SubmissionList,
)
def list_submissions(
    intake: IntakeDep,
    principal: SubmissionsCaller,
    facility: Annotated[str | None, Query(max_length=16)] = None,
    since: Annotated[datetime | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    q = select(Submission).where(scope_filter(principal))
    if facility:
        q = q.where(Submission.facility == facility)
    if since is not None:  # stored times are UTC; a time without zone is read as UTC
        since = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        q = q.where(Submission.received_at >= since)
    q = q.order_by(Submission.received_at.desc(), Submission.id).limit(limit)
    with intake.sessions() as s:
        subs = s.scalars(q).all()
        return {"submissions": [_summary(x) for x in subs]}


@router.get(
    "/api/v1/records/{facility}/{ma_lk:path}",  # F22: a MA_LK may contain "/"
    tags=["intake"],
    summary="Hồ sơ: phiên bản hiện hành và lịch sử / a record's current version and history",
    response_model=RecordHistory,
    response_model_exclude_unset=True,  # `record` appears only where it was shown
)
def get_record(
    request: Request,
    facility: Annotated[str, Path(max_length=16)],
    ma_lk: Annotated[str, Path(max_length=100)],
    intake: IntakeDep,
    principal: SubmissionsCaller,
) -> dict[str, Any]:
    with intake.sessions() as s:
        head = s.scalar(
            select(RecordHead).where(
                RecordHead.facility == facility,
                RecordHead.ma_lk == ma_lk,
                _scope_on(principal.scope, RecordHead.facility),
            )
        )
        if head is None:
            exists = s.scalar(
                select(RecordHead.ma_lk).where(
                    RecordHead.facility == facility, RecordHead.ma_lk == ma_lk
                )
            )
            if exists is not None:
                _out_of_scope(request, principal, f"record:{facility}/{ma_lk}")
            raise _not_found("record", f"{facility}/{ma_lk}")
        versions = s.scalars(
            select(RecordVersionRow)
            .where(RecordVersionRow.facility == facility, RecordVersionRow.ma_lk == ma_lk)
            .order_by(RecordVersionRow.version)
        ).all()
        show = Permission.VIEW_RECORDS in principal.permissions
        unseal = keyring(s).unseal
        history = [_version(v, show and v.id == head.current_version_id, unseal)
                   for v in versions]  # fmt: skip
    current = next((h for h in history if h["version_id"] == head.current_version_id), None)
    if show and current is not None:  # person-identifiable content was shown: audit it
        audit_event(request, principal, "record.view", f"record:{facility}/{ma_lk}")
    return {
        "facility": facility,
        "ma_lk": ma_lk,
        "current": current,
        "latest_version": head.latest_version,
        "versions": history,
    }


@router.get(
    "/healthz", tags=["ops"], summary="Tiến trình còn sống / liveness", response_model=Status
)
def healthz(_: PublicCaller) -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz", tags=["ops"], summary="Sẵn sàng nhận hồ sơ / readiness", response_model=Status
)
def readyz(_: PublicCaller, intake: IntakeDep) -> dict[str, str]:
    problems: dict[str, str] = {}
    try:
        with intake.engine.connect() as conn:
            conn.execute(text("SELECT 1 FROM gw_submission WHERE 1 = 0"))
    except Exception as exc:
        problems["database"] = str(exc).splitlines()[0][:200]
    try:
        intake.archive.root.mkdir(parents=True, exist_ok=True)
        probe = intake.archive.root / f".ready-{uuid.uuid4().hex}"  # unique: processes share it
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        problems["archive"] = str(exc)[:200]
    if problems:
        raise ApiError(503, details=problems)
    return {"status": "ready"}


@router.get(
    "/metrics", tags=["ops"], summary="Prometheus metrics", response_class=PlainTextResponse
)
def prometheus(principal: PublicCaller, services: ServicesDep) -> Response:
    metrics_gate(principal, services.settings.metrics_access)  # F26: public | permission | off
    return Response(generate_latest(services.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _out_of_scope(request: Request, principal: Principal, what: str) -> None:
    """Audit an attempt on an existing object outside the caller's scope (the answer stays the
    same 404 as for an object that does not exist, so existence is never revealed)."""
    hook = hooks_of(request).out_of_scope
    if hook is not None:
        hook(request, principal, what)


def _not_found(what: str, key: str) -> ApiError:
    names = {"submission": ("lần gửi", "submission"), "record": ("hồ sơ", "record")}[what]
    return ApiError(
        404,
        "not_found",
        f"Không tìm thấy {names[0]} {key} (hoặc bạn không có quyền xem).",
        f"No {names[1]} {key} (or it is outside what you may see).",
        {what: key[:120]},
    )


def _summary(sub: Submission) -> dict[str, Any]:
    return {
        "id": sub.id,
        "received_at": aware(sub.received_at).isoformat(timespec="milliseconds"),
        "facility": sub.facility,
        "sha256": sub.sha256,
        "kind": sub.kind,
        "channel": sub.channel,
        "size": sub.size,
        "status": sub.status,
        "counts": {
            "records": sub.n_records,
            "accepted": sub.n_accepted,
            "accepted_with_warnings": sub.n_warnings,
            "rejected": sub.n_rejected,
        },
    }


def _version(v: RecordVersionRow, with_content: bool, unseal: Unseal) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": v.version,
        "version_id": v.id,
        "submission_id": v.submission_id,
        "received_at": aware(v.received_at).isoformat(timespec="milliseconds"),
        "status": v.status,
        "content_sha256": v.content_sha,
    }
    if with_content:
        out["record"] = record_to_dict(record_from_json(v.record, unseal))
    return out


async def _payload(request: Request, settings: Settings) -> tuple[bytes, str | None, str]:
    """(file bytes, the maCSKCB the form declared, channel) from any accepted body format."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in XML_TYPES and ctype not in FORM_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Hãy gửi tệp XML (application/xml), tải tệp (multipart/form-data) hoặc các trường "
            "loaiHoSo, maTinh, maCSKCB, fileHSBase64 (form hoặc JSON).",
            "Send the XML file (application/xml), a multipart upload, or the fields loaiHoSo, "
            "maTinh, maCSKCB, fileHSBase64 (form or JSON).",
            {"content_type": ctype[:80]},
        )
    body = await read_body(request, settings.max_body_bytes, settings.request_timeout)
    if ctype in XML_TYPES:
        return body, None, "api"
    fields: dict[str, Any]
    if ctype == "application/json":
        try:
            parsed = json.loads(body)
        except (ValueError, RecursionError):
            raise ApiError(
                400, "invalid_json", "Nội dung JSON không hợp lệ.", "Invalid JSON."
            ) from None
        if not isinstance(parsed, dict):
            raise ApiError(
                400, "invalid_json", "Cần một đối tượng JSON.", "Expected a JSON object."
            )
        fields = parsed
    else:
        try:
            form = await request.form(max_files=2, max_fields=20)
        except Exception:
            raise ApiError(
                400, "invalid_form", "Biểu mẫu không hợp lệ.", "Malformed form."
            ) from None
        upload = one_file(form, body, request.headers.get("content-type", ""))  # F25
        if upload is not None and not isinstance(upload, str):
            return await upload.read(), _field(form.get("maCSKCB")), "multipart"
        fields = {k: form.get(k) for k in ("loaiHoSo", "maTinh", "maCSKCB", "fileHSBase64")}
    encoded = fields.get("fileHSBase64")
    if not isinstance(encoded, str) or not encoded.strip():
        raise ApiError(
            400,
            "missing_file",
            "Thiếu tệp: gửi trường `file` hoặc `fileHSBase64`.",
            "No file: send a `file` part or a `fileHSBase64` field.",
        )
    try:
        data = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(
            400,
            "invalid_base64",
            "fileHSBase64 không phải chuỗi base64 hợp lệ.",
            "fileHSBase64 is not valid base64.",
        ) from None
    return data, _field(fields.get("maCSKCB")), "form"


def _field(v: Any) -> str | None:
    return v.strip()[:16] if isinstance(v, str) and v.strip() else None
