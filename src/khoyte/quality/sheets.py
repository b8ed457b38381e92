"""The workspace's tables as ``analytics.export.Table`` (one XLSX/CSV writer for every table of
khoyte: Vietnamese headers, the period on the sheet, formulas neutralised)."""

from __future__ import annotations

from functools import partial
from typing import Any

from khoyte.analytics.export import Table
from khoyte.quality.rules import explain


def _w(lang: str, vi: str, en: str) -> str:
    return en if lang == "en" else vi


def _pct(v: float | None) -> str | None:
    return None if v is None else f"{v * 100:.1f} %"


def summary_table(name: str, data: dict[str, Any], lang: str, small: int = 0) -> Table:
    """``facilities``, ``rules`` (from the summary twin) or ``months`` (from the months twin)."""
    w = partial(_w, lang)
    if name == "facilities":
        cols = [
            ("facility", "MA_CSKCB"),
            ("name", w("Cơ sở KCB", "Facility")),
            ("records", w("Số hồ sơ", "Records")),
            ("with_findings", w("Hồ sơ có lỗi/cảnh báo", "Records with findings")),
            ("share", w("Tỷ lệ có lỗi", "Share with findings")),
            ("rejected", w("Bị từ chối", "Rejected")),
            ("conventions", w("Quy ước của phần mềm xuất (tỷ lệ hồ sơ)",
                              "Exporter conventions (share of records)")),
        ]  # fmt: skip
        rows = [
            {
                **f,
                "share": _pct(f["share_with_findings"]),
                "conventions": "; ".join(
                    f"{c['code']} {_pct(c['share']) or '—'}" for c in f["conventions"]
                ),
            }
            for f in data["by_facility"]
        ]
        title = w("Chất lượng dữ liệu theo cơ sở", "Data quality by facility")
    elif name == "rules":
        cols = [
            ("code", w("Mã lỗi", "Code")),
            ("severity", w("Mức độ", "Severity")),
            ("payer_severity", w("Mức độ theo BHXH", "Payer severity")),
            ("records", w("Số hồ sơ", "Records")),
            ("amount_at_risk", w("Số tiền có nguy cơ bị từ chối (VND)", "Amount at risk (VND)")),
            ("meaning", w("Ý nghĩa", "Meaning")),
            ("fix", w("Cách sửa", "How to fix")),
            ("conventions", w("Quy ước có thể giải thích", "Conventions that may explain it")),
        ]
        rows = [
            {
                **r,
                "meaning": r["meaning_en" if lang == "en" else "meaning_vi"],
                "fix": r["fix_en" if lang == "en" else "fix_vi"],
                "conventions": ", ".join(r["conventions"]),
            }
            for r in data["by_rule"]
        ]
        title = w("Chất lượng dữ liệu theo quy tắc", "Data quality by rule")
    else:
        cols = [
            ("month", w("Tháng", "Month")),
            ("records", w("Số hồ sơ", "Records")),
            ("with_findings", w("Hồ sơ có lỗi/cảnh báo", "Records with findings")),
            ("share", w("Tỷ lệ có lỗi", "Share with findings")),
            ("rejected", w("Bị từ chối", "Rejected")),
        ]
        rows = [{**m, "share": _pct(m["share_with_findings"])} for m in data["months"]]
        title = w("Chất lượng dữ liệu theo tháng", "Data quality by month")
    return Table(f"quality-{name}", title, cols, rows, small if small > 1 else 0)


def records_table(data: dict[str, Any], lang: str) -> Table:
    """The records with findings, one row per finding (a record without findings but rejected
    — its findings were file-level — gets one row)."""
    w = partial(_w, lang)
    cols = [
        ("facility", "MA_CSKCB"),
        ("ma_lk", "MA_LK"),
        ("day", w("Ngày vào (NGAY_VAO)", "Admission (NGAY_VAO)")),
        ("discharge", w("Ngày ra (NGAY_RA)", "Discharge (NGAY_RA)")),
        ("status", w("Trạng thái", "Status")),
        ("code", w("Mã lỗi", "Code")),
        ("severity", w("Mức độ", "Severity")),
        ("table", w("Bảng", "Table")),
        ("stt", "STT"),
        ("field", w("Trường", "Field")),
        ("value", w("Giá trị", "Value")),
        ("convention", w("Quy ước", "Convention")),
        ("fix", w("Cách sửa", "How to fix")),
        ("submission_id", w("Mã lần gửi", "Submission")),
        ("receipt_url", w("Biên nhận", "Receipt")),
    ]
    rows: list[dict[str, Any]] = []
    for r in data["rows"]:
        base = {k: r[k] for k in ("facility", "ma_lk", "day", "discharge", "status",
                                  "submission_id", "receipt_url")}  # fmt: skip
        for f in r["findings"] or [{}]:
            info = explain(f["code"]) if f else {}
            rows.append(
                {
                    **base,
                    **{
                        k: f.get(k)
                        for k in (
                            "code",
                            "severity",
                            "table",
                            "stt",
                            "field",
                            "value",
                            "convention",
                        )
                    },
                    "fix": info.get("fix_en" if lang == "en" else "fix_vi"),
                }
            )
    title = w("Hồ sơ có lỗi", "Records with findings")
    if data["total"] > len(data["rows"]):
        title += w(
            f" (chỉ {len(data['rows'])}/{data['total']} hồ sơ đầu; hãy lọc hẹp hơn)",
            f" (first {len(data['rows'])} of {data['total']} records; narrow the filters)",
        )
    return Table("quality-records", title, cols, rows)
