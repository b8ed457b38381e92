"""What a record says about who the patient is, normalised for linkage.

One :class:`Identity` per accepted record (``MA_CSKCB`` + ``MA_LK``), read from its XML1: name,
``NGAY_SINH`` (day and month may be ``00``), ``GIOI_TINH``, ``SO_CCCD``, ``MA_THE_BHYT``,
``MAXA_CU_TRU``, ``DIEN_THOAI``. The normal forms undo what clerks do to the same person:
diacritics dropped (``Nguyễn`` → ``nguyen``), upper case, a middle name left out, two letters
swapped (the comparisons in :mod:`khoyte.persons.model` see through the last two).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from typing import Any

from khoyte.standards.model import BirthDate, Record

_DIGITS = re.compile(r"\D+")
# The columns the linkage model reads (and the blocking index stores).
COLUMNS = (
    "name_norm",
    "family",
    "given",
    "name_key",
    "dob",
    "birth_year",
    "sex",
    "cccd",
    "bhxh",
    "card",
    "commune",
    "phone",
)


def fold(text: str) -> str:
    """``Nguyễn Thị Ánh`` → ``nguyen thi anh``: no diacritics (đ → d), lower case, single
    spaces. What an ASCII-only form or an old keyboard driver writes is the same person."""
    out = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    bare = "".join(c for c in out if unicodedata.category(c) != "Mn")
    return " ".join(bare.lower().split())


def cccd_of(value: str | None) -> str | None:
    """A 12-digit CCCD, or None (9-digit CMND and anything malformed are not keys)."""
    digits = _DIGITS.sub("", value or "")
    return digits if len(digits) == 12 else None


def bhxh_of(card: str | None) -> str | None:
    """The social-insurance number: the last 10 characters of a 15-character BHYT card code.
    It survives a renewal that changes the card's object code (``GD4`` → ``HT2``)."""
    code = (card or "").strip().upper()
    return code[-10:] if len(code) == 15 and code[-10:].isdigit() else None


def phone_of(value: str | None) -> str | None:
    digits = _DIGITS.sub("", value or "")
    if digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits if len(digits) == 10 else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def dob_text(b: BirthDate | None) -> str | None:
    """``yyyymmdd`` with ``00`` for an unknown month or day (as NGAY_SINH writes it)."""
    if b is None:
        return None
    return f"{b.year:04d}{b.month or 0:02d}{b.day or 0:02d}"


@dataclass(frozen=True, slots=True)
class Identity:
    facility: str
    ma_lk: str
    ho_ten: str | None
    name_norm: str | None
    family: str | None
    given: str | None
    name_key: str | None  # family + given: what survives a dropped middle name
    dob: str | None
    birth_year: int | None
    sex: str | None
    cccd: str | None
    bhxh: str | None
    card: str | None
    commune: str | None
    phone: str | None

    @property
    def key(self) -> str:
        return f"{self.facility}|{self.ma_lk}"

    def linkage_row(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in COLUMNS}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def identity_of(facility: str, record: Record, communes: dict[str, str] | None = None) -> Identity:
    """The identity in ``record``'s XML1; ``communes`` maps pre-2025 commune codes to the 2025
    ones (``rg_commune_map``) so that a person keeps one residence across the reform."""
    rows = record.tables.get("XML1") or []
    v = rows[0].values if rows else {}
    name = v.get("HO_TEN")
    norm = fold(name) if isinstance(name, str) and name.strip() else None
    parts = norm.split(" ") if norm else []
    born = v.get("NGAY_SINH")
    birth = born if isinstance(born, BirthDate) else None
    cards = v.get("MA_THE_BHYT")
    card = (
        cards[0]
        if isinstance(cards, list) and cards
        else (cards if isinstance(cards, str) else None)
    )
    card = str(card).strip().upper() if card else None
    sex = v.get("GIOI_TINH")
    commune = v.get("MAXA_CU_TRU")
    commune = str(commune).strip() if commune else None
    if commune and communes:
        commune = communes.get(commune, commune)
    return Identity(
        facility=facility,
        ma_lk=record.ma_lk,
        ho_ten=name if isinstance(name, str) else None,
        name_norm=norm,
        family=parts[0] if parts else None,
        given=parts[-1] if parts else None,
        name_key=f"{parts[0]} {parts[-1]}" if len(parts) >= 2 else norm,
        dob=dob_text(birth),
        birth_year=birth.year if birth else None,
        sex=str(sex) if sex in ("1", "2", 1, 2) else None,
        cccd=cccd_of(_text(v.get("SO_CCCD"))),
        bhxh=bhxh_of(card),
        card=card,
        commune=commune or None,
        phone=phone_of(_text(v.get("DIEN_THOAI"))),
    )
