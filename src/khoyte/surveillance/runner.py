"""The alert cycle: evaluate every rule, open new alerts, escalate, queue digests and reminders,
send the outbox. Run by a background thread of the web app (``alerts_interval_seconds``) or by
``khoyte alerts run``; it reads the warehouse and the store and never touches intake, so a slow
mail server or a failing rule never delays a submission.

Detection's alarms arrive through an :data:`AlarmSource` (``current_alarms`` of
``khoyte.surveillance.detect`` by default, looked up at run time: tests hand alarms in directly).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.access import Scope
from khoyte.analytics import completeness as comp
from khoyte.analytics.filters import Filters
from khoyte.gateway.models import Submission
from khoyte.security.service import aware
from khoyte.services import Services
from khoyte.store.db import session_scope
from khoyte.surveillance import alerts, delivery, requests
from khoyte.surveillance.alerts import Candidate
from khoyte.surveillance.model import Alarm
from khoyte.surveillance.rules import Rule, load_rules
from khoyte.warehouse.engine import AnalyticsEngine

log = logging.getLogger(__name__)
AlarmSource = Callable[[date], Sequence[Alarm]]
THRESHOLD_DAYS = 3  # today and the two days before: records of a day keep arriving


def detection_alarms(services: Services) -> AlarmSource:
    """``khoyte.surveillance.detect.current_alarms``: the algorithms' alarms for every signal and
    commune (imported when called: detection reads the warehouse)."""

    def source(today: date) -> Sequence[Alarm]:
        from khoyte.surveillance.detect import current_alarms

        found: Sequence[Alarm] = current_alarms(services, today=today)
        return found

    return source


def threshold_candidates(eng: AnalyticsEngine, rule: Rule, today: date) -> list[Candidate]:
    """A measure of ``agg_day`` per commune or facility and day, above the rule's value."""
    group = "f.ma_xa" if rule.per == "commune" else "a.facility"
    # both names come from fixed lists (``rules.INDICATORS``, commune | facility), checked
    # when the rule is read
    sql = (
        f"SELECT {group}, a.ngay_vao, SUM(a.{rule.indicator}) FROM agg_day a "  # noqa: S608  # nosec B608
        "LEFT JOIN dim_facility f ON f.ma_cskcb = a.facility "
        f"WHERE a.ngay_vao BETWEEN ? AND ? AND {group} IS NOT NULL GROUP BY 1, 2 "
        f"HAVING SUM(a.{rule.indicator}) > ?"
    )
    rows = eng.query(
        sql,
        [today - timedelta(days=THRESHOLD_DAYS - 1), today, rule.above],
    )
    communes: dict[str, str] = {
        str(a): str(b) for a, b in eng.query("SELECT ma_cskcb, ma_xa FROM dim_facility") if b
    }
    out = []
    names = {"visits": ("lượt khám", "visits"), "inpatient": ("lượt nội trú", "inpatient stays"),
             "emergencies": ("ca cấp cứu", "emergencies"), "deaths": ("ca tử vong", "deaths")}  # fmt: skip
    vi, en = names[rule.indicator]
    for place, day, value in rows:
        place, value = str(place), int(value)
        commune = place if rule.per == "commune" else communes.get(place)
        where_vi = "xã" if rule.per == "commune" else "cơ sở"
        out.append(
            Candidate(
                key=f"threshold|{rule.name}|{rule.per}:{place}|day:{day.isoformat()}",
                kind="threshold",
                rule=rule.name,
                severity=rule.severity,
                title_vi=f"{value} {vi} tại {where_vi} {place} ngày {day:%d/%m/%Y} "
                f"(ngưỡng {rule.above:g})",
                title_en=f"{value} {en} at {rule.per} {place} on {day.isoformat()} "
                f"(threshold {rule.above:g})",
                place_kind=rule.per,
                place=place,
                commune=commune,
                facility=place if rule.per == "facility" else None,
                period_start=day,
                details={"indicator": rule.indicator, "value": value, "above": rule.above},
            )
        )
    return out


def silent_candidates(
    eng: AnalyticsEngine, rule: Rule, today: date, silent_days: int
) -> list[Candidate]:
    """Facilities of the registry with no data for ``days`` days (one alert per silence: the
    key holds the last day with data)."""
    days = rule.days or silent_days
    flt = Filters(today - timedelta(days=max(days, 1) * 4), today)
    out = []
    for f in comp.q_facilities(eng, Scope.whole_province(), flt, days):
        if not f["silent"] or f["active"] is False:
            continue
        last = f["last_day_with_data"] or "never"
        n = f["silent_days"]
        out.append(
            Candidate(
                key=f"silent|facility:{f['facility']}|last:{last}",
                kind="silent",
                rule=rule.name,
                severity=rule.severity,
                title_vi=f"Cơ sở {f['facility']} ({f['name']}) không gửi dữ liệu "
                + (f"{n} ngày" if n is not None else "từ trước đến nay"),
                title_en=f"Facility {f['facility']} ({f['name']}) sent no data "
                + (f"for {n} days" if n is not None else "ever"),
                place_kind="facility",
                place=f["facility"],
                commune=f["commune"],
                facility=f["facility"],
                period_start=None,
                details={"last_day_with_data": f["last_day_with_data"], "silent_days": n},
            )
        )
    return out


