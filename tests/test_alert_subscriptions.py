"""Alert recipients and webhook subscriptions per scope, edited on /admin/alert-delivery
(issue 15, delivery): IT staff set a person's e-mail address and add or remove webhooks with a
scope, every change audited; a commune's subscriber never receives another commune's alert,
the province's receives all; each subscription signs with its own secret."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import lxml.html as lhtml
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from khoyte.config import Settings
from khoyte.security.models import AuditEntry
from khoyte.store.db import session_scope
from khoyte.surveillance.delivery import Senders, signature, verify_signature
from khoyte.surveillance.tables import Contact
from tests.alerts_helpers import alarm, alerts_env, cycle, services
from tests.security_helpers import Env, csrf_from, sign_in, totp_now

PATH = "/admin/alert-delivery"
EDITS = ("alert_contact.set", "alert_webhook.add", "alert_webhook.remove")


class Capture:
    """The senders, recording each webhook with the signature its settings' secret gives."""

    def __init__(self) -> None:
        self.hooks: list[tuple[str, dict[str, object], str]] = []  # url, event, signature
        self.emails: list[tuple[str, str]] = []

    def senders(self) -> Senders:
        def hook(settings: Settings, url: str, body: str, now: datetime) -> None:
            secret = settings.alert_webhook_secret
            assert isinstance(secret, SecretStr)
            sig = signature(secret.get_secret_value(), int(now.timestamp()), body.encode())
            self.hooks.append((url, json.loads(body), sig))

        return Senders(
            email=lambda _s, to, subject, _b: self.emails.append((to, subject)), webhook=hook
        )


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    return alerts_env(tmp_path, monkeypatch)


def _admin(env: Env) -> tuple[object, str]:
    uri = env.add_user("quantri", ["it_admin"], ["province"])
    c = env.client()
    r = sign_in(c, "quantri", otp=totp_now(uri, env.clock()) if uri else "")
    assert r.status_code in (302, 303), r.text
    page = c.get(PATH)
    assert page.status_code == 200
    return c, csrf_from(page.text)


