"""Delivery (issue 15, item 4): an e-mail received by a real SMTP server (aiosmtpd), a signed
webhook received by a real HTTP server and its signature verified, retries with backoff, the
dead-letter list for IT staff; report requests (item 6) with a file answer and who is late."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from khoyte.store.db import session_scope
from khoyte.surveillance import alerts
from khoyte.surveillance.delivery import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from khoyte.surveillance.tables import OutboxRow
from tests.alerts_helpers import alarm, alerts_env, auth, cycle, services
from tests.security_helpers import Env

SECRET = "webhook-secret-for-tests-0123456789"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(), _port()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    yield box, port
    ctl.stop()


def test_email_alert_reaches_a_real_smtp_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: tuple[Inbox, int]
) -> None:
    box, port = smtp
    env = alerts_env(tmp_path, monkeypatch, smtp_host="127.0.0.1", smtp_port=port,
                     smtp_tls="none", smtp_sender="canhbao@soyte.example.vn", digest_hour=23)  # fmt: skip
    with session_scope(services(env).sessions) as s:
        alerts.set_contact(s, "xa1", "xa1@example.vn")
        alerts.set_contact(s, "xa2", "xa2@example.vn")
    result = cycle(env, [alarm("C1")])  # the real SMTP sender
    assert result.delivery.sent == 1, result.as_dict()
    assert len(box.messages) == 1
    sender, rcpts, raw = box.messages[0]
    assert sender == "canhbao@soyte.example.vn"
    assert rcpts == ["xa1@example.vn"]
    msg = message_from_bytes(raw)
    assert "sốt xuất huyết Dengue" in str(make_header(decode_header(msg["Subject"])))
    assert "C1" in msg.get_payload(decode=True).decode("utf-8")


def test_smtp_down_retries_with_backoff_then_dead_letter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = alerts_env(tmp_path, monkeypatch, smtp_host="127.0.0.1", smtp_port=_port(),
                     smtp_tls="none", delivery_max_attempts=3, delivery_backoff_seconds=60,
                     digest_hour=23)  # fmt: skip
    uri = env.add_user("quantri", ["it_admin"], ["province"])
    with session_scope(services(env).sessions) as s:
        alerts.set_contact(s, "xa1", "xa1@example.vn")
    assert cycle(env, [alarm("C1")]).delivery.retried == 1
    assert cycle(env, []).delivery.retried == 0  # not due yet: 60 s
    env.clock.advance(seconds=60)
    assert cycle(env, []).delivery.retried == 1
    env.clock.advance(seconds=119)
    assert cycle(env, []).delivery.dead == 0  # 120 s after the second failure
    env.clock.advance(seconds=1)
    assert cycle(env, []).delivery.dead == 1
    from tests.security_helpers import totp_now

    assert uri
    tok = env.token("quantri", otp=totp_now(uri, env.clock()))
    client = env.client()
    dead = client.get("/api/v1/admin/dead-letters", headers=auth(tok)).json()
    assert [(d["channel"], d["target"], d["attempts"]) for d in dead] == [
        ("email", "xa1@example.vn", 3)
    ]
    assert "SMTP" in dead[0]["last_error"]
    assert (
        client.get("/api/v1/admin/dead-letters", headers=auth(env.token("xa1"))).status_code == 403
    )
    r = client.post(f"/api/v1/admin/dead-letters/{dead[0]['id']}/retry", headers=auth(tok))
    assert r.status_code == 200
    assert r.json()["status"] == "pending"


class Receiver(BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first = 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append((dict(self.headers.items()), body))
        status = 500 if Receiver.fail_first > 0 else 204
        Receiver.fail_first -= 1
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_signed_webhook_received_verified_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Receiver.got, Receiver.fail_first = [], 1
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/hook"
        env = alerts_env(tmp_path, monkeypatch, alert_webhook_url=url,
                         alert_webhook_secret=SECRET, delivery_backoff_seconds=30)  # fmt: skip
        first = cycle(env, [alarm("C1")])
        assert first.delivery.retried == 1  # the receiver answered 500
        env.clock.advance(seconds=30)
        assert cycle(env, []).delivery.sent == 1
    finally:
        srv.shutdown()
    assert len(Receiver.got) == 2
    headers, body = Receiver.got[-1]
    now = env.clock()
    ts, sig = headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER]
    assert sig.startswith("sha256=")
    assert verify_signature(SECRET, body, ts, sig, now)
    assert not verify_signature(SECRET, body.replace(b"C1", b"C2"), ts, sig, now)  # tampered
    assert not verify_signature("another-secret", body, ts, sig, now)
    assert not verify_signature(SECRET, body, ts, sig, now + timedelta(minutes=10))  # replayed
    event = json.loads(body)
    assert event["event"] == "alert.open"
    assert event["alert"]["place"] == "C1"


def test_report_request_answered_with_a_file_and_who_is_late(env_r: Env) -> None:
    env = env_r
    client = env.client()
    lead, staff1, staff2 = env.token("xa1"), env.token("nv1"), env.token("nv2")
    due = env.clock().date() + timedelta(days=2)
    body = {"title": "Báo cáo ca sốt xuất huyết tuần 10", "unit_kind": "facility", "unit": "F1",
            "due": due.isoformat(), "body": "Gửi danh sách ca bệnh."}  # fmt: skip
    r = client.post("/api/v1/report-requests", json=body, headers=auth(lead))
    assert r.status_code == 201, r.text
    req_id = r.json()["id"]
    # another commune's facility is outside the asker's scope
    r = client.post("/api/v1/report-requests", json={**body, "unit": "F2"}, headers=auth(lead))
    assert r.status_code == 404
    # the unit sees it (and its inbox), the other facility does not
    assert [
        x["id"] for x in client.get("/api/v1/report-requests", headers=auth(staff1)).json()
    ] == [req_id]
    assert client.get("/api/v1/report-requests", headers=auth(staff2)).json() == []
    assert any(
        i["request_id"] == req_id for i in client.get("/api/v1/inbox", headers=auth(staff1)).json()
    )
    r = client.post("/api/v1/report-answers", data={"request_id": str(req_id)},
                    files={"file": ("ca.csv", b"x" * 30)}, headers=auth(staff2))  # fmt: skip
    assert r.status_code == 404
    r = client.post("/api/v1/report-answers", data={"request_id": str(req_id)},
                    files={"file": ("ca.csv", b"x" * 3000)}, headers=auth(staff1))  # fmt: skip
    assert r.status_code == 413  # report_max_bytes = 2048 in this test
    # a second request, never answered: late once its due date has passed
    late = client.post("/api/v1/report-requests", json={**body, "title": "Báo cáo tháng"},
                       headers=auth(lead)).json()["id"]  # fmt: skip
    content = b"MA_LK,MA_BENH\nA1,A91\n"
    r = client.post("/api/v1/report-answers", data={"request_id": str(req_id), "note": "đã gửi"},
                    files={"file": ("ca.csv", content)}, headers=auth(staff1))  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "answered"
    assert r.json()["file_size"] == len(content)
    assert (
        client.get(f"/api/v1/report-requests/{req_id}/file", headers=auth(lead)).content == content
    )
    env.clock.advance(days=3)
    assert cycle(env, [], rules=[]).reminders == 1  # the unanswered one
    lead = env.token("xa1")  # the first token expired meanwhile
    listed = client.get("/api/v1/report-requests?late=true", headers=auth(lead)).json()
    assert [x["id"] for x in listed] == [late]
    with session_scope(services(env).sessions) as s:
        assert s.scalars(select(OutboxRow)).all() == []  # nobody has an e-mail address here


@pytest.fixture
def env_r(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    return alerts_env(tmp_path, monkeypatch, report_max_bytes=2048)
