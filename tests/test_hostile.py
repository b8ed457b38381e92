"""Hostile input: each gives a clear finding, and never a crash, a hang or a memory blow-up.

Every case runs in a child process with an address-space cap and a timeout, so a segfault, an
endless loop or runaway memory fails the test instead of taking the test run down.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.factories import record
from tests.xmlkit import hoso_files, one, raw_envelope

# The child's own peak RSS: VmHWM of this process image. (ru_maxrss also keeps the peak of the
# process before exec, i.e. the forking test worker's size, whatever tests ran in it before.)
PEAK = (
    "def peak_kb():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'): return int(line.split()[1])\n"
    "    import resource; return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
)

CHILD = (
    PEAK
    + r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
from khoyte.validate.engine import validate_file
res = validate_file(sys.argv[1], max_bytes=int(sys.argv[3]))
codes = sorted({f.code for f in res.findings} | {f.code for r in res.records for f in r.findings})
print(json.dumps({"codes": codes, "status": res.status.value, "unusable": res.unusable,
                  "maxrss_kb": peak_kb(),
                  "messages": [f.message_vi for f in res.findings]}))
"""
)

MEMORY_CAP = 1536 * 1024 * 1024  # the child may not use more than 1.5 GiB of address space


def check(path: Path, max_bytes: int = 512 * 1024 * 1024, timeout: float = 60) -> dict[str, object]:
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(MEMORY_CAP), str(max_bytes)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, f"child crashed ({r.returncode}): {r.stderr[-2000:]}"
    out: dict[str, object] = json.loads(r.stdout)
    return out


LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b"]><GIAMDINHHS>&lol9;</GIAMDINHHS>"
)
XXE = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><GIAMDINHHS>&x;</GIAMDINHHS>'
REMOTE_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE GIAMDINHHS SYSTEM "http://203.0.113.1/x.dtd"><GIAMDINHHS/>'
)


def _inner(table: str, doc: bytes) -> bytes:
    files = [(t, d) for t, d in hoso_files(record())]
    return raw_envelope([[f if f[0] != table else (table, doc) for f in files]])


CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "billion_laughs": (lambda: LAUGHS, "FILE.XML.UNSAFE"),
    "external_entity": (lambda: XXE, "FILE.XML.UNSAFE"),
    "remote_dtd": (lambda: REMOTE_DTD, "FILE.XML.UNSAFE"),
    "inner_billion_laughs": (
        lambda: _inner("XML2", LAUGHS.replace(b"GIAMDINHHS", b"CHITIEU_CHITIET_THUOC")),
        "HOSO.XML2.UNSAFE",
    ),
    "inner_external_entity": (
        lambda: _inner("XML1", XXE.replace(b"GIAMDINHHS", b"TONG_HOP")),
        "HOSO.XML1.UNSAFE",
    ),
    "deep_nesting": (
        lambda: b"<GIAMDINHHS>" + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</GIAMDINHHS>",
        "FILE.XML.SYNTAX",
    ),
    "inner_deep_nesting": (
        lambda: _inner(
            "XML2",
            b"<CHITIEU_CHITIET_THUOC>"
            + b"<a>" * 10_000
            + b"</a>" * 10_000
            + b"</CHITIEU_CHITIET_THUOC>",
        ),
        "HOSO.XML2.XML",
    ),
    "invalid_base64": (
        lambda: raw_envelope(
            [[(t, d if t != "XML2" else "SGVsbG8*=") for t, d in hoso_files(record())]]
        ),
        "HOSO.XML2.BASE64",
    ),
    "inner_utf16": (
        lambda: _inner(
            "XML2",
            '<?xml version="1.0" encoding="utf-16"?><CHITIEU_CHITIET_THUOC/>'.encode("utf-16"),
        ),
        "HOSO.XML2.ENCODING",
    ),
    "inner_latin1": (
        lambda: _inner("XML1", "<TONG_HOP><HO_TEN>Ân Ê Ô</HO_TEN></TONG_HOP>".encode("latin-1")),
        "HOSO.XML1.ENCODING",
    ),
    "inner_declared_latin1": (
        lambda: _inner("XML1", b'<?xml version="1.0" encoding="ISO-8859-1"?><TONG_HOP/>'),
        "HOSO.XML1.ENCODING",
    ),
    "truncated": (lambda: one(record())[:-200], "FILE.XML.SYNTAX"),
    "empty": (lambda: b"", "FILE.CONTENT.EMPTY"),
    "zip_renamed": (
        lambda: b"PK\x03\x04\x14\x00\x08\x00\x08\x00" + bytes(range(256)) * 4,
        "FILE.CONTENT.ZIP",
    ),
    "unknown_loaihoso": (
        lambda: raw_envelope([[*hoso_files(record()), ("XML16", b"<X/>")]]),
        "HOSO.LOAIHOSO.UNKNOWN",
    ),
    "hoso_without_xml1": (
        lambda: raw_envelope([[f for f in hoso_files(record()) if f[0] != "XML1"]]),
        "HOSO.XML1.MISSING",
    ),
    "xml2_malk_differs": (lambda: _mismatch(), "XML2.MA_LK.LINK"),
    "binary_noise": (
        lambda: bytes((i * 7919) % 256 for i in range(100_000)),
        "FILE.CONTENT.NOT_XML",
    ),
    "utf16_outer": (
        lambda: (
            one(record()).decode().replace('encoding="utf-8"', 'encoding="utf-16"').encode("utf-16")
        ),
        "FILE.XML.ENCODING",
    ),
}


