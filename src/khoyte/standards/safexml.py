"""Parsing untrusted XML safely, while tolerating what real exports do.

Strict where safety is at stake: no DTD at all (so no entity expansion, billion laughs or external
entities), no network, libxml2's depth limit, a size limit counted while reading. Tolerant where
real files differ harmlessly from the standard: a UTF-8 byte-order mark, no XML declaration, and
the invalid ``xsi`` namespace URI with a space (``…/XMLSchema instance``) that half of real claim
files carry and that libxml2 rejects — khoyte rewrites such a URI in the root start tag only,
since the attribute carries no data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO, cast

from lxml import etree

BOM = b"\xef\xbb\xbf"
_PROLOG_LIMIT = 64 * 1024  # the root start tag must begin within this many bytes

_XMLNS_ATTR = re.compile(rb"""(xmlns(?::[A-Za-z_][\w.-]*)?\s*=\s*)(["'])(.*?)\2""", re.S)
_DECL = re.compile(rb"""<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class UnsafeXML(ValueError):
    """The document asks for something khoyte never does (DTD, entities)."""


class NotUTF8(ValueError):
    """The document declares or uses an encoding other than UTF-8."""


class MalformedHead(ValueError):
    """The document does not begin like XML (no root start tag within the first 64 KiB)."""


def _fix_uri(m: re.Match[bytes]) -> bytes:
    uri = m.group(3)
    if re.search(rb"\s", uri):
        uri = re.sub(rb"\s+", b"-", uri.strip())  # ".../XMLSchema instance" → "...-instance"
    return m.group(1) + m.group(2) + uri + m.group(2)


def sanitize_head(head: bytes) -> tuple[bytes, int]:
    """Check and mend the start of a document up to the end of the root start tag.

    Returns the mended head and the number of bytes of the original it replaces. Raises
    ``UnsafeXML`` for a DOCTYPE, ``NotUTF8`` for another declared encoding or a UTF-16 BOM.
    """
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NotUTF8("UTF-16 byte-order mark")
    pos = 0
    while head.startswith(BOM, pos):
        pos += len(BOM)
    n = len(head)
    while True:
        while pos < n and head[pos] in b" \t\r\n":
            pos += 1
        if head.startswith(b"<?", pos):
            end = head.find(b"?>", pos)
            if end < 0:
                raise MalformedHead("unterminated XML declaration or processing instruction")
            decl = _DECL.match(head, pos)
            if decl and decl.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
                raise NotUTF8(f"declared encoding {decl.group(1).decode('ascii', 'replace')}")
            pos = end + 2
        elif head.startswith(b"<!--", pos):
            end = head.find(b"-->", pos)
            if end < 0:
                raise MalformedHead("unterminated comment before the root element")
            pos = end + 3
        elif head.startswith(b"<!", pos):
            raise UnsafeXML("<!DOCTYPE> is not allowed")
        else:
            break
    start = pos
    if start >= n or head[start] != 0x3C:  # '<'
        raise MalformedHead("does not start with an XML element")
    end = _root_tag_end(head, start)
    if end < 0:
        if len(head) < _PROLOG_LIMIT:
            raise MalformedHead("the root start tag is not closed")
        raise MalformedHead("the root start tag does not end within 64 KiB")
    tag = _XMLNS_ATTR.sub(_fix_uri, head[start:end])
    return tag, end


_ROOT_NAME = re.compile(rb"<([^\s/>]+)")
_START_TAG = re.compile(rb"""<(?:[^>"']|"[^"]*"|'[^']*')*>""")


def _root_tag_end(data: bytes, start: int) -> int:
    m = _START_TAG.match(data, start)
    return m.end() if m else -1


def check_utf8(data: bytes) -> None:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NotUTF8("UTF-16 byte-order mark")
    if b"\x00" in data[:4]:
        raise NotUTF8("UTF-16 or UTF-32 (NUL bytes)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUTF8(f"byte {exc.start}: not UTF-8") from None


# The one set of parser options khoyte uses for untrusted XML (inner documents and envelopes).
_SAFE_OPTIONS: dict[str, object] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "remove_comments": True,
    "remove_pis": True,
    "encoding": "utf-8",
}


def _parser(huge: bool) -> etree.XMLParser:
    return etree.XMLParser(dtd_validation=False, huge_tree=huge, **_SAFE_OPTIONS)  # type: ignore[arg-type]


INNER_PARSER = _parser(huge=False)


_PLAIN_DECL = re.compile(
    rb"""<\?xml version=["']1\.0["'](?: encoding=["'](?:utf-8|UTF-8)["'])?\s*\?>"""
)


def _needs_mending(data: bytes) -> bool:
    """Most inner documents start plainly (a UTF-8 declaration or none, then a root start tag
    without namespace declarations): those need no rewriting, and no copy is made."""
    pos = 0
    m = _PLAIN_DECL.match(data)
    if m:
        pos = m.end()
    if data[pos : pos + 1] != b"<" or data[pos + 1 : pos + 2] in (b"!", b"?"):
        return True
    end = data.find(b">", pos)
    return end < 0 or b"xmlns" in data[pos:end]


def parse_document(data: bytes) -> etree._Element:
    """Parse a small (inner) document held in memory. Raises ``UnsafeXML``, ``NotUTF8`` or
    ``etree.XMLSyntaxError``."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4]:
        raise NotUTF8("UTF-16 or UTF-32")
    if _needs_mending(data):
        head, consumed = sanitize_head(data[:_PROLOG_LIMIT])
        if consumed:
            data = head + data[consumed:]
    # A DOCTYPE can only stand in the prolog, which sanitize_head refused; anywhere else it is
    # a syntax error for libxml2. The parser is told the encoding is UTF-8 whatever the document
    # says, so bytes that are not UTF-8 fail in libxml2 — reported as an encoding problem.
    try:
        return etree.fromstring(data, INNER_PARSER)
    except etree.XMLSyntaxError as exc:
        if "encoding" in str(exc) or "UTF-8" in str(exc):
            check_utf8(data)
        raise


class LimitedReader:
    """A binary stream that mends the document head and counts bytes, stopping at ``limit``."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self._raw = raw
        self._limit = limit
        self.read_bytes = 0
        self._pending = b""
        self._head_done = False
        self.too_large = False
        self.root_name = ""

    def _head(self) -> None:
        buf = b""
        while len(buf) < _PROLOG_LIMIT:
            chunk = self._raw.read(_PROLOG_LIMIT - len(buf))
            if not chunk:
                break
            buf += chunk
        self.read_bytes += len(buf)
        self.first_bytes = buf[:8]
        if not buf.strip(BOM + b" \t\r\n"):
            raise EOFError("empty")
        head, consumed = sanitize_head(buf)
        m = _ROOT_NAME.match(head)
        name = m.group(1).decode("utf-8", "replace") if m else ""
        self.root_name = name.rsplit(":", 1)[-1]  # local name, as lxml would give it
        self._pending = head + buf[consumed:]
        self._head_done = True

    def prime(self) -> str:
        """Read and mend the head now; the local name of the root element."""
        if not self._head_done:
            self._head()
        return self.root_name

    def read(self, size: int = -1) -> bytes:
        if not self._head_done:
            self._head()
        if self._pending:
            out, self._pending = self._pending, b""
            return out
        chunk = self._raw.read(size if size and size > 0 else 1 << 16)
        self.read_bytes += len(chunk)
        if self.read_bytes > self._limit:
            self.too_large = True
            raise OverflowError(f"more than {self._limit} bytes")
        return chunk


def iterparse(
    stream: LimitedReader, tags: list[str] | None = None, chunk: int = 1 << 20
) -> Iterator[etree._Element]:
    """Stream the elements of an envelope as they end (only those named in ``tags``, matched in
    C, when given), feeding libxml2 ``chunk`` bytes at a time: memory stays bounded by the chunk
    and what the caller has not yet freed. Text nodes may be large (base64 of a whole table), so
    libxml2's huge mode is on; the depth stays bounded by libxml2 (2048) and size by
    ``LimitedReader``."""
    parser = etree.XMLPullParser(events=("end",), tag=tags, huge_tree=True, **_SAFE_OPTIONS)  # type: ignore[arg-type]
    while True:
        data = stream.read(chunk)
        if not data:
            break
        parser.feed(data)
        for _event, el in parser.read_events():
            yield cast(etree._Element, el)
    parser.close()  # a truncated document raises here
    for _event, el in parser.read_events():
        yield cast(etree._Element, el)
