"""Findings: what khoyte tells a sender about their data.

A finding has a stable ``code`` (``TABLE.FIELD.RULE``, e.g. ``XML1.T_BHTT.FORMULA``; envelope and
record-level codes start with ``FILE.`` and ``HOSO.``), a severity (``error`` rejects the record,
``warning`` accepts it with a note, ``info`` notes something khoyte repaired or counted in shadow
mode), the severity is decided by the judging profile (``validate/policy.py``), optionally the
exporter convention that explains it (``validate/conventions.py``), and a message in Vietnamese and English that names the table,
the line (``STT``), the field and the value, and says what to do. The texts live in
``validate/catalog.py``; this module only holds the shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    table: str | None
    stt: int | None
    field: str | None
    value: str | None
    message_vi: str
    message_en: str
    # The exporter convention that explains this finding (``validate/conventions.py``), if any.
    convention: str | None = None
    # How far off a sum, formula or day count is (VND or days): profiles apply tolerances to it.
    # Not part of the receipt (the message says it in words).
    delta: Decimal | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "table": self.table,
            "stt": self.stt,
            "field": self.field,
            "value": self.value,
            "message_vi": self.message_vi,
            "message_en": self.message_en,
            "convention": self.convention,
        }


def clip(value: object, limit: int = 80) -> str | None:
    """A value as shown in a finding: as sent, but never a whole document."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
