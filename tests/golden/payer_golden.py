"""The payer profile's regression golden: what khoyte said of a dirty synthetic province before
issue 11 introduced judging profiles (main @ bfb350c). ``python -m tests.golden.payer_golden``
rewrites it — only do that when a change to the payer profile's findings is intended."""

from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
GOLDEN = HERE / "payer_findings.json.gz"
SYNTH = {
    "seed": 11,
    "population": 1500,
    "start": "2025-03-01",
    "end": "2025-04-15",
    "dirty": 0.35,
}


def synth_args(out: Path) -> list[str]:
    a = SYNTH
    return [
        "synth", "--out", str(out), "--seed", str(a["seed"]), "--population",
        str(a["population"]), "--start", str(a["start"]), "--end", str(a["end"]),
        "--dirty", str(a["dirty"]),
    ]  # fmt: skip


def xml_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted((root / "xml").rglob("*.xml")):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def summary(results: list[dict[str, Any]], root: Path) -> dict[str, Any]:
    keep = ("code", "severity", "table", "stt", "field", "value", "message_vi", "message_en")
    files = {}
    for r in results:
        name = Path(r["file"]).relative_to(root).as_posix()
        files[name] = {
            "status": r["status"],
            "findings": [[f[k] for k in keep] for f in r["findings"]],
            "records": [
                [rec["ma_lk"], rec["status"], [[f[k] for k in keep] for f in rec["findings"]]]
                for rec in r["records"]
            ],
        }
    return files


def main() -> None:
    from khoyte.validate.engine import validate_file

    root = Path(sys.argv[1])
    results = []
    for p in sorted((root / "xml").rglob("*.xml")):
        results.append(validate_file(p, str(p), keep_records=False).as_dict())
    data = {"xml_sha256": xml_digest(root), "files": summary(results, root)}
    GOLDEN.write_bytes(gzip.compress(json.dumps(data, ensure_ascii=False, sort_keys=True).encode()))
    print(GOLDEN, GOLDEN.stat().st_size)


if __name__ == "__main__":
    main()
