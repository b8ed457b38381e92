"""Report requests to units (seed 000 §3.3.4.9): a leader asks a facility, or a commune's health
centre, for a report by a due date; the unit's people (``ANSWER_REPORTS`` in scope) see it in
their inbox and answer with a file (kept content-addressed under ``DATA_DIR/reports``,
``report_max_bytes`` at most) or a data set (JSON); reminders go through the same outbox as
alerts (the day before the due date, then every day while late); the leader sees who is late."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from khoyte.access import Permission, Principal, scope_filter
from khoyte.errors import TerminalError
from khoyte.registry.models import Facility
from khoyte.security import audit
from khoyte.security.models import User
from khoyte.security.service import aware, principal_for
from khoyte.surveillance import delivery
from khoyte.surveillance.tables import Contact, InboxItem, ReportRequest

VN = timedelta(hours=7)


def _today(now: datetime) -> date:
    return (now + VN).date()


def unit_people(session: Session, req: ReportRequest) -> list[Principal]:
    users = session.scalars(select(User).where(User.active.is_(True))).all()
    found = [principal_for(u) for u in users]
    return [
        p
        for p in found
        if Permission.ANSWER_REPORTS in p.permissions and p.scope.allows(req.facility, req.commune)
    ]


def _tell(session: Session, req: ReportRequest, what: str, vi: str, en: str, now: datetime) -> None:
    targets = unit_people(session, req)
    emails = dict(
        session.execute(
            select(Contact.username, Contact.email).where(
                Contact.username.in_([p.name for p in targets])
            )
        ).all()
    )
    for p in targets:
        session.add(InboxItem(username=p.name, request_id=req.id, title_vi=vi[:300],
                              title_en=en[:300], created_at=now))  # fmt: skip
        if p.name in emails:
            delivery.enqueue(
                session, dedupe=f"request:{req.id}:{what}:{p.name}", channel="email",
                target=emails[p.name], subject=f"[khoyte] {vi}"[:300],
                body=f"{vi}\n{req.body}\n\n{en}\nOpen /requests to answer.\n", now=now,
            )  # fmt: skip


def create(
    session: Session, who: Principal, *, title: str, body: str, unit_kind: str, unit: str,
    due: date, now: datetime, ip: str = "",
) -> ReportRequest:  # fmt: skip
    """A new request; the unit must be in the asker's scope (else a terminal error)."""
    if unit_kind == "facility":
        fac = session.get(Facility, unit)
        facility, commune = unit, (fac.commune if fac is not None else None)
    elif unit_kind == "commune":
        facility, commune = None, unit
    else:
        raise TerminalError("request_unit", "Đơn vị phải là facility hoặc commune.",
                            "The unit must be a facility or a commune.", {"unit_kind": unit_kind})  # fmt: skip
    if not who.scope.allows(facility, commune):
        raise TerminalError(
            "request_out_of_scope",
            f"Đơn vị {unit} ngoài phạm vi của bạn.",
            f"The unit {unit} is outside your scope.",
            {"unit": unit},
        )
    req = ReportRequest(
        title=title[:300], body=body, requested_by=who.name, unit_kind=unit_kind, unit=unit,
        facility=facility, commune=commune, due=due, created_at=now, status="open",
    )  # fmt: skip
    session.add(req)
    session.flush()
    audit.record(session, who, "report_request.create", f"report_request:{req.id}", "success",
                 ip, details={"unit": f"{unit_kind}:{unit}", "due": due.isoformat()})  # fmt: skip
    _tell(session, req, "new",
          f"Yêu cầu báo cáo: {title} (hạn {due:%d/%m/%Y})",
          f"Report requested: {title} (due {due.isoformat()})", now)  # fmt: skip
    return req


def visible_to(
    session: Session, who: Principal, *, status: str | None = None
) -> list[ReportRequest]:
    if not who.permissions & {Permission.REQUEST_REPORTS, Permission.ANSWER_REPORTS}:
        return []
    stmt = select(ReportRequest).where(
        scope_filter(who.scope, ReportRequest.facility, ReportRequest.commune)
    )
    if status:
        stmt = stmt.where(ReportRequest.status == status)
    return list(session.scalars(stmt.order_by(ReportRequest.due, ReportRequest.id)))


