"""One bulk intake in a fresh process, as ``khoyte ingest`` runs it (a small heap, one reader
process): ``python -m benchmarks.bulk_child FOLDER DATABASE_URL|'' JOBS`` ingests the folder's
files into a new store beside it and prints ``[wall seconds, CPU seconds (readers included),
files per commit]`` as JSON. Used by ``benchmarks.gateway_load`` for its "fresh process" rows."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from khoyte.config import Settings
from khoyte.gateway.bulk import BulkIntake
from khoyte.gateway.intake import IntakeService, ensure_schema


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    folder, url, jobs = Path(sys.argv[1]), sys.argv[2] or None, int(sys.argv[3])
    files = [(p.read_bytes(), p.name) for p in sorted(folder.glob("*.xml"))]
    svc = IntakeService(Settings(data_dir=folder.parent / "data", database_url=url))
    try:
        ensure_schema(svc.engine)
        bulk = BulkIntake(svc, jobs=jobs)
        bulk.start(files[:20])  # the readers' start (once a command) apart: the steady state
        c0, t0 = _cpu(), time.perf_counter()
        with bulk:  # the readers are reaped at its end: their CPU counts
            for outcome in bulk.submit_many(files):
                if isinstance(outcome, Exception):
                    raise outcome
        wall, cpu = time.perf_counter() - t0, _cpu() - c0
    finally:
        svc.engine.dispose()
    print(json.dumps([wall, cpu, float(bulk.chunk)]))


if __name__ == "__main__":
    main()
