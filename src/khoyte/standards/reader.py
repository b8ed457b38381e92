"""Reading claim files: the ``GIAMDINHHS`` envelope, the check-in (XML0) and XML12 documents.

The reader streams: it walks the outer document with ``iterparse`` and hands over one ``HOSO``
(one episode) at a time, decoded but not yet typed or checked, then frees it. A 200 MB
submission is read in the memory of its largest ``HOSO``. What goes wrong with one ``HOSO``
(bad base64, not UTF-8, broken inner XML, an unknown table) is reported on that ``HOSO`` only;
what makes the whole file unreadable (not XML, a DTD, too large, truncated) ends the file with a
file-level finding.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import IO

from lxml import etree

from khoyte.findings import Finding
from khoyte.standards.assessment import assessment_key
from khoyte.standards.inner import documents
from khoyte.standards.layout import (
    CHECKIN_ROOT,
    ENVELOPE_ROOT,
    ENVELOPE_TABLES,
    QD130_LAYOUTS,
    QD4210_LAYOUTS,
    XML12_ROOT,
    Layout,
)
from khoyte.standards.model import Row, Standard
from khoyte.standards.safexml import (
    INNER_PARSER,
    LimitedReader,
    MalformedHead,
    NotUTF8,
    UnsafeXML,
    iterparse,
    parse_document,
)
from khoyte.validate.catalog import make

_fastrows: ModuleType | None
try:  # the compiled accelerator, built by `uv sync` (hatch_build.py); optional
    from khoyte.standards import _fastrows
except ImportError:  # pragma: no cover - a build without a C compiler (KHOYTE_PURE_PYTHON=1)
    _fastrows = None
if os.environ.get("KHOYTE_PURE_PYTHON") == "1":
    _fastrows = None
elif _fastrows is not None and _fastrows.__file__:
    # A source edited after the last build (`uv run`/`uv sync` rebuild it): never run stale code.
    _pyx = Path(__file__).with_name("_fastrows.pyx")
    if _pyx.exists() and _pyx.stat().st_mtime > Path(_fastrows.__file__).stat().st_mtime:
        warnings.warn(
            "khoyte.standards._fastrows is older than its source; using the pure-Python reader "
            "until `uv sync` rebuilds it",
            RuntimeWarning,
            stacklevel=1,
        )
        _fastrows = None

DEFAULT_MAX_BYTES = 512 * 1024 * 1024

# Field names that only one generation of XML1 has (notes §10).
_QD130_MARKERS = frozenset(
    {
        "MA_BENH_CHINH",
        "T_TONGCHI_BV",
        "MA_THE_BHYT",
        "MA_DOITUONG_KCB",
        "T_TONGCHI_BH",
        "MA_NOI_DI",
        "NGAY_MIEN_CCT",
        "SO_CCCD",
    }
)
_QD4210_MARKERS = frozenset(
    {
        "MA_BENH",
        "T_TONGCHI",
        "MA_THE",
        "MA_LYDO_VVIEN",
        "MA_BENHKHAC",
        "TEN_BENH",
        "MIEN_CUNG_CT",
        "TINH_TRANG_RV",
        "MA_NOI_CHUYEN",
    }
)


class DocumentKind(StrEnum):
    CLAIMS = "claims"  # GIAMDINHHS envelope with XML1–XML15
    CHECKIN = "checkin"  # CHI_TIEU_TRANG_THAI_KCB (XML0)
    ASSESSMENT = "assessment"  # CHI_TIEU_GIAM_DINH_YKHOA (XML12)


_ENVELOPE_TABLE_SET = frozenset(ENVELOPE_TABLES)
# The root of each table's own document → (table, layout): a file may be one table alone.
_TABLE_ROOTS: dict[str, tuple[str, Layout]] = {
    **{QD4210_LAYOUTS[t].root: (t, QD4210_LAYOUTS[t]) for t in QD4210_LAYOUTS},
    **{QD130_LAYOUTS[t].root: (t, QD130_LAYOUTS[t]) for t in ENVELOPE_TABLES},
}
_KINDS = {
    ENVELOPE_ROOT: DocumentKind.CLAIMS,
    CHECKIN_ROOT: DocumentKind.CHECKIN,
    XML12_ROOT: DocumentKind.ASSESSMENT,
}
# The elements each kind of document is read by.
_EVENT_TAGS = {
    DocumentKind.CLAIMS: ["{*}HOSO", "{*}MACSKCB", "{*}NGAYLAP", "{*}SOLUONGHOSO"],
    DocumentKind.CHECKIN: ["{*}TRANG_THAI_KCB"],
    DocumentKind.ASSESSMENT: ["{*}GIAM_DINH_YKHOA"],
}


def kind_of(data: bytes) -> DocumentKind | None:
    """The kind of document ``data`` is, from its root element alone (the head is mended as
    the reader mends it); None when the root is none of the three documents' (a one-table file
    is a claim)."""
    try:
        root = LimitedReader(io.BytesIO(data), len(data) + 1).prime()
    except (EOFError, ValueError):
        return None
    if root in _TABLE_ROOTS:
        return DocumentKind.CLAIMS
    return _KINDS.get(root)


@dataclass(slots=True)
class RawRow:
    """One record element: child tag → text as sent (``None`` for an empty element)."""

    values: dict[str, str | None]
    line: int | None = None
    duplicates: dict[str, int] | None = None
    nested: list[str] | None = None


@dataclass(slots=True)
class RawTable:
    table: str
    standard: Standard
    # Text as sent (``RawRow``), or already the model's row when the compiled reader found it
    # clean (every field known, once, flat, within its length, read without a problem or quirk).
    rows: list[RawRow | Row]


@dataclass(slots=True)
class RawHoso:
    """One ``HOSO`` (or one record of a check-in / XML12 document), decoded, not yet typed."""

    index: int  # 1-based position in the file
    tables: list[RawTable] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    standard: Standard = Standard.QD130

    @property
    def ma_lk(self) -> str | None:
        """The record's key: its ``MA_LK``; for a medical assessment (XML12, no ``MA_LK``) the
        key derived from its minutes number (``standards.assessment``)."""
        for t in self.tables:
            if t.table == "XML12" and t.rows:
                return assessment_key(t.rows[0].values.get("SO_BIEN_BAN"))
            if t.table in ("XML1", "XML0") and t.rows:
                v = t.rows[0].values.get("MA_LK")
                return v.strip() or None if isinstance(v, str) else None
        for t in self.tables:
            for r in t.rows:
                v = r.values.get("MA_LK")
                if isinstance(v, str) and v.strip():
                    return v.strip()
        return None


@dataclass(slots=True)
class Header:
    kind: DocumentKind | None = None
    facility: str | None = None  # THONGTINDONVI/MACSKCB
    created: str | None = None  # THONGTINHOSO/NGAYLAP as sent
    declared_count: int | None = None  # SOLUONGHOSO
    root: str | None = None


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[1] if tag.startswith("{") else tag


def _text(el: etree._Element) -> str | None:
    t = el.text
    if t is None:
        return None
    t = t.strip()
    return t or None


# How the compiled reader types a clean row of one table: field → (max length or -1, reader or
# None for text kept as sent, the reader's cache of values), the exception a reader raises, the
# class of a tolerated quirk, the model row class and table name a clean row becomes, and what
# tells a placeholder (a row holding one is not clean).
FastPlan = tuple[
    dict[str, tuple[int, Callable[[str], object] | None, dict[str, object]]],
    type,
    type,
    type[Row],
    str,
    Callable[[str], bool] | None,  # is this text a placeholder? (hub reading), or None
]
Planner = Callable[[Standard, str], FastPlan | None]


def extract_rows(
    root: etree._Element, layout: Layout, plan: FastPlan | None = None
) -> list[RawRow | Row] | None:
    """The records of a table document, or ``None`` when its root is not this table's.

    With the compiled accelerator (``_fastrows``) the tree is walked in C and, given a ``plan``,
    clean rows come back typed; without it, the same rows come back untyped from lxml's API."""
    if _fastrows is not None:
        return _fastrows.read_rows(  # type: ignore[no-any-return]
            root, layout.root, layout.record, layout.single, RawRow, plan
        )
    root_tag = _local(root.tag)
    root_is_record = (root_tag == layout.root and layout.single) or root_tag == layout.record
    any_ns = "{*}" + layout.record  # matches the tag in any namespace or none, in C
    if root_is_record:
        records = [root]
    else:
        # Records may stand at any depth and in any order below the root; some exporters wrap
        # them in a container of their own.
        records = list(root.iter(any_ns))
        if not records:
            return None
    namespaced = root.tag[0] == "{" or None in root.nsmap
    if not namespaced:
        # Fast path: one C-level pass per record. Nesting or a repeated field changes the
        # element count of the document or of a record; then every record is re-read carefully.
        rows: list[RawRow | Row] = [RawRow({c.tag: c.text for c in rec}) for rec in records]
        expected = sum(len(rec) for rec in records) + len(records)
        if records[0] is not root:
            expected += 1 + (1 if layout.list_ and records[0].getparent() is not root else 0)
        if _COUNT(root) == expected and all(
            len(r.values) == len(rec) for r, rec in zip(rows, records, strict=False)
        ):
            return rows
    return [_careful_row(rec) for rec in records]


