"""A person's health record (HSSK, QĐ 831 sections as far as QĐ 130 data allow): demographics,
a timeline of visits across facilities with diagnoses, drugs (XML2), services (XML3), lab
results (XML4), discharge papers (XML7), births (XML9), referrals (XML13, each saying whether the
destination saw the person within ``FOLLOWUP_DAYS``, the dashboard's rule) and appointments
(XML14).

The record reads the papers from the operational store, not from the warehouse's fact tables
(``fact_discharge``, ``fact_referral``): a person's record shows what the warehouse deliberately
does not hold (the diagnosis and treatment in words, the doctor, the referral's reasons).

Read from the operational store: the person's records in ``ps_record``, each record's current
accepted version in ``gw_record_version``. A merged health ID answers with its survivor's record.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.analytics.people import FOLLOWUP_DAYS
from khoyte.gateway.models import RecordHead, RecordVersionRow
from khoyte.persons.models import PersonRecord, PersonRow
from khoyte.standards.model import BirthDate, Record, Row
from khoyte.standards.serialize import record_from_json

# What each section keeps of its table (field names exactly as the standard spells them).
SECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "drugs": ("XML2", ("MA_THUOC", "TEN_THUOC", "HAM_LUONG", "DON_VI_TINH", "SO_LUONG",
                       "LIEU_DUNG", "DUONG_DUNG", "NGAY_YL")),
    "services": ("XML3", ("MA_DICH_VU", "TEN_DICH_VU", "MA_VAT_TU", "TEN_VAT_TU", "SO_LUONG",
                          "NGAY_YL", "NGAY_KQ")),
    "lab_results": ("XML4", ("MA_DICH_VU", "MA_CHI_SO", "TEN_CHI_SO", "GIA_TRI", "DON_VI_DO",
                             "KET_LUAN", "NGAY_KQ")),
    "discharges": ("XML7", ("SO_LUU_TRU", "MA_KHOA_RV", "NGAY_VAO", "NGAY_RA", "CHAN_DOAN_RV",
                            "PP_DIEUTRI", "GHI_CHU", "SO_NGAY_NGHI", "NGOAITRU_TUNGAY",
                            "NGOAITRU_DENNGAY", "TEN_BS", "NGAY_CT")),
    "births": ("XML9", ("HO_TEN_CON", "GIOI_TINH_CON", "SO_CON", "CAN_NANG_CON", "NGAY_SINH_CON",
                        "TINH_TRANG_CON")),
    "referrals": ("XML13", ("SO_CHUYENTUYEN", "MA_NOI_DI", "MA_NOI_DEN", "NGAY_RA",
                            "MA_BENH_CHINH", "CHAN_DOAN_RV", "MA_LYDO_CT", "HUONG_DIEU_TRI")),
    "appointments": ("XML14", ("SO_GIAYHEN_KL", "NGAY_HEN_KL", "MA_BENH_CHINH", "CHAN_DOAN_RV")),
}  # fmt: skip
VISIT_FIELDS = ("MA_LOAI_KCB", "NGAY_VAO", "NGAY_RA", "MA_BENH_CHINH", "MA_BENH_KT",
                "CHAN_DOAN_RV", "KET_QUA_DTRI", "MA_LOAI_RV", "SO_NGAY_DTRI")  # fmt: skip


def plain(v: Any) -> Any:
    if isinstance(v, BirthDate):
        return v.as_text()[:8]
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def _pick(row: Row, names: tuple[str, ...]) -> dict[str, Any]:
    return {n: plain(row.values[n]) for n in names if row.values.get(n) not in (None, "")}


def resolve(s: Session, health_id: str) -> str | None:
    """The live health ID for ``health_id`` (following merges), None if unknown."""
    seen = set()
    while health_id not in seen:
        seen.add(health_id)
        p = s.get(PersonRow, health_id)
        if p is None:
            return None
        if p.merged_into is None:
            return health_id
        health_id = p.merged_into
    return None


def facilities_of(s: Session, health_id: str) -> set[str]:
    return set(s.scalars(select(PersonRecord.facility).where(PersonRecord.health_id == health_id)))


def records_of(s: Session, health_id: str) -> list[tuple[str, Record]]:
    q = (
        select(PersonRecord.facility, RecordVersionRow.record)
        .join(RecordHead, (RecordHead.facility == PersonRecord.facility)
              & (RecordHead.ma_lk == PersonRecord.ma_lk))
        .join(RecordVersionRow, RecordVersionRow.id == RecordHead.current_version_id)
        .where(PersonRecord.health_id == health_id)
    )  # fmt: skip
    return [(f, record_from_json(text)) for f, text in s.execute(q)]


def _day(v: Any) -> date | None:
    try:
        return date.fromisoformat(str(v)[:10]) if v else None
    except ValueError:
        return None


def _followed_up(visits: list[dict[str, Any]]) -> None:
    """Mark each referral ``followed_up``: the destination recorded a visit of this person from
    the referral's day (its ``NGAY_RA``, else the visit's) to ``FOLLOWUP_DAYS`` after."""
    for v in visits:
        for ref in v.get("referrals", []):
            start = _day(ref.get("NGAY_RA") or v.get("NGAY_RA") or v.get("NGAY_VAO"))
            if start is None:
                ref["followed_up"] = None
                continue
            end = start + timedelta(days=FOLLOWUP_DAYS)
            ref["followed_up"] = any(
                o is not v and o.get("MA_CSKCB") == ref.get("MA_NOI_DEN")
                and (d := _day(o.get("NGAY_VAO"))) is not None and start <= d <= end
                for o in visits
            )  # fmt: skip


def health_record(s: Session, health_id: str) -> dict[str, Any] | None:
    live = resolve(s, health_id)
    if live is None:
        return None
    recs = records_of(s, live)
    visits = []
    for facility, rec in recs:
        ep = rec.tables.get("XML1", [Row("XML1")])[0]
        visit: dict[str, Any] = {"MA_CSKCB": facility, "MA_LK": rec.ma_lk,
                                 **_pick(ep, VISIT_FIELDS)}  # fmt: skip
        for section, (table, names) in SECTIONS.items():
            rows = [_pick(r, names) for r in rec.tables.get(table, [])]
            if rows:
                visit[section] = rows
        visits.append(visit)
    visits.sort(key=lambda v: str(v.get("NGAY_VAO") or ""))
    _followed_up(visits)
    latest = max(recs, key=lambda fr: str(fr[1].tables["XML1"][0].values.get("NGAY_VAO") or ""),
                 default=None) if recs else None  # fmt: skip
    demo: dict[str, Any] = {}
    if latest is not None:
        demo = _pick(latest[1].tables["XML1"][0], ("HO_TEN", "NGAY_SINH", "GIOI_TINH", "SO_CCCD",
                     "MA_THE_BHYT", "DIA_CHI", "MAXA_CU_TRU", "DIEN_THOAI"))  # fmt: skip
    codes = sorted({c for v in visits for c in [v.get("MA_BENH_CHINH")] if c})
    return {
        "health_id": live,
        "requested": health_id,
        "demographics": demo,
        "facilities": sorted({f for f, _ in recs}),
        "diagnoses": codes,
        "visits": visits,
        "sections": {sec: sum(len(v.get(sec, [])) for v in visits) for sec in SECTIONS},
    }
