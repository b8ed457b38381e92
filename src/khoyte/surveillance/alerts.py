"""Alerts: opened once per key, scoped to the place they are about, delivered to the right
people, acknowledged and closed with notes, escalated when nobody acknowledges them.

**Who receives an alert.** People holding ``Permission.ALERTS`` whose scope covers the alert's
facility or commune. Level 1 is the *local* ones (a scope of communes or facilities: a commune's
leader); level 2 the *province* ones (a province-wide scope). An alert goes to level 1 first
and, if nobody acknowledges it within ``Settings.alert_escalate_minutes``, escalates to level 2;
an alert nobody local can receive (a province-wide alarm, a commune without a leader) starts at
level 2. Everyone whose scope covers it may *see* it at any time; *receiving* is the inbox, the
e-mail and the webhook.

Every step (open, acknowledge, close, escalate) is written to the alert's story and to the
hash-chained audit trail in the same transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from khoyte.access import Permission, Principal, scope_filter
from khoyte.config import Settings
from khoyte.errors import TerminalError
from khoyte.registry.models import Facility
from khoyte.security import audit
from khoyte.security.models import User
from khoyte.security.service import aware, principal_for
from khoyte.surveillance import delivery
from khoyte.surveillance.model import Alarm
from khoyte.surveillance.rules import Rule
from khoyte.surveillance.subscriptions import covering
from khoyte.surveillance.tables import AlertEvent, AlertRow, Contact, InboxItem

SYSTEM = "system:alerts"
STATUSES = ("open", "acknowledged", "closed")
SIGNAL_NAMES = {  # what a person reads; codes not listed are shown as they are
    "dengue": ("sốt xuất huyết Dengue", "dengue"),
    "hfmd": ("tay chân miệng", "hand-foot-mouth disease"),
    "ili": ("hội chứng cúm", "influenza-like illness"),
    "diarrhoea": ("tiêu chảy cấp", "acute diarrhoea"),
    "measles": ("sởi", "measles"),
}


class AlertStateError(TerminalError):
    """The alert is not in a state that allows this step (e.g. closing a closed alert)."""


@dataclass(frozen=True)
class Candidate:
    """An alert a rule would open (deduplicated by ``key`` against every alert ever opened)."""

    key: str
    kind: str
    rule: str
    severity: str
    title_vi: str
    title_en: str
    place_kind: str
    place: str
    commune: str | None
    facility: str | None
    period_start: date | None
    details: dict[str, Any] = field(default_factory=dict)


def facility_communes(session: Session) -> dict[str, str]:
    """MA_CSKCB → 2025 commune code (the registry): where a facility's alert is scoped."""
    rows = session.execute(select(Facility.code, Facility.commune)).all()
    return {str(code): str(commune) for code, commune in rows if commune}


def from_alarm(alarm: Alarm, rule: Rule, communes: dict[str, str]) -> Candidate:
    vi, en = SIGNAL_NAMES.get(alarm.signal, (alarm.signal, alarm.signal))
    where = {"commune": ("xã", "commune"), "facility": ("cơ sở", "facility")}.get(
        alarm.place_kind, ("tỉnh", "province")
    )
    commune = alarm.place if alarm.place_kind == "commune" else None
    facility = alarm.place if alarm.place_kind == "facility" else None
    if facility is not None:
        commune = communes.get(facility)
    bound = "" if alarm.upperbound is None else f"{alarm.upperbound:.1f}"
    return Candidate(
        key=f"alarm|{alarm.key}",
        kind="alarm",
        rule=rule.name,
        severity=rule.severity,
        title_vi=f"Cảnh báo dịch {vi}: {where[0]} {alarm.place}, {alarm.observed} ca "
        f"(ngưỡng {bound or '—'})",
        title_en=f"Outbreak alarm, {en}: {where[1]} {alarm.place}, {alarm.observed} cases "
        f"(bound {bound or '—'})",
        place_kind=alarm.place_kind,
        place=alarm.place,
        commune=commune,
        facility=facility,
        period_start=alarm.period_start,
        details={
            "signal": alarm.signal,
            "algorithm": alarm.algorithm,
            "frequency": alarm.frequency,
            "observed": alarm.observed,
            "expected": alarm.expected,
            "upperbound": alarm.upperbound,
            "score": alarm.score,
        },
    )


