"""Tables of alerting in the operational store (Alembic branch ``surveillance``): alerts and
their story, each person's inbox, people's e-mail addresses, the delivery outbox (e-mail and
webhooks, with retries and a dead-letter list) and report requests to units."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from khoyte.security.scoping import OrgUnitScoped
from khoyte.store.db import Base


class AlertRow(OrgUnitScoped, Base):
    """One alert: opened once per ``key`` (an alarm, a threshold crossed on a day, a facility's
    silence, a quality spike), then acknowledged and closed by people. Scoped by the facility
    and the commune it is about (a province-wide alert has neither: only the province sees it)."""

    __tablename__ = "sv_alert"
    __scope_facility__ = "facility"
    __scope_commune__ = "commune"
    __table_args__ = (Index("ix_sv_alert_status", "status", "level"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)  # deduplication
    kind: Mapped[str] = mapped_column(String(16))  # alarm | threshold | silent | quality
    rule: Mapped[str] = mapped_column(String(64))  # the rule's name in the rules file
    severity: Mapped[str] = mapped_column(String(8))  # high | medium | low
    title_vi: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    place_kind: Mapped[str] = mapped_column(String(16))  # commune | facility | province
    place: Mapped[str] = mapped_column(String(32))
    commune: Mapped[str | None] = mapped_column(String(16), index=True)
    facility: Mapped[str | None] = mapped_column(String(16), index=True)
    period_start: Mapped[date | None] = mapped_column(Date)
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON: observed, expected, …
    status: Mapped[str] = mapped_column(String(16))  # open | acknowledged | closed
    level: Mapped[int] = mapped_column(Integer, default=1)  # 1: local leaders, 2: province
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(200))


class AlertEvent(Base):
    """The story of an alert: who did what, when, with which note (the audit trail holds the
    same facts, hash-chained; this is what the alert's page shows)."""

    __tablename__ = "sv_alert_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("sv_alert.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(16))  # open | acknowledge | close | escalate
    note: Mapped[str] = mapped_column(Text, default="")


class InboxItem(Base):
    """One message in one person's in-app inbox (an alert, an escalation, a report request)."""

    __tablename__ = "sv_inbox"
    __table_args__ = (Index("ix_sv_inbox_user", "username", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("sv_alert.id"))
    request_id: Mapped[int | None] = mapped_column(ForeignKey("sv_report_request.id"))
    title_vi: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Contact(Base):
    """Where a person receives e-mail (``khoyte alerts contact USER --email …``)."""

    __tablename__ = "sv_contact"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))


class OutboxRow(Base):
    """One message to send (e-mail or webhook). Written in the transaction that decides it;
    sent later by the delivery worker, so nothing upstream waits on a mail server. ``dedupe``
    makes the same message (an alert to a person, a day's digest) be queued once."""

    __tablename__ = "sv_outbox"
    __table_args__ = (Index("ix_sv_outbox_due", "status", "next_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dedupe: Mapped[str] = mapped_column(String(255), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook
    target: Mapped[str] = mapped_column(String(500))  # e-mail address or URL
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)  # plain text (e-mail) or JSON (webhook)
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # a webhook to a subscription: signed with that subscription's own secret
    subscription_id: Mapped[int | None] = mapped_column(Integer)


class WebhookSubscription(Base):
    """A receiver of alert events for one scope (``province`` | ``commune:CODE`` |
    ``facility:CODE``): it gets the events of the alerts that scope covers, as people do, signed
    with its own secret (a commune's receiver cannot forge or read the province's). Kept in
    the store because the HMAC needs the secret itself; only IT staff (``admin_users``) see
    the list, and the secret is shown once, when created."""

    __tablename__ = "sv_webhook"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(48))
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    note: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReportRequest(OrgUnitScoped, Base):
    """A leader asks a unit (a facility, or a commune's health centre) for a report by a date
    (seed 000 §3.3.4.9); the unit answers with a file or a data set (JSON)."""

    __tablename__ = "sv_report_request"
    __scope_facility__ = "facility"
    __scope_commune__ = "commune"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(200))
    unit_kind: Mapped[str] = mapped_column(String(16))  # facility | commune
    unit: Mapped[str] = mapped_column(String(32))
    facility: Mapped[str | None] = mapped_column(String(16), index=True)
    commune: Mapped[str | None] = mapped_column(String(16), index=True)
    due: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # open | answered
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by: Mapped[str | None] = mapped_column(String(200))
    answer_note: Mapped[str | None] = mapped_column(Text)
    answer_data: Mapped[str | None] = mapped_column(Text)  # a data set, JSON
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_size: Mapped[int | None] = mapped_column(Integer)
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
