"""The canonical model: one shape for a visit whatever generation of the standard carried it.

A ``Record`` is one treatment episode (one ``HOSO``, one ``MA_LK``). Its tables hold ``Row``s whose
``values`` are keyed by the QĐ 130/4750 field names and already typed (see ``fields.Kind``):
codes stay strings with their leading zeros, money is ``Decimal``, timestamps are ``datetime``.
Typed accessors on ``Episode``, ``DrugLine``… name what the rest of khoyte uses; every other field
stays reachable through ``values`` because the field specifications, not this file, are the
schema (700 fields are data, not attributes).

QĐ 4210 inputs are mapped onto the same names (``qd4210.py``), so the same visit sent in either
generation gives equal records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TypeAlias


class Standard(StrEnum):
    QD130 = "QD130"  # QĐ 130/QĐ-BYT as amended by QĐ 4750 (and 3176)
    QD4210 = "QD4210"  # QĐ 4210/QĐ-BYT (before 09/2023)


@dataclass(frozen=True, slots=True, order=True)
class BirthDate:
    """``NGAY_SINH``: ``yyyymmddHHMM`` where an unknown day/month is ``00`` and an unknown
    hour/minute ``0000`` (standard §5). ``None`` parts are unknown."""

    year: int
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None

    def as_text(self) -> str:
        time = f"{self.hour or 0:02d}{self.minute or 0:02d}"
        return f"{self.year:04d}{self.month or 0:02d}{self.day or 0:02d}{time}"

    def approx_date(self) -> date:
        """A date for age computation: the middle of what is unknown."""
        return date(self.year, self.month or 7, self.day or (15 if self.month else 1))

    def age_on(self, when: date) -> int:
        born = self.approx_date()
        return when.year - born.year - ((when.month, when.day) < (born.month, born.day))


Value: TypeAlias = str | int | Decimal | date | datetime | BirthDate | list[str] | list[date] | None


@dataclass(slots=True)
class Row:
    """One record of one table (one drug line, one lab index, the XML1 summary …)."""

    table: str
    values: dict[str, Value] = field(default_factory=dict)

    def get(self, name: str) -> Value:
        return self.values.get(name)

    def text(self, name: str) -> str | None:
        v = self.values.get(name)
        return v if isinstance(v, str) else None

    def decimal(self, name: str) -> Decimal | None:
        v = self.values.get(name)
        return v if isinstance(v, Decimal) else None

    def integer(self, name: str) -> int | None:
        v = self.values.get(name)
        return v if isinstance(v, int) else None

    def moment(self, name: str) -> datetime | None:
        v = self.values.get(name)
        return v if isinstance(v, datetime) else None

    def day(self, name: str) -> date | None:
        v = self.values.get(name)
        if isinstance(v, datetime):
            return v.date()
        return v if isinstance(v, date) else None

    def items(self, name: str) -> list[str]:
        v = self.values.get(name)
        if isinstance(v, list):
            return [str(x) for x in v]
        return [v] if isinstance(v, str) else []

    @property
    def ma_lk(self) -> str | None:
        return self.text("MA_LK")

    @property
    def stt(self) -> int | None:
        return self.integer("STT")


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str  # ICD-10 as written (dagger/asterisk kept), e.g. "J18.9", "A17.0†"
    main: bool


class Episode(Row):
    """XML1 — the episode summary (``TONG_HOP``)."""

    __slots__ = ()

    @property
    def birth(self) -> BirthDate | None:
        v = self.values.get("NGAY_SINH")
        return v if isinstance(v, BirthDate) else None

    @property
    def admitted(self) -> datetime | None:
        return self.moment("NGAY_VAO")

    @property
    def discharged(self) -> datetime | None:
        return self.moment("NGAY_RA")

    @property
    def visit_type(self) -> str | None:
        return self.text("MA_LOAI_KCB")

    @property
    def sex(self) -> str | None:
        return self.text("GIOI_TINH")

    @property
    def facility(self) -> str | None:
        return self.text("MA_CSKCB")

    @property
    def cards(self) -> list[str]:
        return self.items("MA_THE_BHYT")

    @property
    def diagnoses(self) -> list[Diagnosis]:
        out = [Diagnosis(c, True) for c in self.items("MA_BENH_CHINH")[:1]]
        out += [Diagnosis(c, False) for c in self.items("MA_BENH_KT")]
        return out

    @property
    def total_cost(self) -> Decimal | None:
        return self.decimal("T_TONGCHI_BV")

    @property
    def insurance_paid(self) -> Decimal | None:
        return self.decimal("T_BHTT")

    @property
    def patient_paid(self) -> Decimal:
        return (self.decimal("T_BNTT") or Decimal(0)) + (self.decimal("T_BNCCT") or Decimal(0))


class DrugLine(Row):
    """XML2 — one drug, blood product or oxygen line."""

    __slots__ = ()


class ServiceLine(Row):
    """XML3 — one technical service, examination, bed-day or medical supply line."""

    __slots__ = ()

    @property
    def is_supply(self) -> bool:
        return bool(self.text("MA_VAT_TU"))


class LabResult(Row):
    """XML4 — one paraclinical result index."""

    __slots__ = ()


class ClinicalNote(Row):
    """XML5 — one clinical progress note."""

    __slots__ = ()


class Paper(Row):
    """XML0 and XML6–XML15 — check-in, HIV care, discharge, summary, birth, leave, assessment,
    referral, appointment and TB papers."""

    __slots__ = ()


ROW_CLASSES: dict[str, type[Row]] = {
    "XML1": Episode,
    "XML2": DrugLine,
    "XML3": ServiceLine,
    "XML4": LabResult,
    "XML5": ClinicalNote,
}


def row_class_of(table: str) -> type[Row]:
    return ROW_CLASSES.get(table, Paper)


def make_row(table: str, values: dict[str, Value]) -> Row:
    return ROW_CLASSES.get(table, Paper)(table, values)


@dataclass(slots=True)
class Record:
    """One episode as sent in one ``HOSO``: every table, every row."""

    ma_lk: str
    standard: Standard
    tables: dict[str, list[Row]] = field(default_factory=dict)

    @property
    def episode(self) -> Episode:
        rows = self.tables.get("XML1") or []
        if not rows or not isinstance(rows[0], Episode):
            raise LookupError(f"record {self.ma_lk} has no XML1")
        return rows[0]

    def rows(self, table: str) -> list[Row]:
        return self.tables.get(table, [])

    @property
    def drugs(self) -> list[Row]:
        return self.rows("XML2")

    @property
    def services(self) -> list[Row]:
        return self.rows("XML3")

    @property
    def labs(self) -> list[Row]:
        return self.rows("XML4")

    @property
    def notes(self) -> list[Row]:
        return self.rows("XML5")

    def papers(self) -> dict[str, list[Row]]:
        return {
            t: r
            for t, r in self.tables.items()
            if t not in ("XML1", "XML2", "XML3", "XML4", "XML5")
        }
