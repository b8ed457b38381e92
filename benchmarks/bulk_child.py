"""One bulk intake in a fresh process, as ``khoyte ingest`` runs it (a small heap, its reader
processes): ``python -m benchmarks.bulk_child FOLDER DATABASE_URL|'' JOBS`` ingests the folder's
files into a new store beside it and prints ``[wall seconds, CPU seconds, files per commit]`` as
JSON. CPU is this process's and its readers' from the first file on (their start, paid once a
command, apart; Linux). Used by ``benchmarks.gateway_load`` for its "new process" rows."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from khoyte.config import Settings
from khoyte.gateway.bulk import BulkIntake
from khoyte.gateway.intake import IntakeService, ensure_schema


def _cpu(bulk: BulkIntake) -> float:
    """CPU seconds of this process and of the running reader processes (Linux: read from
    /proc, so that their start, paid once a command, is not counted)."""
    t = os.times()
    readers = 0.0
    pool = bulk._pool
    for pid in list(pool._processes) if pool is not None else []:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        readers += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return t.user + t.system + readers


def main() -> None:
    folder, url, jobs = Path(sys.argv[1]), sys.argv[2] or None, int(sys.argv[3])
    files = [(p.read_bytes(), p.name) for p in sorted(folder.glob("*.xml"))]
    svc = IntakeService(Settings(data_dir=folder.parent / "data", database_url=url))
    try:
        ensure_schema(svc.engine)
        bulk = BulkIntake(svc, jobs=jobs)
        bulk.start(files[:20])  # the readers' start (once a command) apart: the steady state
        c0, t0 = _cpu(bulk), time.perf_counter()
        with bulk:
            for outcome in bulk.submit_many(files):
                if isinstance(outcome, Exception):
                    raise outcome
            wall, cpu = time.perf_counter() - t0, _cpu(bulk) - c0
    finally:
        svc.engine.dispose()
    print(json.dumps([wall, cpu, float(bulk.chunk)]))


if __name__ == "__main__":
    main()