def get_for(session: Session, who: Principal, req_id: int) -> ReportRequest | None:
    req = session.get(ReportRequest, req_id)
    if req is None or not who.scope.allows(req.facility, req.commune):
        return None
    return req


def is_late(req: ReportRequest, now: datetime) -> bool:
    if req.status == "answered":
        answered = aware(req.answered_at)
        return answered is not None and _today(answered) > req.due
    return _today(now) > req.due


def as_dict(req: ReportRequest, now: datetime) -> dict[str, Any]:
    return {
        "id": req.id, "title": req.title, "body": req.body, "requested_by": req.requested_by,
        "unit_kind": req.unit_kind, "unit": req.unit, "due": req.due.isoformat(),
        "status": req.status, "late": is_late(req, now),
        "created_at": aware(req.created_at).isoformat(timespec="seconds"),  # type: ignore[union-attr]
        "answered_at": (a.isoformat(timespec="seconds")
                        if (a := aware(req.answered_at)) else None),
        "answered_by": req.answered_by, "answer_note": req.answer_note,
        "answer_data": json.loads(req.answer_data) if req.answer_data else None,
        "file_name": req.file_name, "file_sha256": req.file_sha256, "file_size": req.file_size,
    }  # fmt: skip


def answer(
    session: Session, req: ReportRequest, who: Principal, *, note: str, now: datetime,
    store: Path, file_name: str | None = None, content: bytes | None = None,
    data: Any = None, ip: str = "",
) -> ReportRequest:  # fmt: skip
    """The unit's answer: a file (stored by its SHA-256 under ``store``), a data set, or both."""
    if req.status == "answered":
        raise TerminalError("request_answered", f"Yêu cầu #{req.id} đã được trả lời.",
                            f"Request #{req.id} was already answered.", {"request": req.id})  # fmt: skip
    if content is None and data is None:
        raise TerminalError("request_empty", "Hãy gửi kèm tệp hoặc dữ liệu.",
                            "Send a file or a data set.", {"request": req.id})  # fmt: skip
    if content is not None:
        sha = hashlib.sha256(content).hexdigest()
        store.mkdir(parents=True, exist_ok=True)
        target = store / sha
        if not target.exists():
            tmp = target.with_suffix(".part")
            tmp.write_bytes(content)
            tmp.replace(target)
        req.file_name = Path(file_name or "report").name[:255]
        req.file_sha256, req.file_size = sha, len(content)
    if data is not None:
        req.answer_data = json.dumps(data, ensure_ascii=False)
    req.status, req.answered_at, req.answered_by, req.answer_note = "answered", now, who.name, note
    audit.record(session, who, "report_request.answer", f"report_request:{req.id}", "success",
                 ip, details={"file_sha256": req.file_sha256, "size": req.file_size})  # fmt: skip
    return req


def queue_reminders(session: Session, now: datetime) -> int:
    """Open requests due tomorrow or late, not reminded in the last 20 hours: remind the unit."""
    today = _today(now)
    due = session.scalars(
        select(ReportRequest).where(
            ReportRequest.status == "open",
            ReportRequest.due <= today + timedelta(days=1),
            or_(ReportRequest.reminded_at.is_(None),
                ReportRequest.reminded_at <= now - timedelta(hours=20)),
        )
    ).all()  # fmt: skip
    for req in due:
        late = today > req.due
        _tell(
            session, req, f"remind:{today.isoformat()}",
            ("Quá hạn" if late else "Nhắc hạn") + f" báo cáo: {req.title} (hạn {req.due:%d/%m/%Y})",
            ("Late" if late else "Reminder") + f": report {req.title} (due {req.due.isoformat()})",
            now,
        )  # fmt: skip
        req.reminded_at = now
    return len(due)
