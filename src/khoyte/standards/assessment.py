"""The record key of a medical assessment (XML12, giám định y khoa) and the sender of an XML12
file read from a folder.

An XML12 record (``GIAM_DINH_YKHOA``, QĐ 130 Bảng 12) has no ``MA_LK``: it is one assessment of
one person by the provincial medical-assessment council, numbered in the council's minutes
(``SO_BIEN_BAN``). khoyte keys it, wherever a record key is used (the gateway's versions, the
warehouse's ``ma_lk`` column), by :data:`PREFIX` + ``SO_BIEN_BAN``: resending the same minutes
number updates the record (a new version), as a resent ``MA_LK`` does for a claim. The prefix is
reserved: a claim whose ``MA_LK`` starts with it is receipted but not versioned (as a ``MA_LK``
longer than 100 characters), so the two kinds of key never meet. A key
longer than the store's 100 characters keeps its first 60 characters and a hash of the rest.

The document names no sender (no ``MACSKCB``): over the API the sender is the credential's
facility; read from a folder (``khoyte ingest``, the warehouse's file source) it is the file
name's first part, as ``khoyte synth`` names its files (``xml/<ngày>/<MA_CSKCB>.xml``).
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "GDYK:"
MAX_KEY = 100  # gw_record.ma_lk
_SENDER = re.compile(r"([0-9]{5})(?:[-_.][^/\\]*)?\.xml", re.IGNORECASE)  # MA_CSKCB: 5 digits


def assessment_key(so_bien_ban: object) -> str | None:
    """The record key of an assessment numbered ``so_bien_ban`` (None without a number)."""
    if not isinstance(so_bien_ban, str) or not so_bien_ban.strip():
        return None
    key = PREFIX + so_bien_ban.strip()
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"{key[:60]}~{digest}"


def is_assessment_key(key: str | None) -> bool:
    return key is not None and key.startswith(PREFIX)


def sender_of_name(name: str | None) -> str | None:
    """The facility an XML12 file read from a folder comes from: its name's first part
    (``82000.xml``, ``82000-2025-01.xml`` → ``82000``), else None."""
    if not name:
        return None
    m = _SENDER.fullmatch(name.replace("\\", "/").rsplit("/", 1)[-1])
    return m.group(1) if m else None
