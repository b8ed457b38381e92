"""Building raw claim XML for tests, including deliberately broken pieces."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
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


# How real exporters write NOIDUNGFILE instead of one line of base64 (issue 11, item 5).
def as_raw_xml(doc: bytes) -> str:
    """The document's elements themselves inside NOIDUNGFILE (no XML declaration: inside
    another document there can be none)."""
    text = doc.decode("utf-8")
    return text.split("?>", 1)[1] if text.startswith("<?xml") else text


def as_cdata(doc: bytes) -> str:
    return "<![CDATA[" + doc.decode("utf-8") + "]]>"


def as_wrapped(doc: bytes, width: int = 76) -> str:
    """MIME-style base64: lines of ``width`` characters."""
    b64 = base64.b64encode(doc).decode("ascii")
    return "\r\n".join(b64[i : i + width] for i in range(0, len(b64), width))


def written(rec: Record, **forms: Callable[[bytes], str]) -> bytes:
    """``rec`` in an envelope, the tables named in ``forms`` written by them (``XML2=as_cdata``)."""
    return raw_envelope(
        [
            [
                (t, forms[t](d) if t in forms and isinstance(d, bytes) else d)
                for t, d in hoso_files(rec)
            ]
        ]
    )


def with_created(data: bytes, created: str) -> bytes:
    """An envelope with another NGAYLAP."""
    return re.sub(rb"<NGAYLAP>[^<]*</NGAYLAP>", f"<NGAYLAP>{created}</NGAYLAP>".encode(), data)
