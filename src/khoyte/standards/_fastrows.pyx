# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled row extraction and typing for the claim reader (optional; ``reader.extract_rows``).

The pure-Python reader walks each inner document through lxml's element proxies: a Python object
per element, a ``str`` per tag, a dict per row, then a second pass that strips and types every
value. This module walks the same libxml2 tree that lxml parsed (the same parser, the same safety
options: nothing about *what* is accepted changes) directly through its C structures, and types a
row in the same pass when a ``plan`` is given.

It does only the common case. A row is typed here only when every field is known to the table,
within its maximum length and read by its reader without a problem or a tolerated quirk; any other
row is handed back untyped and goes through ``convert.convert_row``, which writes the findings.
The results are the pure-Python path's, value for value (``tests/test_fastrows.py``).
"""

from binascii import a2b_base64

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport strcmp, strlen
from lxml.includes.etreepublic cimport _Element
from lxml.includes.tree cimport (
    XML_CDATA_SECTION_NODE,
    XML_COMMENT_NODE,
    XML_ELEMENT_NODE,
    XML_ENTITY_REF_NODE,
    XML_PI_NODE,
    XML_TEXT_NODE,
    XML_XINCLUDE_END,
    XML_XINCLUDE_START,
    xmlNode,
)

# Field names are few and repeat in every row: one str object per libxml2 name pointer (lxml
# parses every document of a thread with one shared name dictionary, so the pointer of "MA_LK"
# repeats). A small open-addressing table keyed by the pointer; a hit is also compared by
# content, so a pointer reused by another dictionary (another thread's, freed) can never give
# a wrong name. A full table only stops caching.
DEF _SLOTS = 4096
cdef const void* _name_keys[_SLOTS]
cdef object _name_vals = [None] * _SLOTS  # (str, its UTF-8 bytes)
cdef Py_ssize_t _name_count = 0


cdef inline object _name(xmlNode* c):
    global _name_count
    cdef size_t key = <size_t>c.name
    cdef size_t i = (key >> 4) & (_SLOTS - 1)
    cdef Py_ssize_t probes = 0
    cdef tuple hit
    while probes < 16:
        if _name_keys[i] == c.name:
            hit = <tuple>((<list>_name_vals)[i])
            if strcmp(<const char*>(<bytes>hit[1]), <const char*>c.name) == 0:
                return hit[0]
            break  # the same address, another name: decode it, replace the entry
        if _name_keys[i] == NULL:
            break
        i = (i + 1) & (_SLOTS - 1)
        probes += 1
    raw = <bytes>(<const char*>c.name)
    name = raw.decode("utf-8")
    if probes < 16 and (_name_keys[i] != NULL or _name_count < _SLOTS // 2):
        if _name_keys[i] == NULL:
            _name_count += 1
        _name_keys[i] = c.name
        (<list>_name_vals)[i] = (name, raw)
    return name


# Values read from the same text are the same (readers are pure): a bounded cache per reader.
DEF _CACHE_MAX = 16384  # per reader: a few MB at most, whatever a sender sends


cdef inline bint _edge_space(unsigned char b) noexcept:
    # Could str.strip() remove this edge character? ASCII white space (as str.isspace counts
    # it, 0x1c–0x1f included) or any non-ASCII byte (NBSP, ideographic space …).
    return b <= 0x20 or b >= 0x80


cdef inline bint _is_lxml_child(xmlNode* c) noexcept:
    # What lxml counts in len(element) and yields when iterating an element.
    return (
        c.type == XML_ELEMENT_NODE
        or c.type == XML_COMMENT_NODE
        or c.type == XML_ENTITY_REF_NODE
        or c.type == XML_PI_NODE
    )


cdef inline xmlNode* _text_or_skip(xmlNode* c) noexcept:
    # lxml's _textNodeOrSkip: text and CDATA count, XInclude markers are skipped.
    while c is not NULL:
        if c.type == XML_TEXT_NODE or c.type == XML_CDATA_SECTION_NODE:
            return c
        if c.type == XML_XINCLUDE_START or c.type == XML_XINCLUDE_END:
            c = c.next
            continue
        return NULL
    return NULL


cdef bytes _joined(xmlNode* first):
    """The content of adjacent text nodes from ``first`` on, as lxml joins them for ``.text``."""
    cdef xmlNode* c = first
    parts = bytearray()
    while c is not NULL:
        if c.content is not NULL:
            parts += <bytes>(<const char*>c.content)
        c = _text_or_skip(c.next)
    return bytes(parts)


cdef object _text(xmlNode* element):
    """``element.text.strip() or None``, as lxml's ``.text`` collects it."""
    cdef xmlNode* first = _text_or_skip(element.children)
    cdef size_t size
    if first is NULL:
        return None
    if _text_or_skip(first.next) is NULL:
        if first.content is NULL or first.content[0] == 0:
            return None
        size = strlen(<const char*>first.content)
        s = PyUnicode_DecodeUTF8(<const char*>first.content, size, "strict")
        if not (_edge_space(first.content[0]) or _edge_space(first.content[size - 1])):
            return s
    else:
        s = _joined(first).decode("utf-8")
    s = s.strip()
    return s if s else None


