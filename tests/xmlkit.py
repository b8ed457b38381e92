"""Building raw claim XML for tests, including deliberately broken pieces."""

from __future__ import annotations

import base64
from datetime import date

from khoyte.standards.model import Record, Standard
from khoyte.standards.writer import envelope, table_document

Inner = bytes | str  # bytes: an inner document to base64-encode; str: NOIDUNGFILE text as is


def hoso_files(rec: Record, standard: Standard | None = None) -> list[tuple[str, Inner]]:
    std = standard or rec.standard
    return [
        (t, table_document(std, t, rows))
        for t, rows in sorted(rec.tables.items(), key=lambda x: int(x[0][3:]))
    ]


def raw_envelope(
    hosos: list[list[tuple[str, Inner]]],
    facility: str = "82001",
    count: int | None = None,
    prefix: bytes = b'<?xml version="1.0" encoding="utf-8"?>',
) -> bytes:
    parts = []
    for files in hosos:
        fs = []
        for loai, content in files:
            text = base64.b64encode(content).decode() if isinstance(content, bytes) else content
            fs.append(
                f"<FILEHOSO><LOAIHOSO>{loai}</LOAIHOSO><NOIDUNGFILE>{text}</NOIDUNGFILE></FILEHOSO>"
            )
        parts.append("<HOSO>" + "".join(fs) + "</HOSO>")
    n = len(hosos) if count is None else count
    body = (
        f"<GIAMDINHHS><THONGTINDONVI><MACSKCB>{facility}</MACSKCB></THONGTINDONVI><THONGTINHOSO>"
        f"<NGAYLAP>20250802</NGAYLAP><SOLUONGHOSO>{n}</SOLUONGHOSO><DANHSACHHOSO>{''.join(parts)}"
        f"</DANHSACHHOSO></THONGTINHOSO><CHUKYDONVI/></GIAMDINHHS>"
    )
    return prefix + body.encode()


def one(rec: Record, facility: str = "82001") -> bytes:
    return envelope([rec], facility, date(2025, 8, 2))