def _mismatch() -> bytes:
    rec = record()
    for row in rec.drugs:
        row.values["MA_LK"] = "LK_KHAC"
    return one(rec)


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile(name: str, tmp_path: Path) -> None:
    build, expected = CASES[name]
    path = tmp_path / f"{name}.xml"
    path.write_bytes(build())
    out = check(path)
    assert expected in out["codes"], out
    assert out["status"] in ("rejected", "partially_accepted")
    assert int(out["maxrss_kb"]) < 400 * 1024, out["maxrss_kb"]  # type: ignore[call-overload]


def test_one_gigabyte_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    with path.open("wb") as fh:
        fh.truncate(1 << 30)  # sparse: 1 GiB on paper
    out = check(path, timeout=20)
    assert out["codes"] == ["FILE.SIZE.TOO_LARGE"]
    assert int(out["maxrss_kb"]) < 200 * 1024  # type: ignore[call-overload]


def test_one_gigabyte_stream_stops_at_the_limit() -> None:
    """A body that never ends (e.g. a 1 GB upload) is cut off at the limit, in bounded memory."""
    code = (
        PEAK
        + r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
from khoyte.validate.engine import validate_file
class Endless:
    sent = 0
    def read(self, n=65536):
        if self.sent >= (1 << 30): return b""
        chunk = b"<GIAMDINHHS>" if self.sent == 0 else b" " * 65536
        self.sent += len(chunk)
        return chunk
res = validate_file(Endless(), "stream", max_bytes=64 << 20)
print(json.dumps({"codes": [f.code for f in res.findings],
                  "maxrss_kb": peak_kb()}))
"""
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["codes"] == ["FILE.SIZE.TOO_LARGE"]
    assert out["maxrss_kb"] < 300 * 1024


def test_valid_records_beside_a_broken_one_are_accepted(tmp_path: Path) -> None:
    good = hoso_files(record("LK_A"))
    broken = [(t, d if t != "XML3" else "%%%") for t, d in hoso_files(record("LK_B"))]
    path = tmp_path / "mixed.xml"
    path.write_bytes(raw_envelope([good, broken]))
    out = check(path)
    assert out["status"] == "partially_accepted"
    assert out["codes"] == ["HOSO.XML3.BASE64"]


def test_tolerated_quirks_of_real_exports() -> None:
    """BOM on outer and inner documents, no declaration, the xsi URI with a space, CDATA,
    self-closing empties, elements in any order, comma decimals, non-padded months."""
    from khoyte.validate.engine import validate_file

    rec = record("LKQ")
    files = []
    for t, doc in hoso_files(rec):
        assert isinstance(doc, bytes)
        body = doc.split(b"?>", 1)[1]  # no XML declaration
        root_end = body.index(b">")
        body = (
            body[:root_end]
            + b' xmlns:xsi="http://www.w3.org/2001/XMLSchema instance"'
            + body[root_end:]
        )
        if t == "XML1":
            body = body.replace(b"<HO_TEN>", b"<HO_TEN><![CDATA[").replace(
                b"</HO_TEN>", b"]]></HO_TEN>"
            )
            body = body.replace(b"<THANG_QT>8</THANG_QT>", b"<THANG_QT>8</THANG_QT>")
            # move T_VTYT before T_THUOC (real files do)
            start = body.index(b"<T_VTYT>")
            end = body.index(b"</T_VTYT>") + len(b"</T_VTYT>")
            moved = body[start:end]
            body = body[:start] + body[end:]
            body = body.replace(b"<T_THUOC>", moved + b"<T_THUOC>")
        files.append((t, b"\xef\xbb\xbf" + body))
    data = b"\xef\xbb\xbf" + raw_envelope([files], prefix=b"").replace(
        b"<GIAMDINHHS>", b'<GIAMDINHHS xmlns:xsi="http://www.w3.org/2001/XMLSchema instance">'
    )
    res = validate_file(data, "quirks.xml")
    assert res.status.value == "accepted", [f.code for r in res.records for f in r.findings]
    assert res.records[0].record == rec
    base64.b64decode  # noqa: B018 - keep import used for readers of this file


def test_digits_that_are_not_ascii_are_findings_not_crashes() -> None:
    """'²' and '٣' are digits to str.isdigit() but not to int(): STT and SOLUONGHOSO carrying
    them must give a finding (found by the compiled reader's property test)."""
    from khoyte.validate.engine import validate_file

    files = hoso_files(record("LKDIGIT"))
    files = [
        (t, d.replace(b"<STT>1</STT>", "<STT>²</STT>".encode()) if isinstance(d, bytes) else d)
        for t, d in files
    ]
    data = raw_envelope([files]).replace(
        b"<SOLUONGHOSO>1</SOLUONGHOSO>", "<SOLUONGHOSO>٣</SOLUONGHOSO>".encode()
    )
    res = validate_file(data, "digits.xml")
    assert not res.unusable
    stt = [f for r in res.records for f in r.findings if f.field == "STT"]
    assert stt, [f.code for r in res.records for f in r.findings]
    assert all(f.value == "²" for f in stt)