cdef inline xmlNode* _next_below(xmlNode* n, xmlNode* top) noexcept:
    """The element walk of ``top.iter()``: the node after ``n`` in document order, descending
    into elements only, never leaving ``top``; NULL at the end."""
    if n.type == XML_ELEMENT_NODE and n.children is not NULL:
        return n.children
    while n is not NULL and n is not top and n.next is NULL:
        n = n.parent
    if n is NULL or n is top:
        return NULL
    return n.next


cdef inline object _line(xmlNode* rec):
    return rec.line if 0 < rec.line < 65535 else None


cdef object _raw_row(xmlNode* rec, object row_type):
    """One record element, untyped: ``row_type(values, line, duplicates, nested)`` with the
    pure-Python reader's rules (text stripped, ``None`` when empty, the last non-empty of a
    repeated field)."""
    cdef dict values = {}
    cdef dict dup = None
    cdef list nested = None
    cdef xmlNode* c = rec.children
    cdef xmlNode* g
    while c is not NULL:
        if c.type != XML_ELEMENT_NODE:
            c = c.next
            continue
        name = _name(c)
        g = c.children
        while g is not NULL:
            if _is_lxml_child(g):
                if nested is None:
                    nested = []
                nested.append(name)
                break
            g = g.next
        text = _text(c)
        if name in values:
            if dup is None:
                dup = {}
            dup[name] = dup.get(name, 1) + 1
            if values[name] is not None and text is None:
                c = c.next
                continue
        values[name] = text
        c = c.next
    return row_type(values, _line(rec), dup, nested)


cdef inline object _model_row(object model, object table, dict values):
    """``model(table, values)`` without running the dataclass ``__init__`` in the interpreter."""
    row = model.__new__(model)
    row.table = table
    row.values = values
    return row


cdef inline bint _suspicious(str s):
    """Could ``s`` be a placeholder (``convert.is_placeholder``, which decides)? Every
    placeholder starts with one of these characters, and a word is at most 9 long."""
    cdef Py_UCS4 c = s[0]
    if c == u'.' or c == u'\u2026' or c == u'_' or c == u'(' or c == u'[' or c == u'#':
        return True
    return len(s) <= 9 and (c == u'n' or c == u'N' or c == u'u' or c == u'U')