_COUNT = etree.XPath("count(//*)")


def _careful_row(rec: etree._Element) -> RawRow:
    values: dict[str, str | None] = {}
    dup: dict[str, int] | None = None
    nested: list[str] | None = None
    for child in rec:
        tag = child.tag
        if not isinstance(tag, str):
            continue
        if tag[0] == "{":
            tag = tag.rsplit("}", 1)[1]
        if len(child):
            nested = (nested or []) + [tag]
        text = child.text
        if text is not None:
            text = text.strip() or None
        if tag in values:
            dup = dup or {}
            dup[tag] = dup.get(tag, 1) + 1
            if values[tag] is not None and text is None:
                continue
        values[tag] = text
    return RawRow(values, rec.sourceline if isinstance(rec.sourceline, int) else None, dup, nested)


def detect_standard(root: etree._Element, table: str) -> Standard | None:
    """Which generation a table document follows, from its content."""
    tag = _local(root.tag)
    if table == "XML1":
        if _fastrows is not None:
            names: set[str] = _fastrows.child_names(root)
        else:
            names = {c.tag for c in root if isinstance(c.tag, str)}
            if root.tag[0] == "{" or None in root.nsmap:
                names = {_local(n) for n in names}
        s130 = len(names & _QD130_MARKERS)
        s4210 = len(names & _QD4210_MARKERS)
        if s130 == s4210:
            return None
        return Standard.QD130 if s130 > s4210 else Standard.QD4210
    if table in QD4210_LAYOUTS and tag == QD4210_LAYOUTS[table].root:
        return Standard.QD4210
    if table in QD130_LAYOUTS and tag == QD130_LAYOUTS[table].root:
        return Standard.QD130
    return None


