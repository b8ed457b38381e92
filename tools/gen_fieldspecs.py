"""Generate the QĐ 130/4750 field specifications (``src/khoyte/standards/data/qd130_fields.json``)
from the Ministry's appendix tables as extracted in ``docs/standards/qd130-field-tables.md``.

Run: ``python tools/gen_fieldspecs.py [--check]``. ``--check`` exits 1 when the committed JSON
differs from what the markdown gives (the test suite runs the same comparison).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs" / "standards" / "qd130-field-tables.md"
TARGET = ROOT / "src" / "khoyte" / "standards" / "data" / "qd130_fields.json"

_HEADING = re.compile(r"^## Bảng (?:check-in|\d+) \((XML\d+)\) — (.+)$")
_FIELD = re.compile(r"^`([A-Z0-9_]+)`$")


def _cells(line: str) -> list[str]:
    # Cells are separated by '|' not preceded by a backslash (the extractor escaped literal pipes).
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.strip().replace("\\|", "|") for p in parts]


def _max(value: str) -> int | None:
    value = value.strip()
    return None if value in {"", "n"} else int(value)


def _type(value: str) -> str:
    value = value.strip()
    if value == "Số":
        return "number"
    if value == "Chuỗi":
        return "string"
    raise ValueError(f"unknown type {value!r}")


def parse(text: str) -> dict[str, dict[str, object]]:
    tables: dict[str, dict[str, object]] = {}
    current: dict[str, object] | None = None
    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            current = {"table": heading.group(1), "title_vi": heading.group(2), "fields": []}
            tables[heading.group(1)] = current
            continue
        if current is None or not line.startswith("| "):
            continue
        cells = _cells(line)
        if len(cells) < 10:
            continue
        field = _FIELD.match(cells[1])
        if not field:
            continue
        fields = current["fields"]
        assert isinstance(fields, list)
        fields.append(
            {
                "no": int(cells[0]) if cells[0].isdigit() else None,
                "name": field.group(1),
                "type_130": _type(cells[2]),
                "max_130": _max(cells[3]),
                "type": _type(cells[4]),
                "max": _max(cells[5]),
                "required_hint": cells[6],
                "description_vi": cells[7].replace("<br>", "\n"),
                "amendment_4750_vi": cells[8].replace("<br>", "\n"),
                "new_in_4750": cells[8].startswith("Bổ sung trường mới"),
            }
        )
    return tables


def render() -> str:
    tables = parse(SOURCE.read_text(encoding="utf-8"))
    return json.dumps(tables, ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    rendered = render()
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != rendered:
            print(f"{TARGET} is out of date; run python tools/gen_fieldspecs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(rendered, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
