"""What encrypting identifiers at rest costs intake and readers (issue 14, Decree 13/2023).

Per record, CPU time (``process_time``), median of ``--runs`` runs over the same synthetic
records (identity, 3 drug lines, 2 services): the same-run baseline is read + validate
(``validate_file`` of the records' envelope, per record); then what storing adds — the record's
body (``record_body``, what was stored before), sealing it (``Keyring.seal_record``: its
identifying values into one AES-256-GCM ciphertext), reading it back plain and sealed
(``record_from_json`` with ``unseal``), and a receipt of 2 KB sealed as a column value.

Run: ``python -m benchmarks.sealing [--records N] [--runs K]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from tests.factories import record

from khoyte.gateway.batch import record_body
from khoyte.standards.model import BirthDate
from khoyte.standards.serialize import record_from_json
from khoyte.standards.writer import envelope
from khoyte.store.crypto import Keyring
from khoyte.validate.engine import validate_file


def _records(n: int) -> list[Any]:
    out = []
    for i in range(n):
        r = record(f"LK{i:06d}", start=datetime(2025, 8, 1, 8, 0) + timedelta(minutes=i))
        r.episode.values.update({
            "HO_TEN": "Nguyễn Thị Ánh Tuyết", "SO_CCCD": f"0821900{i:05d}",
            "DIEN_THOAI": f"09{i:08d}", "MA_THE_BHYT": [f"GD48282{i:08d}"],
            "DIA_CHI": f"Số {i}, ấp 3, xã Tân Phước, Đồng Tháp", "NGAY_SINH": BirthDate(1990, 5, 4),
        })  # fmt: skip
        out.append(r)
    return out


def _per_record(fn: Callable[[], object], n: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.process_time()
        fn()
        times.append((time.process_time() - t) / n)
    return statistics.median(times) * 1e6  # µs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    n, runs = args.records, args.runs
    recs = _records(n)
    xml = envelope(recs, "82001", date(2025, 8, 28))
    ring = Keyring({"k1": bytes(range(32))}, "benchmark")
    bodies = [record_body(r) for r in recs]
    sealed = [ring.seal_record(b) for b in bodies]
    receipt = ("x" * 2048).encode()
    rows = {
        "read + validate (baseline)": _per_record(lambda: validate_file(xml), n, runs),
        "record body (stored before)": _per_record(lambda: [record_body(r) for r in recs], n, runs),
        "+ seal the body": _per_record(lambda: [ring.seal_record(b) for b in bodies], n, runs),
        "+ seal a 2 KB receipt": _per_record(
            lambda: [ring.seal(receipt, "r") for _ in range(n)], n, runs
        ),
        "read a plain body": _per_record(lambda: [record_from_json(b) for b in bodies], n, runs),
        "read a sealed body": _per_record(
            lambda: [record_from_json(b, ring.unseal) for b in sealed], n, runs
        ),
    }
    base = rows["read + validate (baseline)"]
    print(f"{n} records, median of {runs} runs, CPU µs per record (ratio to read + validate)")
    for name, us in rows.items():
        print(f"  {name:32s} {us:8.1f} µs  ({us / base:.3f}x)")
    grown = statistics.median(len(s) / len(b) for s, b in zip(sealed, bodies, strict=True))
    print(f"  stored body size, sealed / plain: {grown:.3f}")


if __name__ == "__main__":
    main()