cdef object _typed_row(
    xmlNode* rec,
    object row_type,
    dict spec,
    object problem,
    object quirk,
    tuple model,
    object suspect,
):
    """One record element, typed when it is clean: every field known, once, flat, within its
    length and read without a problem or a quirk (nor, given ``suspect``, a placeholder) — then
    it is the canonical model's row (``model`` = (row class, table), empty fields left out, as
    ``convert_row`` gives them). Otherwise the untyped row (``_raw_row``), for the pure-Python
    path to type and report."""
    cdef dict values = {}
    cdef xmlNode* c = rec.children
    cdef xmlNode* g
    cdef Py_ssize_t before, limit
    cdef bint has_empty = False
    while c is not NULL:
        if c.type != XML_ELEMENT_NODE:
            c = c.next
            continue
        g = c.children
        while g is not NULL:
            if _is_lxml_child(g):
                return _raw_row(rec, row_type)
            g = g.next
        name = _name(c)
        text = _text(c)
        before = len(values)
        if text is None:
            values.setdefault(name, None)
            if len(values) == before:  # a repeated field
                return _raw_row(rec, row_type)
            has_empty = True
            c = c.next
            continue
        how = spec.get(name)
        if how is None:  # a field this table does not have
            return _raw_row(rec, row_type)
        limit = (<tuple>how)[0]
        if limit >= 0 and len(<str>text) > limit:
            return _raw_row(rec, row_type)
        if suspect is not None and _suspicious(<str>text) and suspect(text):
            return _raw_row(rec, row_type)
        reader = (<tuple>how)[1]
        if reader is None:
            value = text
        else:
            cache = <dict>((<tuple>how)[2])
            value = cache.get(text)
            if value is None:
                try:
                    value = reader(text)
                except problem:
                    return _raw_row(rec, row_type)
                if type(value) is quirk:
                    return _raw_row(rec, row_type)
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[text] = value
            if type(value) is list:  # lists are mutable: every row its own
                value = list(<list>value)
        values.setdefault(name, value)
        if len(values) == before:  # a repeated field
            return _raw_row(rec, row_type)
        c = c.next
    if has_empty:
        values = {k: v for k, v in values.items() if v is not None}
    return _model_row(model[0], model[1], values)


cdef inline object _row(
    xmlNode* rec,
    object row_type,
    dict spec,
    object problem,
    object quirk,
    tuple model,
    object suspect,
):
    if spec is None:
        return _raw_row(rec, row_type)
    return _typed_row(rec, row_type, spec, problem, quirk, model, suspect)


cdef object _raw_bytes(xmlNode* element):
    """The UTF-8 bytes of ``element.text`` (``None`` when it has no text)."""
    cdef xmlNode* first = _text_or_skip(element.children)
    if first is NULL or first.content is NULL:
        return None
    if _text_or_skip(first.next) is NULL:
        return PyBytes_FromStringAndSize(
            <const char*>first.content, strlen(<const char*>first.content)
        )
    return _joined(first)


cdef bytes _DECL_UTF8 = b'<?xml version="1.0" encoding="utf-8"?>'
cdef bytes _DECL_UTF8_UPPER = b'<?xml version="1.0" encoding="UTF-8"?>'


cdef bint _plain(bytes data):
    """Does an inner document start so plainly that ``safexml.parse_document`` would hand it to
    libxml2 unchanged? A root start tag right away (or after the usual UTF-8 declaration) with no
    namespace declaration in it. Anything else goes through ``parse_document``."""
    cdef const char* p = data
    cdef Py_ssize_t n = len(data)
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t end
    if n >= 38 and (data.startswith(_DECL_UTF8) or data.startswith(_DECL_UTF8_UPPER)):
        pos = 38
    if pos + 1 >= n or p[pos] != 0x3C:  # '<'
        return False
    if not ((0x41 <= p[pos + 1] <= 0x5A) or (0x61 <= p[pos + 1] <= 0x7A) or p[pos + 1] == 0x5F):
        return False  # not a letter or '_': a declaration, comment, DOCTYPE, NUL …
    end = data.find(b">", pos)
    if end < 0:
        return False
    return data.find(b"xmlns", pos, end) < 0


