"""Who receives alerts, per scope: people's e-mail addresses and webhook subscriptions.

People receive the alerts their scope covers (:func:`khoyte.surveillance.alerts` decides who,
level by level); here IT staff set where each person's e-mail goes. A webhook subscription has
a scope of its own (``province`` | ``commune:CODE`` | ``facility:CODE``) and receives the events
of the alerts that scope covers, by the same rule as people (:meth:`Scope.allows`): a commune
leader's webhook never receives another commune's alert. Each subscription signs with its own
secret. Every change is audited (``alert_contact.set``, ``alert_webhook.add`` / ``.remove``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.access import Permission, Principal
from khoyte.errors import TerminalError
from khoyte.security import audit
from khoyte.security.models import User
from khoyte.security.roles import build_scope, format_scope, parse_scope
from khoyte.security.service import principal_for
from khoyte.surveillance.tables import Contact, WebhookSubscription


def _scope_text(text: str) -> str:
    try:
        return format_scope(*parse_scope(text))
    except ValueError as exc:
        raise TerminalError("scope_invalid", "Phạm vi không hợp lệ (province, commune:MÃ, "
                            "facility:MÃ).", "Invalid scope (province, commune:CODE, "
                            "facility:CODE).", {"scope": text[:60]}) from exc  # fmt: skip


def covering(
    session: Session, facility: str | None, commune: str | None
) -> list[WebhookSubscription]:
    """The active subscriptions whose scope covers an alert about ``facility`` / ``commune``."""
    subs = session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
    ).all()
    return [s for s in subs if build_scope([parse_scope(s.scope)]).allows(facility, commune)]


def subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def add_subscription(
    session: Session, who: Principal, *, scope: str, url: str, note: str, now: datetime,
    secret: str = "", ip: str = "",
) -> WebhookSubscription:  # fmt: skip
    """A new subscription; the secret is generated when not given (shown to the admin once)."""
    scope = _scope_text(scope)
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or len(url) > 500:
        raise TerminalError("webhook_url", "Địa chỉ webhook phải là một URL http(s).",
                            "The webhook address must be an http(s) URL.", {"url": url[:100]})  # fmt: skip
    secret = secret.strip() or secrets.token_urlsafe(32)
    if len(secret) < 16 or len(secret) > 128:
        raise TerminalError("webhook_secret", "Khoá bí mật cần từ 16 đến 128 ký tự.",
                            "The secret needs 16 to 128 characters.")  # fmt: skip
    sub = WebhookSubscription(scope=scope, url=url.strip(), secret=secret, note=note.strip()[:200],
                              active=True, created_by=who.name, created_at=now)  # fmt: skip
    session.add(sub)
    session.flush()
    audit.record(session, who, "alert_webhook.add", f"alert_webhook:{sub.id}", "success", ip,
                 details={"scope": scope, "url": sub.url})  # fmt: skip
    return sub


def remove_subscription(session: Session, who: Principal, sub_id: int, ip: str = "") -> bool:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None:
        return False
    audit.record(session, who, "alert_webhook.remove", f"alert_webhook:{sub.id}", "success", ip,
                 details={"scope": sub.scope, "url": sub.url})  # fmt: skip
    session.delete(sub)
    return True


@dataclass(frozen=True)
class Recipient:
    username: str
    full_name: str
    roles: list[str]
    scopes: list[str]
    email: str


def recipients(session: Session) -> dict[str, list[Recipient]]:
    """The people who receive alerts (``alerts`` permission, active), by scope."""
    emails = dict(session.execute(select(Contact.username, Contact.email)).all())
    out: dict[str, list[Recipient]] = {}
    for user in session.scalars(select(User).where(User.active.is_(True)).order_by(User.username)):
        p = principal_for(user)
        if Permission.ALERTS not in p.permissions:
            continue
        scopes = (["province"] if p.scope.province else []) + [
            format_scope("commune", c) for c in sorted(p.scope.communes)
        ] + [format_scope("facility", f) for f in sorted(p.scope.facilities)]  # fmt: skip
        r = Recipient(user.username, getattr(user, "full_name", "") or "", sorted(p.roles),
                      scopes, emails.get(user.username, ""))  # fmt: skip
        for scope in scopes or ["—"]:
            out.setdefault(scope, []).append(r)
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != "province", kv[0])))


def set_contact(
    session: Session, who: Principal | str, username: str, email: str, ip: str = ""
) -> None:
    """Set (or, empty, remove) where ``username`` receives alert e-mails; audited."""
    email = email.strip()
    if email and ("@" not in email or len(email) > 254 or any(c.isspace() for c in email)):
        raise TerminalError("email_invalid", "Địa chỉ thư không hợp lệ.",
                            "Invalid e-mail address.", {"email": email[:60]})  # fmt: skip
    if session.scalar(select(User.username).where(User.username == username)) is None:
        raise TerminalError("user_unknown", "Không có người dùng này.", "No such user.",
                            {"username": username[:64]})  # fmt: skip
    found = session.get(Contact, username)
    before = found.email if found else ""
    if not email:
        if found is not None:
            session.delete(found)
    elif found is None:
        session.add(Contact(username=username, email=email))
    else:
        found.email = email
    audit.record(session, who, "alert_contact.set", f"user:{username}", "success", ip,
                 details={"before": before, "after": email})  # fmt: skip
