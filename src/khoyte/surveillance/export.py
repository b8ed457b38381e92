"""The epidemic page's tables as files: the communes ranked by excess and the signals over time,
as CSV or XLSX through the dashboards' writer (:mod:`khoyte.analytics.export`).

The page shows exact counts to the people who act on the alerts; a file leaves the product, so
it follows the small-count rule of every other export (:mod:`khoyte.analytics.disclosure`):
for a caller without ``view_records``, counts of people from 1 to ``small_count_threshold − 1``
are written ``< 5``. The cells that add up to a published total are suppressed with their
complement — the weeks (or days) of a signal's series, and the communes of a signal at the
ranking's period (they add up to the area's count of that period); what would give a hidden
count back (the excess = count − bound) is hidden with it. Bounds, expected values and alarms
are the algorithm's output and stay.
"""

from __future__ import annotations

from typing import Any

from khoyte import i18n
from khoyte.analytics import disclosure
from khoyte.analytics.export import Table

TABLES = ("ranking", "signals")
WORDS = {  # column headers (Vietnamese, English)
    "signal": ("Tín hiệu", "Signal"),
    "signal_name": ("Bệnh / hội chứng", "Disease / syndrome"),
    "commune": ("Mã xã", "Commune code"),
    "commune_name": ("Xã cư trú", "Residence commune"),
    "period": ("Kỳ (ngày đầu)", "Period (first day)"),
    "label": ("Kỳ", "Period"),
    "observed": ("Số ca", "Cases"),
    "expected": ("Kỳ vọng", "Expected"),
    "upperbound": ("Ngưỡng trên", "Upper bound"),
    "excess": ("Vượt ngưỡng", "Excess"),
    "alarm": ("Báo động", "Alarm"),
    "algorithm": ("Thuật toán", "Algorithm"),
    "ranking": ("Xã xếp theo mức vượt ngưỡng (kỳ cuối)", "Communes ranked by excess (last period)"),
    "signals": ("Tín hiệu dịch theo thời gian", "Signals over time"),
}


def _suppressed(rows: list[dict[str, Any]], by: str, t: int) -> list[dict[str, Any]]:
    """``observed`` hidden with its complement within each ``by`` group (a partition)."""
    out = [dict(r) for r in rows]
    if t <= 1:
        return out
    groups: dict[Any, dict[int, int]] = {}
    for i, r in enumerate(out):
        groups.setdefault(r[by], {})[i] = int(r["observed"])
    for cells in groups.values():
        for i, v in disclosure.group(cells, t).items():
            out[i]["observed"] = v
            if v is None and "excess" in out[i]:
                out[i]["excess"] = None
    return out


def table(data: dict[str, Any], name: str, lang: str, small: int) -> Table:
    """``data``: the twin's body (:func:`khoyte.surveillance.overview.overview`)."""
    names = {s["code"]: i18n.pair((s["name_vi"], s["name_en"]), lang) for s in data["signals"]}
    yes, no = ("có", "không") if lang == "vi" else ("yes", "no")

    def alarm(v: bool | None) -> str:
        return "" if v is None else yes if v else no

    if name == "ranking":
        keys = ["signal", "signal_name", "commune", "commune_name", "label", "observed",
                "expected", "upperbound", "excess", "alarm", "algorithm"]  # fmt: skip
        rows = [
            {**r, "signal_name": names.get(r["signal"], r["signal"]),
             "commune_name": r["commune_name"] or "", "alarm": alarm(r["alarm"])}
            for r in _suppressed(data["ranking"], "signal", small)
        ]  # fmt: skip
    else:
        keys = ["signal", "signal_name", "period", "label", "observed", "expected",
                "upperbound", "alarm", "algorithm"]  # fmt: skip
        flat = [
            {**p, "signal": s["code"], "signal_name": names[s["code"]],
             "period": p["period"].isoformat()}
            for s in data["signals"] for p in s["points"]
        ]  # fmt: skip
        rows = [{**r, "alarm": alarm(r["alarm"])} for r in _suppressed(flat, "signal", small)]
    for r in rows:
        for k in ("expected", "upperbound", "excess"):
            if isinstance(r.get(k), float):
                r[k] = round(r[k], 3)
    cols = [(k, i18n.pair(WORDS[k], lang)) for k in keys]
    return Table(f"epidemic-{name}", i18n.pair(WORDS[name], lang), cols, rows,
                 small if small > 1 else 0)  # fmt: skip