class SubmissionReader:
    """Iterate the ``HOSO`` of one file; then read ``header``, ``findings`` and ``unusable``."""

    def __init__(
        self,
        source: bytes | str | Path | IO[bytes],
        name: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        planner: Planner | None = None,
    ) -> None:
        self.source = source
        self.planner = planner
        self.name = name or (str(source) if isinstance(source, str | Path) else "<stream>")
        self.max_bytes = max_bytes
        self.header = Header()
        self.findings: list[Finding] = []
        self.unusable = False
        self.count = 0
        self.bytes_read = 0

    # -- file-level problems end the file --------------------------------------------------
    def _fail(self, rule: str, code: str, **params: object) -> None:
        self.unusable = True
        self.findings.append(make(rule, code=code, **params))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[RawHoso]:
        if isinstance(self.source, str | Path):
            path = Path(self.source)
            size = path.stat().st_size
            if size > self.max_bytes:
                self._fail("FILE_TOO_LARGE", "FILE.SIZE.TOO_LARGE", max=self.max_bytes)
                return
            with path.open("rb") as fh:
                yield from self._read(fh)
        elif isinstance(self.source, bytes | bytearray | memoryview):
            if len(self.source) > self.max_bytes:
                self._fail("FILE_TOO_LARGE", "FILE.SIZE.TOO_LARGE", max=self.max_bytes)
                return
            yield from self._read(io.BytesIO(bytes(self.source)))
        else:
            yield from self._read(self.source)

    def _read(self, raw: IO[bytes]) -> Iterator[RawHoso]:
        stream = LimitedReader(raw, self.max_bytes)
        try:
            yield from self._events(stream)
        except EOFError:
            self._fail("FILE_EMPTY", "FILE.CONTENT.EMPTY")
        except OverflowError:
            self._fail("FILE_TOO_LARGE", "FILE.SIZE.TOO_LARGE", max=self.max_bytes)
        except UnsafeXML as exc:
            self._fail("FILE_UNSAFE", "FILE.XML.UNSAFE", detail=str(exc))
        except NotUTF8 as exc:
            self._fail("FILE_ENCODING", "FILE.XML.ENCODING", detail=str(exc))
        except MalformedHead as exc:
            first = getattr(stream, "first_bytes", b"")
            if first.startswith(b"PK\x03\x04"):
                self._fail("FILE_ZIP", "FILE.CONTENT.ZIP")
            else:
                self._fail("FILE_NOT_XML", "FILE.CONTENT.NOT_XML", detail=str(exc))
        except etree.XMLSyntaxError as exc:
            self._fail("FILE_XML", "FILE.XML.SYNTAX", detail=str(exc)[:300])
        finally:
            self.bytes_read = stream.read_bytes
        if not self.unusable and self.count == 0 and self.header.kind is not None:
            self._fail("FILE_NO_RECORDS", "FILE.CONTENT.NO_RECORDS")
        if (
            not self.unusable
            and self.header.kind is DocumentKind.CLAIMS
            and self.header.declared_count is not None
            and self.header.declared_count != self.count
        ):
            self.findings.append(
                make(
                    "FILE_COUNT",
                    code="FILE.SOLUONGHOSO.COUNT",
                    field="SOLUONGHOSO",
                    value=self.header.declared_count,
                    expected=self.count,
                )
            )

    def _events(self, stream: LimitedReader) -> Iterator[RawHoso]:
        # The root is known from the mended head before anything is parsed: a document of
        # another kind is refused at once, whatever its size.
        root = stream.prime()
        self.header.root = root
        kind = _KINDS.get(root)
        if kind is None and root in _TABLE_ROOTS:  # one table per file (a portal download)
            self.header.kind = DocumentKind.CLAIMS
            yield from self._one_table(stream, *_TABLE_ROOTS[root])
            return
        if kind is None:
            self._fail("FILE_ROOT", "FILE.XML.ROOT", value=root)
            return
        self.header.kind = kind
        # Only the elements khoyte reads raise events (matched in C, in any namespace).
        for el in iterparse(stream, _EVENT_TAGS[kind]):
            tag = el.tag
            if tag[0] == "{":
                tag = tag.rsplit("}", 1)[1]
            if tag == "HOSO" or tag == "TRANG_THAI_KCB" or tag == "GIAM_DINH_YKHOA":
                self.count += 1
                if kind is DocumentKind.CLAIMS:
                    yield self._hoso(el, self.count)
                elif kind is DocumentKind.CHECKIN:
                    yield self._single(el, "XML0", QD130_LAYOUTS["XML0"])
                else:
                    yield self._single(el, "XML12", QD130_LAYOUTS["XML12"])
                _free(el, self.count)
            elif tag == "MACSKCB":
                self.header.facility = _text(el)
            elif tag == "NGAYLAP":
                self.header.created = _text(el)
            elif tag == "SOLUONGHOSO":
                text = _text(el)
                self.header.declared_count = (
                    int(text) if text and text.isascii() and text.isdigit() else None
                )

    def _one_table(self, stream: LimitedReader, table: str, layout: Layout) -> Iterator[RawHoso]:
        """A file whose root is one table's document: its lines, one record per ``MA_LK`` (in
        the order they first appear), each told it was read from a one-table file."""
        groups: dict[str | None, list[RawRow | Row]] = {}
        standard: Standard | None = None
        for el in iterparse(stream, ["{*}" + layout.record]):
            if standard is None:
                standard = detect_standard(el, table) if table == "XML1" else None
                standard = standard or (
                    Standard.QD4210 if QD130_LAYOUTS[table] is not layout else Standard.QD130
                )
            plan = self.planner(standard, table) if self.planner else None
            for row in extract_rows(el, layout, plan) or []:
                ma_lk = row.values.get("MA_LK")
                key = ma_lk.strip() or None if isinstance(ma_lk, str) else None
                groups.setdefault(key, []).append(row)
            el.clear()
        for rows in groups.values():
            self.count += 1
            assert standard is not None
            out = RawHoso(self.count, [RawTable(table, standard, rows)], standard=standard)
            out.findings.append(make("ONE_TABLE", code=f"HOSO.{table}.ONE_TABLE", table=table))
            yield out

    def _single(self, el: etree._Element, table: str, layout: Layout) -> RawHoso:
        plan = self.planner(Standard.QD130, table) if self.planner else None
        rows = extract_rows(el, layout, plan) or []
        return RawHoso(self.count, [RawTable(table, Standard.QD130, rows)])

    def _documents(self, hoso: etree._Element, out: RawHoso) -> list[tuple[str, etree._Element]]:
        """The parsed inner documents of one ``HOSO``; what is wrong with any goes to ``out``."""
        if _fastrows is not None:
            docs = _fastrows.hoso_documents(
                hoso, _ENVELOPE_TABLE_SET, parse_document, etree.fromstring, INNER_PARSER
            )
            if docs is not None:
                return docs  # type: ignore[no-any-return]
        return documents(hoso, out.findings)

    def _hoso(self, hoso: etree._Element, index: int) -> RawHoso:
        out = RawHoso(index)
        decoded = self._documents(hoso, out)
        # The generation follows XML1; other tables only break a tie.
        votes = [detect_standard(root, loai) for loai, root in decoded if loai == "XML1"]
        if not votes or votes[0] is None:
            votes = [s for s in (detect_standard(r, t) for t, r in decoded) if s is not None]
        out.standard = votes[0] if votes and votes[0] is not None else Standard.QD130
        is130 = out.standard is Standard.QD130
        for loai, root in decoded:
            layout, other, plan = _table_how(is130, loai, self.planner)
            rows = extract_rows(root, layout, plan)
            if rows is None and other is not None:
                # A document of the other generation's layout is still readable.
                rows = extract_rows(root, other, plan)
            if rows is None:
                out.findings.append(
                    make(
                        "ROOT",
                        code=f"HOSO.{loai}.ROOT",
                        table=loai,
                        value=_local(root.tag),
                        expected=layout.root,
                    )
                )
                continue
            out.tables.append(RawTable(loai, out.standard, rows))
        return out


