"""How an exporter family's bytes differ from the reference writer's (``exporters.FORMATS``):
inner declarations dropped, the invalid ``xsi`` URI on inner roots, ``<X></X>`` empties, ``T_VTYT``
before ``T_THUOC``, a BOM, and — only when asked (``--exporter-cdata``) — inner tables as raw XML
in CDATA instead of base64. The values are the reference writer's; only their spelling moves."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

from khoyte.standards.model import Record, Row, Standard
from khoyte.standards.writer import DECL, DocumentWriter
from khoyte.synth.defects import BOM, WRONG_XSI
from khoyte.synth.exporters import Family
from khoyte.synth.fastwrite import table_document

_EMPTY = re.compile(rb"<([A-Z0-9_]+)/>")
_VTYT_AFTER = re.compile(
    rb"(<T_THUOC(?:/>|>[^<]*</T_THUOC>))(<T_VTYT(?:/>|>[^<]*</T_VTYT>|></T_VTYT>))"
)
_XSI_TABLES = frozenset({"XML1", "XML2", "XML7"})  # where family A's files carry it


def document_writer(family: Family) -> DocumentWriter | None:
    """The inner-document writer of ``family`` (``None``: the reference writer's bytes)."""
    formats = family.formats
    fmt = {n for n in formats if n not in ("bom", "integer_amounts", "decimal_comma", "cdata")}
    if not fmt:
        return None

    def document(standard: Standard, table: str, rows: list[Row]) -> bytes:
        data = table_document(standard, table, rows)
        if "vtyt_first" in fmt and table == "XML1":
            data = _VTYT_AFTER.sub(rb"\2\1", data, count=1)
        if "open_close_empty" in fmt:
            data = _EMPTY.sub(rb"<\1></\1>", data)
        if "xsi_space" in fmt and table in _XSI_TABLES:
            start = len(DECL)
            end = data.index(b">", start)
            data = data[:end] + WRONG_XSI + data[end:]
        if "no_inner_decl" in fmt:
            data = data.removeprefix(DECL)
        return data

    return document


def finish(
    data: bytes,
    family: Family,
    records: Iterable[Record],
    document: DocumentWriter | None,
    cdata: bool,
) -> bytes:
    """The file's bytes as the family writes them: inner tables in CDATA (when asked and the
    family does it), a BOM."""
    if cdata and "cdata" in family.formats:
        write = document or table_document
        for rec in records:
            for table, rows in rec.tables.items():
                if not rows:
                    continue
                doc = write(rec.standard, table, rows)
                b64 = base64.b64encode(doc)
                data = data.replace(
                    b"<NOIDUNGFILE>" + b64 + b"</NOIDUNGFILE>",
                    b"<NOIDUNGFILE><![CDATA[" + doc + b"]]></NOIDUNGFILE>",
                    1,
                )
    if "bom" in family.formats and not data.startswith(BOM):
        data = BOM + data
    return data
