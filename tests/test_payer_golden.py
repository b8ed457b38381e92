"""Issue 11: under the ``payer`` profile khoyte says exactly what it said before profiles existed,
message for message, on a dirty synthetic province (``tests/golden/payer_golden.py``)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from typer.testing import CliRunner

from khoyte.cli import app
from khoyte.validate.engine import validate_file
from tests.golden.payer_golden import GOLDEN, summary, synth_args, xml_digest


def test_payer_profile_says_what_khoyte_said_before(tmp_path: Path) -> None:
    golden = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    out = tmp_path / "synth"
    res = CliRunner().invoke(app, synth_args(out))
    assert res.exit_code == 0, res.output
    assert xml_digest(out) == golden["xml_sha256"], (
        "`khoyte synth --exporters standard` no longer writes the files the golden was made "
        "from; the synth must keep today's output for the standard exporter"
    )
    results = [
        validate_file(p, str(p), keep_records=False).as_dict()
        for p in sorted((out / "xml").rglob("*.xml"))
    ]
    got = summary(results, out)
    assert got.keys() == golden["files"].keys()
    for name, want in golden["files"].items():
        assert got[name] == want, name
    # the golden is not trivially empty: it holds errors and warnings of many kinds
    codes = {f[0] for f_ in golden["files"].values() for rec in f_["records"] for f in rec[2]}
    assert len(codes) > 15
