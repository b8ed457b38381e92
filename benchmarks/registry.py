"""The facility registry: what an import costs, and what the registry feed adds to the
warehouse's poll.

1. ``khoyte facility import``'s code on ``--facilities`` rows (one province's worth; the file is
   written here), on SQLite.
2. The poll: a warehouse refresh with nothing new, against its two checks measured alone in the
   same run (the record versions after the watermark, the facilities after the registry
   watermark). The ratio registry check / record check says what the one registry costs the
   1-second poll.
3. One registry change carried to ``dim_facility`` (the path of an edit on the IT page).

Run: ``python -m benchmarks.registry [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from khoyte.config import Settings
from khoyte.gateway.versions import StoreVersionSource
from khoyte.registry import facilities as reg
from khoyte.registry.adminunits import communes_of
from khoyte.store.db import make_engine, migrate, session_factory, session_scope
from khoyte.warehouse.service import Warehouse


def _median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--facilities", type=int, default=999)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    n_fac = 200 if args.quick else args.facilities
    polls = 50 if args.quick else 300
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = Settings(data_dir=data)
        engine = make_engine(settings)
        migrate(engine)
        sessions = session_factory(engine)
        communes = [c for c, _ in communes_of("82")]
        csv = data / "facilities.csv"
        with csv.open("w", encoding="utf-8") as fh:
            fh.write("ma_cskcb,ten,tuyen,ma_xa,giuong\n")
            for i in range(n_fac):
                fh.write(f"82{i + 1:03d},Cơ sở {i},xa,{communes[i % len(communes)]},{i % 50}\n")
        t = time.perf_counter()
        with session_scope(sessions) as s:
            reg.import_file(s, csv)
        imported = time.perf_counter() - t
        print(f"import: {n_fac} facilities in {imported * 1000:.0f} ms "
              f"({n_fac / imported:,.0f} rows/s)")  # fmt: skip

        source = StoreVersionSource(engine)
        wh = Warehouse(settings)
        try:
            t = time.perf_counter()
            fed = wh.refresh(source).facilities
            print(f"first feed: {fed} rows into dim_facility in "
                  f"{(time.perf_counter() - t) * 1000:.0f} ms")  # fmt: skip
            records = _median_ms(lambda: list(source.iter_versions(10**12)), polls)
            registry = _median_ms(lambda: source.facilities_since(10**12), polls)
            poll = _median_ms(lambda: wh.refresh(source), polls)
            print(f"poll with nothing new: {poll:.2f} ms (median of {polls}); record check "
                  f"{records:.2f} ms, registry check {registry:.2f} ms "
                  f"(ratio registry/record {registry / records:.2f})")  # fmt: skip

            def one_change() -> object:
                with session_scope(sessions) as s:
                    fac = reg.get(s, "82001")
                    assert fac is not None  # imported above  # nosec B101
                    reg.set_active(s, "82001", not fac.active)
                return wh.refresh(source)

            print(
                f"one registry change to dim_facility: {_median_ms(one_change, 20):.1f} ms "
                "(commit + poll), median of 20"
            )
        finally:
            wh.close()
            engine.dispose()


if __name__ == "__main__":
    main()