def quality_candidates(
    session: Session, rule: Rule, today: date, communes: dict[str, str]
) -> list[Candidate]:
    """A facility whose share of records with findings (warnings or rejections) on one day is
    at least ``min_share`` and ``min_jump`` above its own share over the baseline days."""
    start = today - timedelta(days=rule.baseline_days)
    rows = session.execute(
        select(Submission.facility, Submission.received_at, Submission.n_records,
               Submission.n_warnings, Submission.n_rejected)
        .where(Submission.received_at >= datetime(start.year, start.month, start.day))
    ).all()  # fmt: skip
    day_n: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    base_n: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for fac, at, n, warn, rej in rows:
        received = aware(at)
        bucket = day_n if received is not None and received.date() == today else base_n
        bucket[fac][0] += int(n or 0)
        bucket[fac][1] += int(warn or 0) + int(rej or 0)
    out = []
    for fac, (n, bad) in sorted(day_n.items()):
        if n < rule.min_records:
            continue
        share = bad / n
        bn, bbad = base_n.get(fac, [0, 0])
        baseline = bbad / bn if bn else 0.0
        if share < rule.min_share or share - baseline < rule.min_jump:
            continue
        out.append(
            Candidate(
                key=f"quality|facility:{fac}|day:{today.isoformat()}",
                kind="quality",
                rule=rule.name,
                severity=rule.severity,
                title_vi=f"Cơ sở {fac}: {share:.0%} hồ sơ có lỗi/cảnh báo ngày "
                f"{today:%d/%m/%Y} (bình thường {baseline:.0%})",
                title_en=f"Facility {fac}: {share:.0%} of records with findings on "
                f"{today.isoformat()} (usually {baseline:.0%})",
                place_kind="facility",
                place=fac,
                commune=communes.get(fac),
                facility=fac,
                period_start=today,
                details={
                    "records": n,
                    "with_findings": bad,
                    "share": round(share, 4),
                    "baseline": round(baseline, 4),
                },
            )
        )
    return out


@dataclass
class CycleResult:
    candidates: int = 0
    opened: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)
    digests: int = 0
    reminders: int = 0
    delivery: delivery.DeliveryStats = field(default_factory=delivery.DeliveryStats)
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidates": self.candidates, "opened": self.opened, "escalated": self.escalated,
            "digests": self.digests, "reminders": self.reminders,
            "sent": self.delivery.sent, "retried": self.delivery.retried,
            "dead": self.delivery.dead, "errors": self.errors,
        }  # fmt: skip


def run_once(
    services: Services,
    *,
    now: datetime | None = None,
    alarms: AlarmSource | None = None,
    senders: delivery.Senders | None = None,
    rules: list[Rule] | None = None,
) -> CycleResult:
    """One cycle. A rule that fails is logged and skipped; the others still run."""
    settings = services.settings
    now = now or services.clock()
    today = (now + alerts.VN_OFFSET).date()
    rules = rules if rules is not None else load_rules(settings.alert_rules)
    alarms = alarms or detection_alarms(services)
    result = CycleResult()
    candidates: list[Candidate] = []
    with session_scope(services.sessions) as s:
        communes = alerts.facility_communes(s)
        for rule in rules:
            try:
                candidates += _evaluate(services, s, rule, today, communes, alarms)
            except Exception as exc:  # one broken rule must not silence the others
                log.exception("alert rule %s failed", rule.name)
                result.errors.append(f"{rule.name}: {type(exc).__name__}: {exc}")
    result.candidates = len(candidates)
    with session_scope(services.sessions) as s:
        result.opened = [a.id for a in alerts.open_alerts(s, settings, candidates, now)]
    with session_scope(services.sessions) as s:
        result.escalated = [a.id for a in alerts.escalate_due(s, settings, now)]
        result.digests = alerts.queue_digests(s, settings, now)
        result.reminders = requests.queue_reminders(s, now)
    result.delivery = delivery.process_outbox(services.sessions, settings, now, senders)
    return result


def _evaluate(
    services: Services,
    s: Session,
    rule: Rule,
    today: date,
    communes: dict[str, str],
    alarms: AlarmSource,
) -> list[Candidate]:
    wh = services.warehouse
    if rule.kind == "alarm":
        return alerts.alarm_candidates(alarms(today), rule, communes)
    if rule.kind == "quality":
        return quality_candidates(s, rule, today, communes)
    if wh is None:
        return []
    if rule.kind == "threshold":
        return threshold_candidates(wh.engine, rule, today)
    return silent_candidates(wh.engine, rule, today, services.settings.silent_days)


class AlertWorker:
    """The background thread of the web app: one cycle every ``interval`` seconds."""

    def __init__(self, services: Services, interval: float, alarms: AlarmSource | None = None):
        self.services, self.interval, self.alarms = services, interval, alarms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or self.interval <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="khoyte-alerts", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                run_once(self.services, alarms=self.alarms)
            except Exception:
                log.exception("alert cycle failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