def alarm_candidates(
    alarms: Iterable[Alarm], rule: Rule, communes: dict[str, str]
) -> list[Candidate]:
    return [
        from_alarm(a, rule, communes)
        for a in alarms
        if (not rule.signals or a.signal in rule.signals)
        and (not rule.algorithms or a.algorithm in rule.algorithms)
        and a.score >= rule.min_score
    ]


# --- who receives, who sees ----------------------------------------------------------------


def people(session: Session) -> list[Principal]:
    """Every active person who may receive alerts."""
    users = session.scalars(select(User).where(User.active.is_(True))).all()
    found = [principal_for(u) for u in users]
    return [p for p in found if Permission.ALERTS in p.permissions]


def recipients(
    alert: AlertRow, everyone: Sequence[Principal]
) -> tuple[list[Principal], list[Principal]]:
    """(level 1: local people whose scope covers the alert, level 2: province-wide people)."""
    local = [
        p
        for p in everyone
        if not p.scope.province and p.scope.allows(alert.facility, alert.commune)
    ]
    province = [p for p in everyone if p.scope.province]
    return local, province


def as_dict(a: AlertRow) -> dict[str, Any]:
    return {
        "id": a.id,
        "key": a.key,
        "kind": a.kind,
        "rule": a.rule,
        "severity": a.severity,
        "title_vi": a.title_vi,
        "title_en": a.title_en,
        "place_kind": a.place_kind,
        "place": a.place,
        "commune": a.commune,
        "facility": a.facility,
        "period_start": a.period_start.isoformat() if a.period_start else None,
        "details": json.loads(a.details or "{}"),
        "status": a.status,
        "level": a.level,
        "opened_at": _iso(a.opened_at),
        "escalated_at": _iso(a.escalated_at),
        "acknowledged_at": _iso(a.acknowledged_at),
        "acknowledged_by": a.acknowledged_by,
        "closed_at": _iso(a.closed_at),
        "closed_by": a.closed_by,
    }


def _iso(dt: datetime | None) -> str | None:
    found = aware(dt)
    return found.isoformat(timespec="seconds") if found else None


def _notify(
    session: Session,
    settings: Settings,
    alert: AlertRow,
    targets: Sequence[Principal],
    event: str,
    now: datetime,
) -> None:
    """Inbox items, e-mails (to people with an address) and the webhook, for one event."""
    emails = dict(
        session.execute(
            select(Contact.username, Contact.email).where(
                Contact.username.in_([p.name for p in targets])
            )
        ).all()
    )
    prefix = {"escalate": ("[Chuyển cấp] ", "[Escalated] ")}.get(event, ("", ""))
    for p in targets:
        session.add(
            InboxItem(
                username=p.name,
                alert_id=alert.id,
                title_vi=(prefix[0] + alert.title_vi)[:300],
                title_en=(prefix[1] + alert.title_en)[:300],
                created_at=now,
            )
        )
        if p.name in emails:
            delivery.enqueue(
                session,
                dedupe=f"alert:{alert.id}:{event}:{p.name}",
                channel="email",
                target=emails[p.name],
                subject=f"[khoyte] {prefix[0]}{alert.title_vi}"[:300],
                body=alert_email(alert, prefix),
                now=now,
            )
    webhook(session, settings, alert, event, now)


def alert_email(alert: AlertRow, prefix: tuple[str, str] = ("", "")) -> str:
    d = as_dict(alert)
    return (
        f"{prefix[0]}{alert.title_vi}\n"
        f"Mức độ: {alert.severity} · Trạng thái: {alert.status} · Cấp: {alert.level}\n"
        f"Mở trang /alerts/{alert.id} để xác nhận.\n\n"
        f"{prefix[1]}{alert.title_en}\n"
        f"Severity: {alert.severity} · status: {alert.status} · level: {alert.level}\n"
        f"Open /alerts/{alert.id} to acknowledge.\n\n"
        f"{json.dumps(d['details'], ensure_ascii=False)}\n"
    )


