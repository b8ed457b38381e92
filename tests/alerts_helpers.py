"""Helpers for the alert tests: an app on a real store with leaders of two communes and of the
province, a facility's staff, alarms handed in directly, a settable clock everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from khoyte.registry.models import Facility
from khoyte.services import Services
from khoyte.store.db import session_scope
from khoyte.surveillance import runner
from khoyte.surveillance.delivery import Senders
from khoyte.surveillance.model import Alarm
from khoyte.surveillance.rules import Rule
from tests.security_helpers import Env, make_env

ALARM_RULE = Rule(name="dich-benh", kind="alarm", severity="high")
PEOPLE = {  # username: (roles, scopes)
    "xa1": (["commune_leader"], ["commune:C1"]),
    "xa2": (["commune_leader"], ["commune:C2"]),
    "tinh": (["province_leader"], ["province"]),
    "nv1": (["facility_staff"], ["facility:F1"]),
    "nv2": (["facility_staff"], ["facility:F2"]),
}


def alarm(place: str, kind: str = "commune", signal: str = "dengue", week: int = 10) -> Alarm:
    return Alarm(
        signal=signal, algorithm="ears_c2", place_kind=kind, place=place,
        period_start=date.fromisocalendar(2026, week, 1), frequency="week",
        observed=14, expected=3.2, upperbound=7.5, score=0.87,
    )  # fmt: skip


@dataclass
class Sent:
    emails: list[tuple[str, str, str]]
    webhooks: list[tuple[str, str]]

    def senders(self) -> Senders:
        return Senders(
            email=lambda _s, to, subject, body: self.emails.append((to, subject, body)),
            webhook=lambda _s, url, body, _now: self.webhooks.append((url, body)),
        )


def alerts_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> Env:
    overrides.setdefault("alerts_interval_seconds", 0)
    overrides.setdefault("warehouse_refresh_seconds", 0)
    env = make_env(tmp_path, monkeypatch, **overrides)
    services(env).clock = env.clock
    for name, (roles, scopes) in PEOPLE.items():
        env.add_user(name, roles, scopes)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with session_scope(services(env).sessions) as s:
        for code, commune in (("F1", "C1"), ("F2", "C2")):
            s.add(Facility(code=code, name=f"Trạm Y tế {commune}", commune=commune,
                           created_at=now, revision=1))  # fmt: skip
    return env


def services(env: Env) -> Services:
    found: Services = env.app.state.services
    return found


def cycle(env: Env, alarms: list[Alarm], sent: Sent | None = None, **kw: Any) -> runner.CycleResult:
    return runner.run_once(
        services(env),
        now=env.clock(),
        alarms=lambda _today: alarms,
        rules=kw.pop("rules", [ALARM_RULE]),
        senders=kw.pop("senders", sent.senders() if sent else None),
        **kw,
    )


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
