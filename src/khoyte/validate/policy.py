"""Judgement as policy, not code: which finding rejects a record is decided by a profile.

Every rule keeps its stable code; its severity comes from the profile that judges the file:

- ``hub`` (the default): the Department of Health counts what happened. A record is rejected
  only when it cannot be placed or counted (no usable ``MA_LK``, facility, visit type or admission
  date; XML1 unreadable; tables that contradict each other's keys). Everything else is a warning
  — in the sender's terms, naming the exporter convention that explains it where one does.
- ``payer``: the written formulas of QĐ 130/4750 as errors (khoyte's behaviour before profiles).

The policy is data (``validate/data/policy.toml``); a deployment overrides any rule in its own
file (``KHOYTE_VALIDATION_POLICY``). ``khoyte rules`` prints the effective policy.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from khoyte.findings import Finding, Severity
from khoyte.standards.model import Record
from khoyte.validate.conventions import CONVENTIONS

Level = Literal["error", "warning", "info", "off", "keep", "cap"]
LEVELS: tuple[str, ...] = ("error", "warning", "info", "off", "keep", "cap")
PROFILES = ("hub", "payer")
_TYPE_KINDS = frozenset(
    {"NUMBER", "INTEGER", "DATE", "DATETIME", "CODE", "FORMAT", "MAX_LENGTH", "REQUIRED"}
)


class PolicyError(ValueError):
    """A policy file that cannot be used (names the file and the entry)."""


@dataclass(frozen=True, slots=True)
class RulePolicy:
    """One entry of the policy: what a code (or a pattern, or a rule kind) does per profile."""

    key: str
    levels: dict[str, Level] = field(default_factory=dict)  # profile → level
    shadow: bool = False
    tolerance: dict[str, Decimal] = field(default_factory=dict)  # profile (or *) → tolerance
    exempt_card_prefixes: tuple[str, ...] = ()
    legal_basis: str | None = None
    bhxh_code: str | None = None
    fix_vi: str | None = None
    fix_en: str | None = None
    precision: str | None = None

    def merged(self, other: RulePolicy) -> RulePolicy:
        """``other`` laid over this entry (a deployment's override)."""
        return RulePolicy(
            key=self.key,
            levels={**self.levels, **other.levels},
            shadow=other.shadow or self.shadow,
            tolerance={**self.tolerance, **other.tolerance},
            exempt_card_prefixes=other.exempt_card_prefixes or self.exempt_card_prefixes,
            legal_basis=other.legal_basis or self.legal_basis,
            bhxh_code=other.bhxh_code or self.bhxh_code,
            fix_vi=other.fix_vi or self.fix_vi,
            fix_en=other.fix_en or self.fix_en,
            precision=other.precision or self.precision,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "levels": dict(self.levels),
            "shadow": self.shadow,
            "tolerance": {k: str(v) for k, v in self.tolerance.items()},
            "exempt_card_prefixes": list(self.exempt_card_prefixes),
            "legal_basis": self.legal_basis,
            "bhxh_code": self.bhxh_code,
            "fix_vi": self.fix_vi,
            "fix_en": self.fix_en,
            "precision": self.precision,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """What a profile does with one finding code."""

    level: Level  # error / warning / info / off / keep / cap
    entry: RulePolicy | None  # the most specific entry that applies (None: profile default)
    tolerance: Decimal | None
    exempt: tuple[str, ...]
    shadow: bool


def _parse_entry(key: str, raw: dict[str, Any], where: str) -> RulePolicy:
    levels: dict[str, Level] = {}
    for prof, value in raw.items():
        if prof in ("shadow", "tolerance", "exempt_card_prefixes", "legal_basis", "bhxh_code"):
            continue
        if prof in ("fix_vi", "fix_en", "precision", "severity"):
            continue
        if value not in LEVELS:
            raise PolicyError(
                f"{where}: [{key}] {prof} = {value!r} — mức không hợp lệ / not a level "
                f"({', '.join(LEVELS)})"
            )
        levels[prof] = value
    if "severity" in raw:  # a deployment's shorthand: the level under its own profile
        if raw["severity"] not in LEVELS:
            raise PolicyError(f"{where}: [{key}] severity = {raw['severity']!r} — not a level")
        levels["*"] = raw["severity"]
    tol = raw.get("tolerance")
    tolerance: dict[str, Decimal] = {}
    if isinstance(tol, dict):
        tolerance = {str(k): Decimal(str(v)) for k, v in tol.items()}
    elif tol is not None:
        tolerance = {"*": Decimal(str(tol))}
    return RulePolicy(
        key=key,
        levels=levels,
        shadow=bool(raw.get("shadow", False)),
        tolerance=tolerance,
        exempt_card_prefixes=tuple(str(p).upper() for p in raw.get("exempt_card_prefixes", ())),
        legal_basis=raw.get("legal_basis"),
        bhxh_code=None if raw.get("bhxh_code") is None else str(raw["bhxh_code"]),
        fix_vi=raw.get("fix_vi"),
        fix_en=raw.get("fix_en"),
        precision=raw.get("precision"),
    )


@dataclass(slots=True)
class PolicyData:
    profiles: dict[str, dict[str, Any]]
    codes: dict[str, RulePolicy]  # exact codes and patterns with *
    kinds: dict[str, RulePolicy]

    @classmethod
    def parse(cls, doc: dict[str, Any], where: str) -> PolicyData:
        unknown = set(doc) - {"profiles", "codes", "kinds", "profile"}
        if unknown:
            raise PolicyError(f"{where}: khóa không biết / unknown keys {sorted(unknown)}")
        return cls(
            profiles=dict(doc.get("profiles", {})),
            codes={k: _parse_entry(k, v, where) for k, v in doc.get("codes", {}).items()},
            kinds={k: _parse_entry(k, v, where) for k, v in doc.get("kinds", {}).items()},
        )

    def overlay(self, other: PolicyData) -> PolicyData:
        codes = dict(self.codes)
        for k, v in other.codes.items():
            codes[k] = codes[k].merged(v) if k in codes else v
        kinds = dict(self.kinds)
        for k, v in other.kinds.items():
            kinds[k] = kinds[k].merged(v) if k in kinds else v
        return PolicyData({**self.profiles, **other.profiles}, codes, kinds)


@cache
def _builtin() -> PolicyData:
    text = resources.files("khoyte.validate").joinpath("data/policy.toml").read_text("utf-8")
    return PolicyData.parse(tomllib.loads(text), "khoyte/validate/data/policy.toml")


def _matches(pattern: str, code: str) -> bool:
    p, c = pattern.split("."), code.split(".")
    return len(p) == len(c) and all(a == "*" or a == b for a, b in zip(p, c, strict=True))


class Policy:
    """A profile with its entries: judges the findings of one record."""

    def __init__(self, name: str, data: PolicyData, source: str = "built-in") -> None:
        if name not in data.profiles:
            raise PolicyError(
                f"{source}: không có hồ sơ đánh giá / no profile named {name!r} "
                f"(có / known: {', '.join(sorted(data.profiles))})"
            )
        self.name = name
        self.data = data
        self.source = source
        self.default: Level = data.profiles[name].get("default", "keep")
        # Whether findings an exporter convention explains say so in their message.
        self.explains = bool(data.profiles[name].get("explain_conventions", False))
        self._patterns = [(k, v) for k, v in data.codes.items() if "*" in k]
        self._patterns.sort(key=lambda kv: kv[0].count("*"))  # the most specific first
        self._cache: dict[str, Decision] = {}

    @property
    def title(self) -> tuple[str, str]:
        p = self.data.profiles[self.name]
        return str(p.get("vi", self.name)), str(p.get("en", self.name))

    def entry(self, code: str) -> RulePolicy | None:
        """The most specific entry for ``code``: exact, then patterns, then its rule kind."""
        hit = self.data.codes.get(code)
        if hit is not None:
            return hit
        for pattern, e in self._patterns:
            if _matches(pattern, code):
                return e
        return self.data.kinds.get(code.rsplit(".", 1)[-1])

    def decide(self, code: str) -> Decision:
        d = self._cache.get(code)
        if d is not None:
            return d
        level: Level | None = None
        chain = [self.data.codes.get(code)]
        chain += [e for p, e in self._patterns if _matches(p, code)]
        chain.append(self.data.kinds.get(code.rsplit(".", 1)[-1]))
        found = [e for e in chain if e is not None]
        for e in found:  # the first entry that speaks for this profile decides the level
            level = e.levels.get("*") or e.levels.get(self.name)
            if level is not None:
                break
        if level is None:
            level = "keep" if code.startswith("FILE.") else self.default
        top = found[0] if found else None
        tol = next(
            (
                e.tolerance.get(self.name, e.tolerance.get("*"))
                for e in found
                if self.name in e.tolerance or "*" in e.tolerance
            ),
            None,
        )
        exempt = next((e.exempt_card_prefixes for e in found if e.exempt_card_prefixes), ())
        shadow = any(e.shadow for e in found)
        d = Decision(level, top, tol, exempt, shadow)
        if len(self._cache) < 65536:
            self._cache[code] = d
        return d

    def severity(self, code: str, emitted: Severity = Severity.ERROR) -> Severity | None:
        """The severity a finding of ``code`` gets (``None``: the rule is off)."""
        d = self.decide(code)
        return _apply(d, emitted)

    def judge(self, findings: list[Finding], record: Record | None) -> list[Finding]:
        """The findings of one record as this profile reports them, in the same order."""
        if not findings:
            return findings
        card = _card(record)
        placeholders = {
            (f.table, f.stt, f.field) for f in findings if f.code.endswith(".PLACEHOLDER")
        }
        out: list[Finding] = []
        for f in findings:
            d = self.decide(f.code)
            if d.exempt and card and card.startswith(d.exempt):
                continue
            if d.tolerance is not None and f.delta is not None and abs(f.delta) <= d.tolerance:
                continue
            if (
                placeholders
                and self.default == "cap"
                and d.level != "error"
                and f.code.rsplit(".", 1)[-1] in _TYPE_KINDS
                and (f.table, f.stt, f.field) in placeholders
            ):
                # one finding kind for a placeholder: PLACEHOLDER says it (a placing rule, e.g.
                # MA_LOAI_KCB required, still speaks)
                continue
            sev = _apply(d, f.severity)
            if sev is None:
                continue
            if sev is not f.severity:
                f = replace(f, severity=sev)
            out.append(f)
        return out

    def rows(self, codes: Iterable[str] = ()) -> list[dict[str, Any]]:
        """The effective policy: every entry (and ``codes``), its level under this profile."""
        keys = sorted(set(self.data.codes) | set(codes)) + sorted(self.data.kinds)
        out = []
        for key in keys:
            is_kind = key in self.data.kinds and key not in self.data.codes
            probe = f"X.Y.{key}" if is_kind else key
            d = self.decide(probe)
            e = self.data.kinds[key] if is_kind else self.entry(key)
            out.append(
                {
                    "rule": key,
                    "scope": "kind" if is_kind else "code",
                    "level": "info (shadow)" if d.shadow else d.level,
                    **({} if e is None else e.as_dict()),
                }
            )
        return out


def _apply(d: Decision, emitted: Severity) -> Severity | None:
    level = d.level
    if level == "off":
        return None
    if d.shadow:
        return Severity.INFO
    if level == "keep":
        return emitted
    if level == "cap":
        return Severity.WARNING if emitted is Severity.ERROR else emitted
    return Severity(level)


def _card(record: Record | None) -> str | None:
    if record is None:
        return None
    head = record.tables.get("XML1")
    if not head:
        return None
    v = head[0].values.get("MA_THE_BHYT")
    if isinstance(v, list):  # one card per validity period (';'-list): the first decides
        v = v[0] if v else None
    return v.upper() if isinstance(v, str) else None


def load_policy(name: str = "hub", override: Path | None = None) -> Policy:
    """The built-in policy under profile ``name``, with a deployment's file laid over it."""
    data = _builtin()
    source = "built-in"
    if override is not None:
        try:
            doc = tomllib.loads(override.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"{override}: không đọc được / cannot be read: {exc}") from exc
        data = data.overlay(PolicyData.parse(doc, str(override)))
        source = str(override)
        if name == "" and "profile" in doc:
            name = str(doc["profile"])
    return Policy(name or "hub", data, source)


def settings_policy(settings: Any) -> Policy:
    """The deployment's policy (``KHOYTE_VALIDATION_PROFILE``, ``KHOYTE_VALIDATION_POLICY``)."""
    return load_policy(settings.validation_profile, settings.validation_policy)


def conventions_table() -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "vi": c.vi,
            "en": c.en,
            "explains": list(c.explains),
            "evidence": c.evidence,
        }
        for c in CONVENTIONS.values()
    ]