def webhook(
    session: Session, settings: Settings, alert: AlertRow, event: str, now: datetime
) -> None:
    """The event to the deployment's webhook (``alert_webhook_url``: the whole province) and to
    every active subscription whose scope covers the alert (:mod:`subscriptions`)."""
    body = json.dumps({"event": f"alert.{event}", "alert": as_dict(alert)}, ensure_ascii=False)
    targets: list[tuple[str, int | None]] = []
    if settings.alert_webhook_url:
        targets.append((settings.alert_webhook_url, None))
    targets += [(sub.url, sub.id) for sub in covering(session, alert.facility, alert.commune)]
    for url, sub_id in targets:
        delivery.enqueue(
            session,
            dedupe=f"webhook:{sub_id or 0}:{alert.id}:{event}:{now.isoformat()}",
            channel="webhook",
            target=url,
            subject=f"alert.{event}",
            body=body,
            now=now,
            subscription_id=sub_id,
        )


def _event(
    session: Session, alert: AlertRow, actor: str, action: str, note: str, now: datetime
) -> None:
    session.add(AlertEvent(alert_id=alert.id, at=now, actor=actor, action=action, note=note))


def open_alerts(
    session: Session, settings: Settings, candidates: Iterable[Candidate], now: datetime
) -> list[AlertRow]:
    """Open an alert for each candidate whose key is new, and deliver it; a known key only
    moves its ``last_seen_at`` (the same alarm computed again is the same alert)."""
    wanted = {c.key: c for c in candidates}
    if not wanted:
        return []
    known = set()
    keys = sorted(wanted)
    for i in range(0, len(keys), 500):
        chunk = keys[i : i + 500]
        for row in session.scalars(select(AlertRow).where(AlertRow.key.in_(chunk))):
            row.last_seen_at = now
            known.add(row.key)
    everyone = people(session)
    opened: list[AlertRow] = []
    for key in keys:
        if key in known:
            continue
        c = wanted[key]
        alert = AlertRow(
            key=c.key, kind=c.kind, rule=c.rule, severity=c.severity,
            title_vi=c.title_vi[:300], title_en=c.title_en[:300], place_kind=c.place_kind,
            place=c.place, commune=c.commune, facility=c.facility, period_start=c.period_start,
            details=json.dumps(c.details, ensure_ascii=False, default=str), status="open",
            level=1, opened_at=now, last_seen_at=now,
        )  # fmt: skip
        local, province = recipients(alert, everyone)
        alert.level = 1 if local else 2
        session.add(alert)
        session.flush()
        _event(session, alert, SYSTEM, "open", "", now)
        audit.record(session, SYSTEM, "alert.open", f"alert:{alert.id}", "success", "",
                     details={"key": c.key, "level": alert.level})  # fmt: skip
        _notify(session, settings, alert, local or province, "open", now)
        opened.append(alert)
    return opened


def _get(session: Session, alert_id: int) -> AlertRow | None:
    return session.get(AlertRow, alert_id)


def visible(principal: Principal, alert: AlertRow) -> bool:
    return Permission.ALERTS in principal.permissions and principal.scope.allows(
        alert.facility, alert.commune
    )


def get_for(session: Session, principal: Principal, alert_id: int) -> AlertRow | None:
    """The alert if the caller may see it, else ``None`` (the route answers 404)."""
    alert = _get(session, alert_id)
    return alert if alert is not None and visible(principal, alert) else None


def _state_error(alert: AlertRow, step: str) -> AlertStateError:
    return AlertStateError(
        "alert_state",
        f"Cảnh báo #{alert.id} đang ở trạng thái {alert.status}: không thể {step}.",
        f"Alert #{alert.id} is {alert.status}: it cannot be {step}d.",
        {"alert": alert.id, "status": alert.status},
    )


def acknowledge(
    session: Session, settings: Settings, alert: AlertRow, who: Principal, note: str,
    now: datetime, ip: str = "",
) -> AlertRow:  # fmt: skip
    if alert.status != "open":
        raise _state_error(alert, "acknowledge")
    alert.status = "acknowledged"
    alert.acknowledged_at = now
    alert.acknowledged_by = who.name
    _event(session, alert, f"user:{who.name}", "acknowledge", note, now)
    audit.record(session, who, "alert.acknowledge", f"alert:{alert.id}", "success", ip,
                 details={"note": note[:500]})  # fmt: skip
    webhook(session, settings, alert, "acknowledged", now)
    return alert


