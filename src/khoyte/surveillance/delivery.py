"""Delivery: an outbox in the operational store, sent by a worker, never inline.

Whoever decides a message (an alert opened, escalated, a digest, a reminder) writes an outbox
row in its own transaction (:func:`enqueue`); :func:`process_outbox` later sends what is due —
e-mail over SMTP, webhooks signed with HMAC-SHA256 — retrying with exponential backoff
(``delivery_backoff_seconds`` × 2ⁿ) and moving a message that failed
``delivery_max_attempts`` times to the dead-letter list (IT staff see it and may retry).

**Webhook signature.** ``X-Khoyte-Timestamp: <unix seconds>`` and ``X-Khoyte-Signature:
sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``. A receiver recomputes it
(:func:`verify_signature`) and refuses a timestamp more than five minutes away from its clock,
so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from khoyte.config import Settings
from khoyte.security.service import aware
from khoyte.store.db import session_scope
from khoyte.surveillance.tables import OutboxRow, WebhookSubscription

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Khoyte-Signature"
TIMESTAMP_HEADER = "X-Khoyte-Timestamp"
REPLAY_TOLERANCE_SECONDS = 300


def enqueue(
    session: Session,
    *,
    dedupe: str,
    channel: str,
    target: str,
    subject: str,
    body: str,
    now: datetime,
    subscription_id: int | None = None,
) -> int:
    """Queue one message (1) unless the same ``dedupe`` was queued before (0); a webhook to a
    subscription (``subscription_id``) is signed with that subscription's secret."""
    dedupe = dedupe[:255]
    if session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe == dedupe)) is not None:
        return 0
    try:
        with session.begin_nested():
            session.add(
                OutboxRow(
                    dedupe=dedupe, channel=channel, target=target[:500], subject=subject[:300],
                    body=body, status="pending", attempts=0, next_at=now, created_at=now,
                    subscription_id=subscription_id,
                )
            )  # fmt: skip
    except IntegrityError:  # queued meanwhile by another worker
        return 0
    return 1


# --- signing ---------------------------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    body: bytes,
    timestamp: str | None,
    given: str | None,
    now: datetime,
    tolerance: int = REPLAY_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    if not timestamp or not given or not timestamp.isdigit():
        return False
    ts = int(timestamp)
    if abs(now.timestamp() - ts) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, ts, body), given)


# --- senders ---------------------------------------------------------------------------------

EmailSender = Callable[[Settings, str, str, str], None]
WebhookSender = Callable[[Settings, str, str, datetime], None]


class DeliveryError(Exception):
    """A send failed; the message is retried later."""


def send_email(settings: Settings, to: str, subject: str, body: str) -> None:
    """One e-mail over SMTP (``smtp_*`` settings)."""
    if not settings.smtp_host:
        raise DeliveryError("no SMTP server configured (KHOYTE_SMTP_HOST)")
    msg = EmailMessage()
    msg["From"] = settings.smtp_sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    context = ssl.create_default_context()
    try:
        smtp: smtplib.SMTP
        if settings.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=20,
                                    context=context)  # fmt: skip
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20)
        with smtp:
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=context)
            if settings.smtp_user:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_user, password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc


def post_webhook(settings: Settings, url: str, body: str, now: datetime) -> None:
    """POST the JSON body, signed; any answer but 2xx is a failure (retried)."""
    if settings.alert_webhook_secret is None:
        raise DeliveryError("no webhook secret configured (KHOYTE_ALERT_WEBHOOK_SECRET)")
    raw = body.encode("utf-8")
    ts = int(now.timestamp())
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: signature(settings.alert_webhook_secret.get_secret_value(), ts, raw),
    }
    try:
        r = httpx.post(url, content=raw, headers=headers, timeout=15)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook {url}: {exc}") from exc
    if not 200 <= r.status_code < 300:
        raise DeliveryError(f"webhook {url}: HTTP {r.status_code}")


@dataclass
class Senders:
    email: EmailSender = send_email
    webhook: WebhookSender = post_webhook


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0


def backoff(settings: Settings, attempts: int) -> timedelta:
    return timedelta(seconds=settings.delivery_backoff_seconds * (2 ** max(attempts - 1, 0)))


def process_outbox(
    sessions: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    senders: Senders | None = None,
    limit: int = 100,
) -> DeliveryStats:
    """Send what is due. Each message is sent outside any transaction, then its outcome is
    written (a crash between the two sends it again: receivers deduplicate by the alert id)."""
    senders = senders or Senders()
    stats = DeliveryStats()
    with session_scope(sessions) as s:
        due = s.execute(
            select(OutboxRow.id, OutboxRow.channel, OutboxRow.target, OutboxRow.subject,
                   OutboxRow.body, OutboxRow.subscription_id)
            .where(OutboxRow.status == "pending", OutboxRow.next_at <= now)
            .order_by(OutboxRow.next_at, OutboxRow.id)
            .limit(limit)
        ).all()  # fmt: skip
        subs = {sid: s.get(WebhookSubscription, sid) for sid in {r[5] for r in due} if sid}
    for row_id, channel, target, subject, body, sub_id in due:
        error: str | None = None
        try:
            if channel == "email":
                senders.email(settings, target, subject, body)
            elif sub_id is None:
                senders.webhook(settings, target, body, now)
            elif (sub := subs.get(sub_id)) is None or not sub.active:
                raise DeliveryError(f"webhook subscription #{sub_id} removed or turned off")
            else:  # the subscription's own secret signs it
                own = settings.model_copy(update={"alert_webhook_secret": SecretStr(sub.secret)})
                senders.webhook(own, target, body, now)
        except DeliveryError as exc:
            error = str(exc)
        except Exception as exc:  # a sender's bug must not stop the others
            log.exception("delivery of outbox #%s failed", row_id)
            error = f"{type(exc).__name__}: {exc}"
        with session_scope(sessions) as s:
            row = s.get(OutboxRow, row_id)
            if row is None:
                continue
            row.attempts += 1
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", now, None
                stats.sent += 1
            elif row.attempts >= settings.delivery_max_attempts:
                row.status, row.last_error = "dead", error[:2000]
                stats.dead += 1
            else:
                row.next_at = now + backoff(settings, row.attempts)
                row.last_error = error[:2000]
                stats.retried += 1
    return stats


def dead_letters(session: Session, limit: int = 200) -> list[OutboxRow]:
    stmt = (
        select(OutboxRow)
        .where(OutboxRow.status == "dead")
        .order_by(OutboxRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def retry(session: Session, outbox_id: int, now: datetime) -> bool:
    """Put a dead letter back in the queue (IT staff, after fixing the server or the URL)."""
    row = session.get(OutboxRow, outbox_id)
    if row is None or row.status != "dead":
        return False
    row.status, row.attempts, row.next_at = "pending", 0, now
    return True


def outbox_dict(row: OutboxRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "target": row.target,
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "created_at": aware(row.created_at).isoformat(timespec="seconds")  # type: ignore[union-attr]
        if row.created_at
        else None,
    }
