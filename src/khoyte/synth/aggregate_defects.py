"""Dirty mode for the aggregate reports (issue 13, item 7): missing reports, outliers, typos
(an extra digit) and parts larger than their whole, each listed in the manifest with the finding
the data-quality checks of ``khoyte.aggregate.quality`` must report:

- ``missing``: every row of one unit's report of the month dropped → ``missing`` (completeness);
- ``outlier``: a value multiplied by 4–9 → ``outlier``;
- ``typo``: a digit typed twice (``123`` → ``1233``) → ``outlier``;
- ``sum``: a part larger than its whole (third-or-later births > births, establishments in
  breach > inspected) → ``rule:<code>``.

Its own random stream (seed, 6, year, month): the clean files of a seed never change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Row = tuple[Any, ...]  # bao_cao, thang, ma_don_vi, ten_don_vi, chi_tieu, nhom, gia_tri
KINDS = ("missing", "outlier", "typo", "sum")
_SPIKE = ("dan_so", "tre_sinh", "nhan_luc")  # on no rule's left side: only the outlier shows
_UNIT_REPORTS = ("dan_so", "sinh", "khhgd", "nhan_luc", "giuong")


def inject(
    rows: list[Row], rate: float, seed: int, year: int, month: int
) -> tuple[list[Row], list[dict[str, Any]]]:
    """The month's rows with anomalies, and the anomalies (``rate``: the ``--dirty`` share)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 6, year, month]))
    out = list(rows)
    listed: list[dict[str, Any]] = []
    touched: set[tuple[str, str]] = set()  # (report, unit) already changed

    def note(kind: str, row: Row, value: Any, expected: str) -> None:
        listed.append({"kind": kind, "report": row[0], "month": row[1], "orgunit": row[2],
                       "element": row[4], "coc": row[5], "original": row[6], "value": value,
                       "expected": expected})  # fmt: skip
        touched.add((row[0], row[2]))

    per_kind = max(1, round(rate * 40))
    for kind in KINDS:
        for _ in range(int(rng.poisson(per_kind))):
            if kind == "missing":
                report = _UNIT_REPORTS[int(rng.integers(len(_UNIT_REPORTS)))]
                units = sorted({r[2] for r in out if r[0] == report} - {u for _, u in touched})
                if not units:
                    continue
                unit = units[int(rng.integers(len(units)))]
                first = next(r for r in out if r[0] == report and r[2] == unit)
                out = [r for r in out if not (r[0] == report and r[2] == unit)]
                note("missing", (report, first[1], unit, first[3], "", "", None), None, "missing")
            elif kind in ("outlier", "typo"):
                low = 5 if kind == "outlier" else 10
                pool = [i for i, r in enumerate(out)
                        if r[4] in _SPIKE and r[6] >= low and (r[0], r[2]) not in touched]  # fmt: skip
                if not pool:
                    continue
                i = pool[int(rng.integers(len(pool)))]
                r = out[i]
                if kind == "outlier":
                    new = int(r[6]) * int(rng.integers(4, 10))
                else:
                    text = str(r[6])
                    at = int(rng.integers(len(text)))
                    new = int(text[: at + 1] + text[at:])
                out[i] = (*r[:6], new)
                note(kind, r, new, "outlier")
            else:
                out, done = _sum(out, rng, touched)
                if done is not None:
                    note("sum", done[0], done[1], done[2])
    return out, listed


def _sum(
    rows: list[Row], rng: np.random.Generator, touched: set[tuple[str, str]]
) -> tuple[list[Row], tuple[Row, int, str] | None]:
    """A part made larger than its whole."""
    if rng.random() < 0.5:
        part, whole, rule, report = (
            "con_thu_3_tro_len",
            "tre_sinh",
            "con_thu_3_le_tong_sinh",
            "sinh",
        )
    else:
        part, whole, rule, report = "co_so_vi_pham", "co_so_kiem_tra", "vi_pham_le_kiem_tra", "attp"
    units = sorted(
        {r[2] for r in rows if r[0] == report} - {u for rep, u in touched if rep == report}
    )
    if not units:
        return rows, None
    unit = units[int(rng.integers(len(units)))]
    total = sum(int(r[6]) for r in rows if r[2] == unit and r[4] == whole)
    new = total + int(rng.integers(1, 4))
    out = list(rows)
    for i, r in enumerate(out):
        if r[2] == unit and r[4] == part:
            out[i] = (*r[:6], new)
            return out, (r, new, f"rule:{rule}")
    return rows, None
