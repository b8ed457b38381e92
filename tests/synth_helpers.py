"""Shared helpers for the synth tests: generate once, validate every file."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from pathlib import Path

from khoyte.synth.generate import SynthConfig, run
from khoyte.validate.engine import validate_file

# Validation happens "now" in the tests' world: after every generated day.
RECEIVED = datetime(2026, 1, 15)


def generate(out: Path, **kw: object) -> dict[str, object]:
    cfg = SynthConfig(**kw)  # type: ignore[arg-type]
    return run(cfg, out)


def findings(out: Path) -> Counter[tuple[str, str | None, str]]:
    """(file, MA_LK, finding code) of every finding in every XML file under ``out``."""
    got: Counter[tuple[str, str | None, str]] = Counter()
    for p in sorted((out / "xml").rglob("*.xml")):
        rel = p.relative_to(out).as_posix()
        res = validate_file(p, rel, keep_records=False, received_at=RECEIVED)
        for f in res.findings:
            got[(rel, None, f.code)] += 1
        for r in res.records:
            for f in r.findings:
                got[(rel, r.ma_lk, f.code)] += 1
    return got


def tree(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()
    }


__all__ = ["RECEIVED", "date", "findings", "generate", "tree"]