def hoso_documents(
    _Element hoso not None, object allowed, object parse, object fromstring, object parser
):
    """The inner documents of one ``HOSO`` when nothing about them is unusual:
    ``[(LOAIHOSO, parsed root)]`` in document order, or ``None``, and then the reader takes its
    careful path, which reports what is wrong (an unknown or repeated ``LOAIHOSO``, base64 that is
    not strict, an empty or unparsable document …). ``parse`` is ``safexml.parse_document``;
    a document it would pass to libxml2 unchanged goes to ``fromstring`` with its ``parser``."""
    cdef xmlNode* top = hoso._c_node
    cdef xmlNode* n = top
    cdef xmlNode* c
    cdef xmlNode* loai_node
    cdef xmlNode* content
    cdef list out = []
    cdef set seen = set()
    while n is not NULL:
        if n.type == XML_ELEMENT_NODE and strcmp(<const char*>n.name, "FILEHOSO") == 0:
            loai_node = content = NULL
            c = n.children
            while c is not NULL:
                if c.type == XML_ELEMENT_NODE:
                    if strcmp(<const char*>c.name, "LOAIHOSO") == 0:
                        loai_node = c
                    elif strcmp(<const char*>c.name, "NOIDUNGFILE") == 0:
                        content = c
                c = c.next
            if loai_node is NULL or content is NULL:
                return None
            loai = _text(loai_node)
            if loai is None:
                return None
            loai = (<str>loai).upper()
            if loai not in allowed or loai in seen:
                return None
            seen.add(loai)
            raw = _raw_bytes(content)
            if raw is None:
                return None
            try:
                data = a2b_base64(raw, strict_mode=True)
            except Exception:  # white space around it is allowed; wrapped lines are a repair
                try:  # the careful path reports (``inner.py``)
                    data = a2b_base64((<bytes>raw).strip(b" \t\r\n"), strict_mode=True)
                except Exception:
                    return None
            if len(<bytes>data) == 0 or (<bytes>data)[0] != 0x3C:  # not starting with '<'
                return None
            try:
                if _plain(data):
                    root = fromstring(data, parser)
                else:
                    root = parse(data)
            except Exception:
                return None
            out.append((loai, root))
        n = _next_below(n, top)
    return out


def child_names(_Element root not None):
    """The local names of the element children of ``root`` (``{local(c.tag) for c in root}``)."""
    cdef xmlNode* c = root._c_node.children
    cdef set out = set()
    while c is not NULL:
        if c.type == XML_ELEMENT_NODE:
            out.add(_name(c))
        c = c.next
    return out


def read_rows(
    _Element root not None,
    str table_root,
    str record,
    bint single,
    object row_type,
    object plan,
):
    """The rows of one table document, or ``None`` when no ``record`` element is in it.

    The root itself is the record when it is named ``record``, or ``table_root`` for a
    ``single``-record table; otherwise records are looked for below it.

    ``plan`` is ``None`` (extract only) or ``(spec, problem, quirk, row_class, table, suspect)``:
    ``spec`` maps every field the table knows to ``(max_length or -1, reader or None, cache)``;
    a reader raises ``problem`` for a value it cannot read and returns a ``quirk`` for one read
    with a tolerated deviation; ``cache`` (a dict shared by all fields of one reader) keeps what
    it read; ``suspect`` (or ``None``) tells a placeholder, which makes a row not clean; a clean
    row comes back as ``row_class(table, values)``, any other as a ``row_type``.
    """
    cdef xmlNode* top = root._c_node
    cdef xmlNode* n
    cdef bytes rec_name = record.encode("utf-8")
    cdef bytes root_name = table_root.encode("utf-8")
    cdef const char* want = rec_name
    cdef bint root_is_record = strcmp(<const char*>top.name, want) == 0 or (
        single and strcmp(<const char*>top.name, <const char*>root_name) == 0
    )
    cdef dict spec = None
    cdef tuple model = None
    cdef list rows = []
    problem = quirk = suspect = None
    if plan is not None:
        spec, problem, quirk, row_class, table, suspect = plan
        model = (row_class, table)
    if root_is_record:
        return [_row(top, row_type, spec, problem, quirk, model, suspect)]
    # Every element named ``record`` below the root (any depth, any namespace), in document
    # order, as ``root.iter("{*}" + record)`` gives them.
    n = top
    while n is not NULL:
        if n.type == XML_ELEMENT_NODE and strcmp(<const char*>n.name, want) == 0:
            rows.append(_row(n, row_type, spec, problem, quirk, model, suspect))
        n = _next_below(n, top)
    return rows if rows else None
