"""The inner documents of one ``HOSO``, in every form exporters write them (the careful path).

The standard puts each table in a ``FILEHOSO`` as the base64 of an XML document
(``NOIDUNGFILE``). Real exporters also write that document as raw XML (child elements of
``NOIDUNGFILE``), as XML text (CDATA or escaped), or as base64 wrapped over lines. Each is read,
and the record says what was repaired (a finding of severity ``info``: ``HOSO.XML2.RAW_XML``,
``HOSO.XML1.CDATA``, ``HOSO.XML3.BASE64_WRAPPED``). What cannot be read is a finding on that
table of that ``HOSO`` only. An ordinary ``HOSO`` never comes here: ``_fastrows.hoso_documents``
reads it, and hands anything unusual back to this module.
"""

from __future__ import annotations

import base64
import binascii
import re

from lxml import etree

from khoyte.findings import Finding
from khoyte.standards.layout import ENVELOPE_TABLES
from khoyte.standards.safexml import BOM, MalformedHead, NotUTF8, UnsafeXML, parse_document
from khoyte.validate.catalog import make

_WS = b" \t\r\n"
_INNER_WS = re.compile(r"\s")


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[1] if tag.startswith("{") else tag


def decode_base64(text: str | None) -> bytes:
    """Strict base64: only the alphabet and correct padding; line breaks are allowed."""
    if not text:
        return b""
    data = text.encode("ascii", "strict").translate(None, _WS)
    return base64.b64decode(data, validate=True)


def filehoso(hoso: etree._Element) -> list[tuple[str | None, etree._Element | None]]:
    """``(LOAIHOSO text, NOIDUNGFILE element)`` of every ``FILEHOSO`` of one ``HOSO``."""
    out: list[tuple[str | None, etree._Element | None]] = []
    for fh in hoso.iter("{*}FILEHOSO"):
        loai_el = content_el = None
        for child in fh:
            name = _local(child.tag)
            if name == "LOAIHOSO":
                loai_el = child
            elif name == "NOIDUNGFILE":
                content_el = child
        loai = (loai_el.text or "").strip() or None if loai_el is not None else None
        out.append((loai, content_el))
    return out


def documents(hoso: etree._Element, findings: list[Finding]) -> list[tuple[str, etree._Element]]:
    """The parsed inner documents of one ``HOSO``; what is wrong or repaired goes to
    ``findings``."""
    decoded: list[tuple[str, etree._Element]] = []
    seen: dict[str, int] = {}
    for loai_text, content in filehoso(hoso):
        loai = (loai_text or "").upper()
        if loai not in ENVELOPE_TABLES:
            findings.append(
                make(
                    "UNKNOWN_TABLE",
                    code="HOSO.LOAIHOSO.UNKNOWN",
                    field="LOAIHOSO",
                    value=loai or None,
                )
            )
            continue
        seen[loai] = seen.get(loai, 0) + 1
        if seen[loai] == 2:
            findings.append(
                make("DUPLICATE_TABLE", code=f"HOSO.{loai}.DUPLICATE", table=loai, count=2)
            )
        if seen[loai] > 1:
            continue
        root = _document(loai, content, findings)
        if root is not None:
            decoded.append((loai, root))
    return decoded


def _document(
    loai: str, content: etree._Element | None, findings: list[Finding]
) -> etree._Element | None:
    """One table's document, whichever way it was written; ``None`` when it cannot be read."""
    children = [] if content is None else [c for c in content if isinstance(c.tag, str)]
    if len(children) == 1:  # raw XML: the document's root stands inside NOIDUNGFILE
        findings.append(make("RAW_XML", code=f"HOSO.{loai}.RAW_XML", table=loai))
        return children[0]
    if children:
        findings.append(
            make(
                "XML",
                code=f"HOSO.{loai}.XML",
                table=loai,
                detail=f"NOIDUNGFILE holds {len(children)} elements, not one document",
            )
        )
        return None
    text = content.text if content is not None else None
    body = text.strip() if text else ""
    repair: str | None = None
    if body.startswith("<"):  # XML as text: CDATA (or escaped) instead of base64
        data, repair = body.encode("utf-8"), "CDATA"
    else:
        try:
            data = decode_base64(body)
        except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
            findings.append(
                make("BASE64", code=f"HOSO.{loai}.BASE64", table=loai, detail=str(exc)[:120])
            )
            return None
        if _INNER_WS.search(body):
            repair = "BASE64_WRAPPED"
    if not data.strip(BOM + _WS):
        findings.append(make("EMPTY", code=f"HOSO.{loai}.EMPTY", table=loai))
        return None
    try:
        root = parse_document(data)
    except NotUTF8 as exc:
        findings.append(make("ENCODING", code=f"HOSO.{loai}.ENCODING", table=loai, detail=str(exc)))
        return None
    except UnsafeXML as exc:
        findings.append(make("UNSAFE", code=f"HOSO.{loai}.UNSAFE", table=loai, detail=str(exc)))
        return None
    except (etree.XMLSyntaxError, MalformedHead) as exc:
        findings.append(make("XML", code=f"HOSO.{loai}.XML", table=loai, detail=str(exc)[:200]))
        return None
    if repair is not None:
        findings.append(make(repair, code=f"HOSO.{loai}.{repair}", table=loai))
    return root