def test_admin_edits_recipients_and_webhooks_per_scope(env: Env) -> None:
    c, csrf = _admin(env)
    doc = lhtml.fromstring(c.get(PATH).text)  # type: ignore[attr-defined]
    assert doc.xpath("//h1")[0].text_content() == "Gửi cảnh báo"
    scopes = doc.xpath('//h3[@class="scope-head"]/@data-scope')
    assert scopes == ["province", "commune:C1", "commune:C2"]  # people with `alerts`, by scope
    assert doc.xpath('//li[@data-scope="commune:C1"]/@data-user') == ["xa1"]
    post = c.post  # type: ignore[attr-defined]
    assert post(f"{PATH}/contact", data={"csrf_token": csrf, "username": "xa1",
                                         "email": "xa1@example.vn"}).status_code == 303  # fmt: skip
    bad = post(f"{PATH}/contact", data={"csrf_token": csrf, "username": "xa2", "email": "no"})
    assert bad.status_code == 422
    assert "không hợp lệ" in bad.text
    secrets = {}
    for scope, url in (("commune:C1", "https://xa1.example.vn/hook"),
                       ("province", "https://soyte.example.vn/hook")):  # fmt: skip
        r = post(f"{PATH}/webhooks", data={"csrf_token": csrf, "action": "add", "scope": scope,
                                           "url": url, "note": scope})  # fmt: skip
        assert r.status_code == 200
        secrets[url] = lhtml.fromstring(r.text).xpath('//*[@id="webhook-secret"]')[0].text
        assert len(secrets[url]) >= 32
    r = post(f"{PATH}/webhooks", data={"csrf_token": csrf, "action": "add", "scope": "xa:C1",
                                       "url": "https://x.example.vn"})  # fmt: skip
    assert r.status_code == 422
    assert "Phạm vi không hợp lệ" in r.text
    listed = lhtml.fromstring(c.get(PATH).text)  # type: ignore[attr-defined]
    assert listed.xpath('//table[@id="webhooks"]//tr/@data-scope') == ["commune:C1", "province"]
    assert secrets["https://xa1.example.vn/hook"] not in c.get(PATH).text  # shown once only

    # alarms in both communes: each subscriber gets what its scope covers, signed with its key
    sent = Capture()
    cycle(env, [alarm("C1"), alarm("C2")], senders=sent.senders())
    got: dict[str, list[str]] = {}
    for url, event, sig in sent.hooks:
        alert = event["alert"]
        assert isinstance(alert, dict)
        got.setdefault(url, []).append(str(alert["commune"]))
        ts = str(int(env.clock().timestamp()))
        body = json.dumps(event, ensure_ascii=False).encode()
        assert verify_signature(secrets[url], body, ts, sig, env.clock())
        other = next(s for u, s in secrets.items() if u != url)
        assert not verify_signature(other, body, ts, sig, env.clock())
    assert got["https://xa1.example.vn/hook"] == ["C1"]  # never C2's alert
    assert sorted(got["https://soyte.example.vn/hook"]) == ["C1", "C2"]
    alert_mails = [(to, subj) for to, subj in sent.emails if "Tổng hợp" not in subj]  # no digest
    assert [(to, "xã C1" in subj) for to, subj in alert_mails] == [("xa1@example.vn", True)]

    # removed: the commune's receiver gets nothing more; the edits are in the audit trail
    sub_id = listed.xpath('//table[@id="webhooks"]//tr[@data-scope="commune:C1"]/@data-id')[0]
    r = post(f"{PATH}/webhooks", data={"csrf_token": csrf, "action": "remove",
                                       "webhook_id": sub_id})  # fmt: skip
    assert r.status_code == 303
    sent = Capture()
    cycle(env, [alarm("C1", week=11)], senders=sent.senders())
    assert [u for u, _, _ in sent.hooks] == ["https://soyte.example.vn/hook"]
    with session_scope(services(env).sessions) as s:
        assert s.get(Contact, "xa1").email == "xa1@example.vn"  # type: ignore[union-attr]
        actions = [
            (e.actor, e.action, e.target)
            for e in s.scalars(
                select(AuditEntry).where(AuditEntry.action.in_(EDITS)).order_by(AuditEntry.seq)
            )
        ]
    assert actions == [
        ("user:quantri", "alert_contact.set", "user:xa1"),
        ("user:quantri", "alert_webhook.add", "alert_webhook:1"),
        ("user:quantri", "alert_webhook.add", "alert_webhook:2"),
        ("user:quantri", "alert_webhook.remove", f"alert_webhook:{sub_id}"),
    ]


def test_only_it_staff_open_the_page(env: Env) -> None:
    c = env.client()
    sign_in(c, "tinh")
    assert c.get(PATH).status_code == 403
    assert c.post(f"{PATH}/webhooks", data={"action": "add"}).status_code == 403


def test_the_command_line_sets_a_contact_audited_like_the_page(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from khoyte.cli import app

    monkeypatch.setenv("KHOYTE_DATA_DIR", str(env.settings.data_dir))
    monkeypatch.setenv("KHOYTE_DATABASE_URL", str(env.settings.database_url))
    runner = CliRunner()
    done = runner.invoke(app, ["alerts", "contact", "xa1", "--email", "xa1@soyte.example.vn"])
    assert done.exit_code == 0, done.output
    bad = runner.invoke(app, ["alerts", "contact", "xa1", "--email", "not an address"])
    assert bad.exit_code == 2
    assert "email_invalid" in bad.output
    nobody = runner.invoke(app, ["alerts", "contact", "khong-co", "--email", "a@b.vn"])
    assert nobody.exit_code == 2
    assert "user_unknown" in nobody.output
    with session_scope(services(env).sessions) as s:
        assert s.get(Contact, "xa1").email == "xa1@soyte.example.vn"  # type: ignore[union-attr]
        entries = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "alert_contact.set")
        ).all()
        assert [(e.actor.startswith("cli:"), e.target) for e in entries] == [(True, "user:xa1")]
