"""Run every benchmark: ``python -m benchmarks`` (or ``make bench``)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> None:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    quick = "--quick" in sys.argv
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        print(f"\n=== benchmarks.{name} ===")
        mod.main(["--quick"] if quick else [])


if __name__ == "__main__":
    main()
