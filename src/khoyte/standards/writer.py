"""Writing canonical records as the Ministry's XML (either generation) — for the synthetic
province, for round-trip tests and for sending records onward.

Every field of a table's specification is written in the standard's order, empty fields as
self-closing elements (as real exports do), values in the standard's formats: ``yyyymmdd``,
``yyyymmddHHMM``, dot decimals, ``;`` lists.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from khoyte.standards.convert import table_spec
from khoyte.standards.layout import layouts
from khoyte.standards.model import BirthDate, Record, Row, Standard, Value
from khoyte.standards.qd4210 import canonical_names

DECL = b'<?xml version="1.0" encoding="utf-8"?>'
_XSI = ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"'


def format_value(v: Value) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, BirthDate):
        return v.as_text()
    if isinstance(v, datetime):
        return v.strftime("%Y%m%d%H%M")
    if isinstance(v, date):
        return v.strftime("%Y%m%d")
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, bool):
        raise TypeError("booleans are not a value of the standard")
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return ";".join(format_value(x) for x in v)
    raise TypeError(f"cannot write {type(v).__name__}")


def _fields_xml(standard: Standard, table: str, row: Row) -> str:
    parts = []
    for f in table_spec(standard, table).fields:
        name = f.name
        source = canonical_names(table, name)[0] if standard is Standard.QD4210 else name
        text = format_value(row.values.get(source))
        parts.append(f"<{name}>{escape(text)}</{name}>" if text else f"<{name}/>")
    return "".join(parts)


def table_document(standard: Standard, table: str, rows: list[Row]) -> bytes:
    """The inner document of one table (what ``NOIDUNGFILE`` carries, before base64)."""
    lay = layouts(standard).get(table) or layouts(Standard.QD130)[table]
    if lay.single:
        body = _fields_xml(standard, table, rows[0]) if rows else ""
        xml = f"<{lay.root}>{body}</{lay.root}>"
    else:
        records = "".join(
            f"<{lay.record}>{_fields_xml(standard, table, r)}</{lay.record}>" for r in rows
        )
        inner = f"<{lay.list_}>{records}</{lay.list_}>" if lay.list_ else records
        xml = f"<{lay.root}>{inner}</{lay.root}>"
    return DECL + xml.encode("utf-8")


DocumentWriter = Callable[[Standard, str, list[Row]], bytes]


def hoso_xml(
    record: Record, standard: Standard | None = None, document: DocumentWriter | None = None
) -> str:
    """One ``HOSO``: each table a base64 ``FILEHOSO``. ``document`` writes a table's inner
    document (the synth's template writer is a faster, byte-identical one)."""
    std = standard or record.standard
    document = document or table_document
    files = []
    for table in sorted(record.tables, key=lambda t: int(t[3:])):
        rows = record.tables[table]
        if not rows:
            continue
        content = base64.b64encode(document(std, table, rows)).decode("ascii")
        files.append(
            f"<FILEHOSO><LOAIHOSO>{table}</LOAIHOSO><NOIDUNGFILE>{content}</NOIDUNGFILE></FILEHOSO>"
        )
    return "<HOSO>" + "".join(files) + "</HOSO>"


def envelope(
    records: Iterable[Record],
    facility: str,
    created: date,
    standard: Standard | None = None,
    document: DocumentWriter | None = None,
) -> bytes:
    """A ``GIAMDINHHS`` submission holding the records."""
    hosos = [hoso_xml(r, standard, document) for r in records]
    xml = (
        f"<GIAMDINHHS{_XSI}><THONGTINDONVI><MACSKCB>{escape(facility)}</MACSKCB></THONGTINDONVI>"
        f"<THONGTINHOSO><NGAYLAP>{created.strftime('%Y%m%d')}</NGAYLAP>"
        f"<SOLUONGHOSO>{len(hosos)}</SOLUONGHOSO><DANHSACHHOSO>{''.join(hosos)}</DANHSACHHOSO>"
        f"</THONGTINHOSO><CHUKYDONVI/></GIAMDINHHS>"
    )
    return DECL + xml.encode("utf-8")


def standalone(table: str, rows: list[Row]) -> bytes:
    """A check-in (XML0) or medical-assessment (XML12) document."""
    lay = layouts(Standard.QD130)[table]
    records = "".join(
        f"<{lay.record}>{_fields_xml(Standard.QD130, table, r)}</{lay.record}>" for r in rows
    )
    xml = f"<{lay.root}><{lay.list_}>{records}</{lay.list_}><CHUKYDONVI/></{lay.root}>"
    return DECL + xml.encode("utf-8")
