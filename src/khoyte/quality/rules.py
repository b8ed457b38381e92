"""What a finding code means, how to fix it, which exporter conventions explain it, and how the
payer would judge it — the texts come from the rule catalogue (``validate/catalog.py``) and the
convention catalogue (``validate/conventions.py``); nothing is written twice here."""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import cache
from typing import Any

from khoyte.findings import Severity
from khoyte.validate.catalog import RULES
from khoyte.validate.conventions import CONVENTIONS
from khoyte.validate.policy import load_policy

SEVERITIES = ("error", "warning", "info")
_PAYER = load_policy("payer")  # the payer's strictness, whatever profile judged the records


@cache
def payer_severity(code: str) -> str:
    """How the built-in *payer* profile judges ``code`` (``validate/policy.py``): ``error``
    (the payer may refuse the money of the record), ``warning``, ``info`` or ``off``. A rule
    the profile keeps as emitted gets the catalogue's severity; a code the catalogue does not
    know is not counted as money at risk (``warning``): an unknown rule must never block
    (peers review §8 lesson 1)."""
    rule = RULES.get(code.rsplit(".", 1)[-1])
    emitted = rule.severity if rule is not None else Severity.WARNING
    found = _PAYER.severity(code, emitted)
    return "off" if found is None else found.value


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "…"  # a message parameter only a finding knows (a length, a value)


def conventions_of(code: str) -> list[str]:
    """Codes of the exporter conventions that can explain a finding ``code``."""
    return [c.code for c in CONVENTIONS.values() if any(fnmatchcase(code, p) for p in c.explains)]


@cache
def explain(code: str) -> dict[str, Any]:
    """``code``'s meaning and fix in Vietnamese and English, and the conventions behind it."""
    parts = code.split(".")
    rule = RULES.get(parts[-1])
    subject = ".".join(parts[:-1])
    if rule is None:
        return {
            "code": code,
            "meaning_vi": f"{code}: quy tắc chưa có trong danh mục",
            "meaning_en": f"{code}: a rule not in the catalogue",
            "fix_vi": "",
            "fix_en": "",
            "payer_severity": payer_severity(code),
            "conventions": conventions_of(code),
        }
    vi, en = rule.vi.format_map(_Blank()), rule.en.format_map(_Blank())
    return {
        "code": code,
        "meaning_vi": f"{subject} {vi}".strip(),
        "meaning_en": f"{subject} {en}".strip(),
        "fix_vi": rule.fix_vi,
        "fix_en": rule.fix_en,
        "payer_severity": payer_severity(code),
        "conventions": conventions_of(code),
    }


def convention_texts(lang: str) -> dict[str, str]:
    """Each convention's plain text in ``lang``."""
    return {c.code: (c.en if lang == "en" else c.vi) for c in CONVENTIONS.values()}
