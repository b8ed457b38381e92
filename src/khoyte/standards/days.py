"""Days of treatment and bed-days, computed from the dates a record carries.

Exporters count ``SO_NGAY_DTRI`` in their own ways (real-world profile §2.5: completed 24-hour
periods from ``NGAY_VAO_NOI_TRU`` in 98 % of one hospital's inpatient records, ``0`` for day
care, ``null`` on interim records), so a measure meant to compare facilities is computed by
khoyte from ``NGAY_VAO``, ``NGAY_VAO_NOI_TRU``, ``NGAY_RA`` and ``MA_LOAI_KCB`` under one rule:

* **days of treatment** — the definition of ``SO_NGAY_DTRI`` in QĐ 130 as amended by QĐ 4750
  (XML1 field 38): ``MA_LOAI_KCB`` 01, 07, 09 → 0; 02, 03, 04, 06 → date(``NGAY_RA``) −
  date(``NGAY_VAO``) + 1; 05 and 08 are defined by use (days of medication, days with technical
  services), which no date gives, so the sent value is taken when it is readable;
* **bed-days** — inpatient bed-days as Thông tư 39/2018/TT-BYT (consolidated text VBHN 17)
  counts them, from the admission to the ward (``NGAY_VAO_NOI_TRU``, else ``NGAY_VAO``) to
  ``NGAY_RA``: under 4 hours → 0; 4 to 24 hours → 1; otherwise the calendar days between the two
  dates, plus 1 when the patient died or was transferred (``KET_QUA_DTRI`` 5, ``MA_LOAI_RV`` 2
  or 3). Only ``MA_LOAI_KCB`` 03, 04 and 06 occupy a bed.

Either is ``None`` (missing, never 0) when a date it needs is missing or unreadable.
"""

from __future__ import annotations

from datetime import datetime, timedelta

DAYS_ZERO = frozenset({"01", "07", "09"})
DAYS_SPAN = frozenset({"02", "03", "04", "06"})
DAYS_BY_USE = frozenset({"05", "08"})  # defined by use, not by dates: the sent value counts
BED_TYPES = frozenset({"03", "04", "06"})
_FOUR_HOURS = timedelta(hours=4)
_DAY = timedelta(hours=24)


def treatment_days(
    visit_type: str | None,
    admitted: datetime | None,
    discharged: datetime | None,
    sent: int | None = None,
) -> int | None:
    """``SO_NGAY_DTRI`` as QĐ 4750 defines it, computed from the dates."""
    if visit_type in DAYS_ZERO:
        return 0
    if visit_type in DAYS_SPAN:
        if admitted is None or discharged is None or discharged < admitted:
            return None
        return (discharged.date() - admitted.date()).days + 1
    if visit_type in DAYS_BY_USE:
        return sent if sent is not None and sent >= 0 else None
    return None


def bed_days(
    visit_type: str | None,
    ward: datetime | None,
    admitted: datetime | None,
    discharged: datetime | None,
    died_or_transferred: bool = False,
) -> int | None:
    """Inpatient bed-days after TT 39/2018 from the ward admission; 0 for a visit without a
    bed."""
    if visit_type not in BED_TYPES:
        return 0 if visit_type else None
    start = ward or admitted
    if start is None or discharged is None or discharged < start:
        return None
    stay = discharged - start
    if stay < _FOUR_HOURS:
        return 0
    if stay < _DAY:
        return 1
    return (discharged.date() - start.date()).days + int(died_or_transferred)


def died_or_transferred(ket_qua: object, loai_rv: object) -> bool:
    return str(ket_qua) == "5" or str(loai_rv) in ("2", "3")
