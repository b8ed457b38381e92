"""Alert rules are data: a TOML file of ``[[rule]]`` tables (``data/alert_rules.toml`` built in,
a deployment's file laid over it with ``KHOYTE_ALERT_RULES``). docs/alerts.md lists the kinds
and their keys."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from khoyte.errors import TerminalError

BUILT_IN = Path(__file__).parent / "data" / "alert_rules.toml"
KINDS = ("alarm", "threshold", "silent", "quality")
INDICATORS = ("visits", "inpatient", "emergencies", "deaths")  # measures of ``agg_day``
SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str  # alarm | threshold | silent | quality
    severity: str = "medium"
    enabled: bool = True
    # alarm: which alarms of ``current_alarms`` become alerts
    signals: tuple[str, ...] = ()  # empty: all
    algorithms: tuple[str, ...] = ()
    min_score: float = 0.0
    # threshold: a measure per commune or facility per day, above a value
    indicator: str = "visits"
    per: str = "commune"
    above: float = 0.0
    # silent: days without data (0: ``Settings.silent_days``)
    days: int = 0
    # quality: share of a day's records with findings, against the facility's own baseline
    min_share: float = 0.3
    min_jump: float = 0.2
    min_records: int = 20
    baseline_days: int = 28


def _problem(name: str, what_vi: str, what_en: str) -> TerminalError:
    return TerminalError(
        "alert_rule_invalid",
        f"Quy tắc cảnh báo {name!r}: {what_vi}. Hãy sửa tệp quy tắc (docs/alerts.md).",
        f"Alert rule {name!r}: {what_en}. Fix the rules file (docs/alerts.md).",
        {"rule": name},
    )


def parse_rule(raw: dict[str, Any]) -> Rule:
    name = str(raw.get("name", ""))
    if not name:
        raise _problem("?", "thiếu tên (name)", "has no name")
    known = {f.name for f in fields(Rule)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise _problem(name, f"khoá không biết {unknown}", f"unknown keys {unknown}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    try:
        rule = Rule(**values)
    except TypeError as exc:
        raise _problem(name, str(exc), str(exc)) from exc
    if rule.kind not in KINDS:
        raise _problem(name, f"loại phải là một trong {KINDS}", f"kind must be one of {KINDS}")
    if rule.severity not in SEVERITIES:
        raise _problem(name, f"mức độ phải là {SEVERITIES}", f"severity must be {SEVERITIES}")
    if rule.kind == "threshold" and (
        rule.indicator not in INDICATORS or rule.per not in ("commune", "facility")
    ):
        raise _problem(
            name,
            f"chỉ số phải là {INDICATORS}, per là commune|facility",
            f"indicator must be one of {INDICATORS}, per commune|facility",
        )
    return rule


def load_rules(path: Path | None = None) -> list[Rule]:
    """The built-in rules with ``path``'s laid over them (same name: replaced)."""
    by_name: dict[str, Rule] = {}
    for source in (BUILT_IN, path):
        if source is None:
            continue
        try:
            doc = tomllib.loads(source.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise TerminalError(
                "alert_rules_unreadable",
                f"Không đọc được tệp quy tắc cảnh báo {source}: {exc}",
                f"Cannot read the alert rules file {source}: {exc}",
                {"file": str(source)},
            ) from exc
        for raw in doc.get("rule", []):
            rule = parse_rule(raw)
            by_name[rule.name] = rule
    return [r for r in by_name.values() if r.enabled]
