"""A person's health record (HSSK, QĐ 831 sections as far as QĐ 130 data allow): demographics,
a timeline of visits across facilities with diagnoses, drugs (XML2), services (XML3), lab
results (XML4), births (XML9), referrals (XML13) and appointments (XML14).

Read from the operational store: the person's records in ``ps_record``, each record's current
accepted version in ``gw_record_version``. A merged health ID answers with its survivor's record.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from khoyte.gateway.models import RecordHead, RecordVersionRow
from khoyte.persons.models import PersonRecord, PersonRow
from khoyte.standards.model import BirthDate, Record, Row
from khoyte.standards.serialize import record_from_json
from khoyte.store.crypto import keyring

# What each section keeps of its table (field names exactly as the standard spells them).
SECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "drugs": ("XML2", ("MA_THUOC", "TEN_THUOC", "HAM_LUONG", "DON_VI_TINH", "SO_LUONG",
                       "LIEU_DUNG", "DUONG_DUNG", "NGAY_YL")),
    "services": ("XML3", ("MA_DICH_VU", "TEN_DICH_VU", "MA_VAT_TU", "TEN_VAT_TU", "SO_LUONG",
                          "NGAY_YL", "NGAY_KQ")),
    "lab_results": ("XML4", ("MA_DICH_VU", "MA_CHI_SO", "TEN_CHI_SO", "GIA_TRI", "DON_VI_DO",
                             "KET_LUAN", "NGAY_KQ")),
    "births": ("XML9", ("HO_TEN_CON", "GIOI_TINH_CON", "SO_CON", "CAN_NANG_CON", "NGAY_SINH_CON",
                        "TINH_TRANG_CON")),
    "referrals": ("XML13", ("SO_CHUYENTUYEN", "MA_NOI_DI", "MA_NOI_DEN", "MA_BENH_CHINH",
                            "CHAN_DOAN_RV", "MA_LYDO_CT", "HUONG_DIEU_TRI")),
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
    unseal = keyring(s).unseal
    return [(f, record_from_json(text, unseal)) for f, text in s.execute(q)]


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
