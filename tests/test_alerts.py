"""Alerts (issue 15, items 3–4): opened once per key, scoped, delivered to the right people,
acknowledged and closed with notes (audited), escalated when nobody acknowledges them; the
scope matrix: a commune's leader never receives nor sees another commune's alert."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from khoyte.security.models import AuditEntry
from khoyte.store.db import session_scope
from khoyte.surveillance import alerts, rules
from khoyte.surveillance.tables import AlertRow, InboxItem
from tests.alerts_helpers import PEOPLE, Sent, alarm, alerts_env, auth, cycle, services
from tests.security_helpers import Env


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    return alerts_env(tmp_path, monkeypatch)


def _inbox(env: Env) -> dict[str, set[str]]:
    with session_scope(services(env).sessions) as s:
        rows = s.execute(select(InboxItem.username, AlertRow.place).join(AlertRow)).all()
    out: dict[str, set[str]] = {name: set() for name in PEOPLE}
    for user, place in rows:
        out[user].add(place)
    return out


def test_scope_matrix_receive_and_see(env: Env) -> None:
    """Three alerts (commune C1, commune C2, facility F2 in C2, and a province-wide one):
    each person receives and sees exactly those of their scope, before and after escalation."""
    sent = Sent([], [])
    result = cycle(
        env, [alarm("C1"), alarm("C2"), alarm("F2", "facility"), alarm("44", "province")], sent
    )
    assert len(result.opened) == 4
    received = {  # level 1: the local leaders; a province-wide alarm goes to the province at once
        "xa1": {"C1"}, "xa2": {"C2", "F2"}, "tinh": {"44"}, "nv1": set(), "nv2": set(),
    }  # fmt: skip
    assert _inbox(env) == received
    seen = {"xa1": {"C1"}, "xa2": {"C2", "F2"}, "tinh": {"C1", "C2", "F2", "44"}}
    client = env.client()
    tokens = {name: env.token(name) for name in PEOPLE}
    for name, places in seen.items():
        r = client.get("/api/v1/alerts", headers=auth(tokens[name]))
        assert r.status_code == 200, r.text
        assert {a["place"] for a in r.json()["alerts"]} == places, name
        assert r.json()["open"] == len(places)
    for name in ("nv1", "nv2"):  # facility staff do not hold ALERTS
        assert client.get("/api/v1/alerts", headers=auth(tokens[name])).status_code == 403
    # one by one: another commune's alert is 404 for reading and for acting (audited)
    with session_scope(services(env).sessions) as s:
        ids = {a.place: a.id for a in s.scalars(select(AlertRow))}
    for name, places in seen.items():
        for place, alert_id in ids.items():
            r = client.get(f"/api/v1/alerts/{alert_id}", headers=auth(tokens[name]))
            assert r.status_code == (200 if place in places else 404), (name, place)
    r = client.post(f"/api/v1/alerts/{ids['C2']}/acknowledge", json={"note": "x"},
                    headers=auth(tokens["xa1"]))  # fmt: skip
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    # escalation reaches the province, never the other commune
    env.clock.advance(minutes=env.settings.alert_escalate_minutes + 1)
    result = cycle(env, [], sent)
    assert sorted(result.escalated) == sorted([ids["C1"], ids["C2"], ids["F2"]])
    received["tinh"] |= {"C1", "C2", "F2"}
    assert _inbox(env) == received
    with session_scope(services(env).sessions) as s:
        denied = s.scalars(select(AuditEntry).where(AuditEntry.action == "scope.denied")).all()
    assert len(denied) >= 4


def test_lifecycle_notes_audit_and_dedup(env: Env) -> None:
    sent = Sent([], [])
    first = cycle(env, [alarm("C1")], sent)
    again = cycle(env, [alarm("C1")], sent)  # the same alarm computed again: the same alert
    assert len(first.opened) == 1
    assert again.opened == []
    alert_id = first.opened[0]
    client, tok = env.client(), env.token("xa1")
    r = client.post(f"/api/v1/alerts/{alert_id}/close", json={"note": ""}, headers=auth(tok))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "note_required"
    r = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": "đã nhận"},
                    headers=auth(tok))  # fmt: skip
    assert r.status_code == 200
    assert r.json()["status"] == "acknowledged"
    assert r.json()["acknowledged_by"] == "xa1"
    r = client.post(f"/api/v1/alerts/{alert_id}/acknowledge", json={"note": ""}, headers=auth(tok))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "alert_state"
    assert client.get("/api/v1/alerts?status=open", headers=auth(tok)).json()["alerts"] == []
    r = client.post(f"/api/v1/alerts/{alert_id}/close", json={"note": "đã phun hoá chất"},
                    headers=auth(tok))  # fmt: skip
    assert r.status_code == 200
    assert r.json()["status"] == "closed"
    detail = client.get(f"/api/v1/alerts/{alert_id}", headers=auth(tok)).json()
    assert [(e["action"], e["note"]) for e in detail["events"]] == [
        ("open", ""), ("acknowledge", "đã nhận"), ("close", "đã phun hoá chất"),
    ]  # fmt: skip
    with session_scope(services(env).sessions) as s:
        trail = [(e.actor, e.action) for e in s.scalars(
            select(AuditEntry).where(AuditEntry.action.startswith("alert.")).order_by(AuditEntry.seq))]  # fmt: skip
    assert trail == [
        ("system:alerts", "alert.open"), ("user:xa1", "alert.acknowledge"),
        ("user:xa1", "alert.close"),
    ]  # fmt: skip
    # an acknowledged alert does not escalate; a closed one is not reopened by the same key
    env.clock.advance(hours=5)
    assert cycle(env, [alarm("C1")], sent).escalated == []


def test_unacknowledged_alert_escalates_after_the_delay(env: Env) -> None:
    sent = Sent([], [])
    with session_scope(services(env).sessions) as s:
        alerts.set_contact(s, "tinh", "giamdoc@soyte.example.vn")
        alerts.set_contact(s, "xa1", "xa1@example.vn")
    ids = cycle(env, [alarm("C1"), alarm("C1", week=11)], sent).opened
    env.clock.advance(minutes=10)
    tok = env.token("xa1")
    assert env.client().post(f"/api/v1/alerts/{ids[1]}/acknowledge", json={"note": ""},
                             headers=auth(tok)).status_code == 200  # fmt: skip
    env.clock.advance(minutes=env.settings.alert_escalate_minutes - 11)
    assert cycle(env, [], sent).escalated == []  # not yet: 59 minutes
    env.clock.advance(minutes=2)
    assert cycle(env, [], sent).escalated == [ids[0]]
    assert cycle(env, [], sent).escalated == []  # once
    with session_scope(services(env).sessions) as s:
        a = s.get(AlertRow, ids[0])
        assert a is not None
        assert a.level == 2
        assert a.status == "open"
    digests = [e for e in sent.emails if "digest" in e[1]]
    alerts_sent = [e for e in sent.emails if "digest" not in e[1]]
    to_province = [e for e in alerts_sent if e[0] == "giamdoc@soyte.example.vn"]
    assert len(to_province) == 1
    assert "[Chuyển cấp]" in to_province[0][1]
    assert sorted(e[0] for e in alerts_sent) == ["giamdoc@soyte.example.vn", "xa1@example.vn",
                                                 "xa1@example.vn"]  # fmt: skip
    # the daily digest (15:00 in Vietnam, after digest_hour): once per person and day
    assert sorted(e[0] for e in digests) == ["giamdoc@soyte.example.vn", "xa1@example.vn"]
    assert f"#{ids[0]}" in next(e[2] for e in digests if e[0] == "giamdoc@soyte.example.vn")


def test_rules_file_is_data(tmp_path: Path) -> None:
    built_in = rules.load_rules()
    assert {r.kind for r in built_in} == set(rules.KINDS)
    mine = tmp_path / "rules.toml"
    mine.write_text('[[rule]]\nname = "tu-vong"\nkind = "threshold"\nindicator = "deaths"\n'
                    'per = "facility"\nabove = 1\n[[rule]]\nname = "co-so-im-lang"\nkind = "silent"\n'
                    'enabled = false\n', encoding="utf-8")  # fmt: skip
    laid = {r.name: r for r in rules.load_rules(mine)}
    assert laid["tu-vong"].above == 1
    assert "co-so-im-lang" not in laid
    mine.write_text('[[rule]]\nname = "x"\nkind = "threshold"\nindicator = "drop table"\n')
    with pytest.raises(rules.TerminalError) as err:
        rules.load_rules(mine)
    assert err.value.code == "alert_rule_invalid"
