"""Record-level rules of QĐ 130/4750 (notes §7 and §8), run on the canonical record.

Each rule is a generator of findings over one ``Record``; ``RECORD_RULES`` lists them in the order
they run. Field names in messages are the names as sent (``Context.sent``), so a QĐ 4210 sender
reads ``THANH_TIEN`` where khoyte thinks ``THANH_TIEN_BV``.
"""

from khoyte.validate.rules.base import Context, Rule
from khoyte.validate.rules.dates import rule_dates, rule_days
from khoyte.validate.rules.identity import (
    REQUIRED,
    rule_codes,
    rule_diagnoses,
    rule_identifiers,
    rule_link,
    rule_required,
    rule_residence,
    rule_sequence,
)
from khoyte.validate.rules.money import rule_line_formulas, rule_totals
from khoyte.validate.rules.tables import rule_conditions

RECORD_RULES: tuple[Rule, ...] = (
    rule_required,
    rule_link,
    rule_sequence,
    rule_codes,
    rule_identifiers,
    rule_diagnoses,
    rule_residence,
    rule_dates,
    rule_days,
    rule_totals,
    rule_line_formulas,
    rule_conditions,
)


__all__ = ["RECORD_RULES", "REQUIRED", "Context", "Rule"]