@cache
def _table_how(
    is130: bool, loai: str, planner: Planner | None
) -> tuple[Layout, Layout | None, FastPlan | None]:
    """How a table document is read: its layout, the other generation's layout (tried when the
    first finds nothing), the compiled reader's plan. (Keyed by a bool, not by ``Standard``: an
    enum hashes in Python, and this is looked up for every inner document.)"""
    standard = Standard.QD130 if is130 else Standard.QD4210
    layout = (QD130_LAYOUTS if is130 else QD4210_LAYOUTS).get(loai) or QD130_LAYOUTS[loai]
    other = (QD4210_LAYOUTS if is130 else QD130_LAYOUTS).get(loai)
    plan = planner(standard, loai) if planner else None
    return layout, other, plan


# Processed record elements are emptied at once; the empty shells are removed in bulk this often.
_SWEEP = 1024


def _free(el: etree._Element, count: int) -> None:
    """Release a processed element (its content: the base64 text is nearly all of a file), and
    every ``_SWEEP`` records the emptied elements before it. Removing a sibling one by one while
    lxml holds a proxy for it costs more than reading the record; in bulk, without proxies, it
    is cheap. Memory stays bounded by ``_SWEEP`` empty elements."""
    el.clear()
    if count % _SWEEP == 0:
        parent = el.getparent()
        if parent is not None:
            del parent[: parent.index(el)]