def close(
    session: Session, settings: Settings, alert: AlertRow, who: Principal, note: str,
    now: datetime, ip: str = "",
) -> AlertRow:  # fmt: skip
    if alert.status == "closed":
        raise _state_error(alert, "close")
    alert.status = "closed"
    alert.closed_at = now
    alert.closed_by = who.name
    _event(session, alert, f"user:{who.name}", "close", note, now)
    audit.record(session, who, "alert.close", f"alert:{alert.id}", "success", ip,
                 details={"note": note[:500]})  # fmt: skip
    webhook(session, settings, alert, "closed", now)
    return alert


def escalate_due(session: Session, settings: Settings, now: datetime) -> list[AlertRow]:
    """Level-1 alerts still open (nobody acknowledged) after the escalation delay go to the
    province's people."""
    cutoff = now - timedelta(minutes=settings.alert_escalate_minutes)
    due = session.scalars(
        select(AlertRow).where(
            AlertRow.status == "open", AlertRow.level == 1, AlertRow.opened_at <= cutoff
        )
    ).all()
    if not due:
        return []
    everyone = people(session)
    for alert in due:
        alert.level = 2
        alert.escalated_at = now
        _event(session, alert, SYSTEM, "escalate", "", now)
        audit.record(session, SYSTEM, "alert.escalate", f"alert:{alert.id}", "success", "",
                     details={"minutes": settings.alert_escalate_minutes})  # fmt: skip
        _notify(session, settings, alert, recipients(alert, everyone)[1], "escalate", now)
    return list(due)


def list_for(
    session: Session, principal: Principal, status: str | None = None, limit: int = 200
) -> list[AlertRow]:
    """The alerts the caller may see, newest first (explicitly filtered by scope: this also
    runs outside requests, where the ORM's automatic filter does not)."""
    if Permission.ALERTS not in principal.permissions:
        return []
    stmt = select(AlertRow).where(
        scope_filter(principal.scope, AlertRow.facility, AlertRow.commune)
    )
    if status:
        stmt = stmt.where(AlertRow.status == status)
    stmt = stmt.order_by(AlertRow.opened_at.desc(), AlertRow.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def count_open(session: Session, principal: Principal) -> int:
    stmt = (
        select(func.count())
        .select_from(AlertRow)
        .where(
            AlertRow.status == "open",
            scope_filter(principal.scope, AlertRow.facility, AlertRow.commune),
        )
    )
    return int(session.scalar(stmt) or 0)


def events_of(session: Session, alert_id: int) -> list[AlertEvent]:
    stmt = select(AlertEvent).where(AlertEvent.alert_id == alert_id).order_by(AlertEvent.id)
    return list(session.scalars(stmt))


def inbox_of(session: Session, username: str, limit: int = 100) -> list[InboxItem]:
    stmt = (
        select(InboxItem)
        .where(InboxItem.username == username)
        .order_by(InboxItem.created_at.desc(), InboxItem.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


VN_OFFSET = timedelta(hours=7)


def queue_digests(session: Session, settings: Settings, now: datetime) -> int:
    """Once a day after ``digest_hour`` (Vietnam time): one e-mail per person with an address
    listing the open alerts they may see (none: no e-mail)."""
    local = now + VN_OFFSET
    if local.hour < settings.digest_hour:
        return 0
    day = local.date().isoformat()
    contacts = dict(session.execute(select(Contact.username, Contact.email)).all())
    queued = 0
    for p in people(session):
        if p.name not in contacts:
            continue
        rows = list_for(session, p, "open", limit=50)
        if not rows:
            continue
        lines = [f"- #{a.id} [{a.severity}] {a.title_vi} / {a.title_en}" for a in rows]
        body = (
            f"Tổng hợp cảnh báo đang mở ngày {day}: {len(rows)}\n"
            f"Open alerts on {day}: {len(rows)}\n\n" + "\n".join(lines) + "\n"
        )
        queued += delivery.enqueue(
            session,
            dedupe=f"digest:{p.name}:{day}",
            channel="email",
            target=contacts[p.name],
            subject=f"[khoyte] Tổng hợp cảnh báo {day} / alert digest",
            body=body,
            now=now,
        )
    return queued


def set_contact(session: Session, username: str, email: str) -> None:
    found = session.get(Contact, username)
    if found is None:
        session.add(Contact(username=username, email=email))
    else:
        found.email = email
