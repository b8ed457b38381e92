"""``khoyte surveillance …``: outbreak detection from the command line."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer

from khoyte.surveillance.algorithms import ALGORITHMS, Result, detect

app = typer.Typer(
    help="Giám sát dịch bệnh / outbreak detection.",
    no_args_is_help=True,
    add_completion=False,
)


def _read_series(path: Path) -> tuple[list[str], list[float]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"idx", "observed"} <= set(reader.fieldnames):
            raise ValueError("input must have columns idx,observed")
        rows = list(reader)
    return [r["idx"] for r in rows], [float(r["observed"]) for r in rows]


def _range(text: str | None, idx: list[str]) -> list[int] | None:
    """``FROM:TO`` in the input's ``idx`` values, inclusive → 1-based positions."""
    if text is None:
        return None
    lo, sep, hi = text.partition(":")
    if not sep or lo not in idx or hi not in idx:
        raise ValueError(f"--range must be FROM:TO with both ends in the idx column: {text}")
    a, b = idx.index(lo) + 1, idx.index(hi) + 1
    if b < a:
        raise ValueError("--range: FROM after TO")
    return list(range(a, b + 1))


def _num(v: float | None) -> str:
    return "" if v is None else repr(v)


def write_csv(result: Result, idx: list[str]) -> None:
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["idx", "observed", "expected", "upperbound", "alarm"])
    for pos, obs, exp, upper, alarm in result.rows():
        a = "" if alarm is None else ("TRUE" if alarm else "FALSE")
        w.writerow([idx[pos - 1], f"{obs:g}", _num(exp), _num(upper), a])


@app.command("detect")
def detect_cmd(
    algorithm: Annotated[
        str, typer.Option(help="ears_c1 | ears_c2 | ears_c3 | farrington | farrington_flexible")
    ],
    input: Annotated[Path, typer.Option(help="CSV idx,observed / chuỗi số ca.")],
    frequency: Annotated[int, typer.Option(help="Số kỳ mỗi năm / periods a year.")] = 52,
    range_: Annotated[
        str | None, typer.Option("--range", help="FROM:TO (giá trị idx / idx values).")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="NAME=VALUE, tên tham số như R surveillance / R's names."),
    ] = None,
) -> None:
    """Phát hiện bất thường trên một chuỗi / detect aberrations in one series (CSV out)."""
    try:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"--algorithm must be one of {', '.join(ALGORITHMS)}")
        idx, observed = _read_series(input)
        params: dict[str, str] = {}
        for p in param or []:
            name, sep, value = p.partition("=")
            if not sep:
                raise ValueError(f"--param must be NAME=VALUE: {p}")
            params[name.strip()] = value
        result = detect(
            algorithm, observed, frequency=frequency, range_=_range(range_, idx), params=params
        )
    except (ValueError, OSError) as exc:
        typer.echo(f"Lỗi / error: {exc}", err=True)
        raise typer.Exit(2) from exc
    write_csv(result, idx)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="surveillance")
