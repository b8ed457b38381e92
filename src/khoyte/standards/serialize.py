"""Canonical records as JSON (for the operational store, the API and the warehouse hand-off).

Values are tagged only where JSON cannot tell the type: ``{"d": "2025-08-01"}`` a date,
``{"t": "2025-08-01T08:00"}`` a datetime, ``{"n": "10000.00"}`` a Decimal, ``{"b": "199005000000"}``
a birth date, ``{"dl": [...]}`` a list of dates. Strings, ints and string lists stay plain.
``record_from_json(record_to_json(r)) == r`` for every record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from khoyte.standards.convert import read_birth
from khoyte.standards.model import BirthDate, Record, Standard, Value, make_row

# puts a stored record's sealed values back in place (khoyte.store.crypto.Keyring.unseal)
Unseal = Callable[[dict[str, Any]], None]


def _birth(v: BirthDate) -> dict[str, str]:
    return {"b": v.as_text() if (v.hour, v.minute) != (None, None) else v.as_text()[:8]}


def _dates(v: list[Any]) -> Any:
    if v and isinstance(v[0], date):
        return {"dl": [d.isoformat() for d in v if isinstance(d, date)]}
    return v


# By exact type: most values are str, int or None and pass through after one dict lookup (the
# isinstance chain this replaces cost as much CPU as validating the record; intake serialises
# every record it stores).
_ENCODERS: dict[type, Any] = {
    Decimal: lambda v: {"n": format(v, "f")},
    datetime: lambda v: {"t": v.isoformat(timespec="minutes")},
    date: lambda v: {"d": v.isoformat()},
    BirthDate: _birth,
    list: _dates,
}


def _dec(v: Any) -> Value:
    if isinstance(v, dict):
        if "n" in v:
            return Decimal(v["n"])
        if "t" in v:
            return datetime.fromisoformat(v["t"])
        if "d" in v:
            return date.fromisoformat(v["d"])
        if "b" in v:
            return read_birth(v["b"])
        if "dl" in v:
            return [date.fromisoformat(x) for x in v["dl"]]
        raise ValueError(f"unknown tagged value {v!r}")
    return v  # type: ignore[no-any-return]


def record_to_dict(record: Record) -> dict[str, Any]:
    enc = _ENCODERS.get  # bound once: this runs for every value of every stored record
    return {
        "ma_lk": record.ma_lk,
        "standard": record.standard.value,
        "tables": {
            t: [
                {k: v if (f := enc(type(v))) is None else f(v) for k, v in row.values.items()}
                for row in rows
            ]
            for t, rows in record.tables.items()
        },
    }


def record_from_dict(data: dict[str, Any]) -> Record:
    return Record(
        data["ma_lk"],
        Standard(data["standard"]),
        {
            t: [make_row(t, {k: _dec(v) for k, v in row.items()}) for row in rows]
            for t, rows in data["tables"].items()
        },
    )


def record_to_json(record: Record) -> str:
    return json.dumps(record_to_dict(record), ensure_ascii=False, separators=(",", ":"))


# tag -> decoder of its payload (one dict lookup per tagged value)
_DECODERS: dict[str, Any] = {
    "n": Decimal,
    "t": datetime.fromisoformat,
    "d": date.fromisoformat,
    "b": read_birth,
    "dl": lambda xs: [date.fromisoformat(x) for x in xs],
}


class _Inexact(Exception):
    """orjson read an integer beyond 64 bits as a float (the store never writes floats)."""


def _row_values(row: dict[str, Any], exact: bool = True) -> dict[str, Value]:
    """The row's tagged values decoded, in place (only tagged values are dicts). Written out
    inline, without a call per value: a record carries ~50 tagged values, a first load
    millions of records."""
    for k, v in row.items():
        t = type(v)
        if t is dict:
            if len(v) == 1:
                for tag, payload in v.items():
                    f = _DECODERS.get(tag)
                    if f is not None:
                        row[k] = f(payload)  # same key: the dict does not change size
                        break
                else:
                    raise ValueError(f"unknown tagged value {v!r}")
            else:
                raise ValueError(f"unknown tagged value {v!r}")
        elif t is float and exact:
            raise _Inexact
    return row


def _opened(data: dict[str, Any], unseal: Unseal | None) -> dict[str, Any]:
    """``data`` with its sealed identifying values put back (a stored record's, see
    ``khoyte.store.crypto``); refused without the key's ``unseal``, rather than read as blanks."""
    if "sealed" in data:
        if unseal is None:
            raise ValueError("a sealed record: read it with the store's keyring (unseal=…)")
        unseal(data)
    return data


# what orjson gives that is stored as it is (everything else is a tagged value, or a float)
PLAIN: frozenset[type] = frozenset({str, int, list, bool, type(None)})


def decode_value(v: Any) -> Value:
    """One stored value that is not ``PLAIN`` decoded as ``_row_values`` decodes it, for a
    reader that picks a few values of a row (``gateway.versions.project``)."""
    if type(v) is dict and len(v) == 1:
        for tag, payload in v.items():
            f = _DECODERS.get(tag)
            if f is not None:
                return f(payload)  # type: ignore[no-any-return]
    if type(v) is float:
        raise _Inexact
    raise ValueError(f"unknown tagged value {v!r}")


def record_from_json(text: str | bytes, unseal: Unseal | None = None) -> Record:
    # orjson parses without calling back into Python (the stdlib parser's object_hook ran
    # for each of ~60 objects per record); the warehouse's first load reads millions of
    # records through here. The stdlib parser reads what orjson reads differently from it:
    # lone surrogates (orjson refuses them) and integers beyond 64 bits (orjson makes them
    # floats, which the store never writes: ``_row_values`` stops at the first float).
    try:
        data = _opened(orjson.loads(text), unseal)
        tables = {
            t: [make_row(t, _row_values(r)) for r in rows] for t, rows in data["tables"].items()
        }
    except (orjson.JSONDecodeError, _Inexact):
        data = _opened(json.loads(text), unseal)
        tables = {t: [make_row(t, _row_values(r, False)) for r in rows]
                  for t, rows in data["tables"].items()}  # fmt: skip
    return Record(data["ma_lk"], Standard(data["standard"]), tables)
