"""One record version → rows of the star schema. The counting rules live here and in
``docs/warehouse.md``:

- a visit is the current version of an accepted (or accepted-with-warnings) episode, dated by
  ``NGAY_VAO``; outpatient / inpatient by ``MA_LOAI_KCB`` (inpatient: 03, 04, 06, 09);
- emergency: ``MA_DOITUONG_KCB`` = ``2`` (QĐ 4210: ``MA_LYDO_VVIEN`` = ``2``);
- death: ``KET_QUA_DTRI`` ∈ {5, 8};
- days of treatment (``bed_days``) and inpatient bed-days (``ngay_giuong``) computed by khoyte
  from the dates under one rule (``standards.days``), the sent ``SO_NGAY_DTRI`` kept beside them
  (``so_ngay_dtri_sent``): exporters count days in their own ways, so the sent value does not
  compare across facilities;
- drug spending (``drug_cost``) Σ XML2 ``THANH_TIEN_BV`` where drug lines were sent, else
  ``T_THUOC`` (``drug_cost_basis`` says which);
- total cost Σ ``T_TONGCHI_BV``; BHYT Σ ``T_BHTT``; patient Σ (``T_BNTT`` + ``T_BNCCT``);
- a BHYT record has a ``MA_THE_BHYT``.

A value that could not be read (``NaN``, ``null``, an empty date) is missing (NULL), never 0.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from khoyte.handoff import RecordVersion
from khoyte.registry import icd10
from khoyte.registry.agebands import band_of
from khoyte.standards.days import bed_days, died_or_transferred, treatment_days
from khoyte.standards.model import Record, Row, Standard
from khoyte.validate.codelists import INPATIENT_TYPES
from khoyte.warehouse import papers

DEATH_CODES = frozenset({"5", "8"})

# Every field ``add_record`` and ``submission_rows`` read, per table: a version source decodes
# only these (``StoreVersionSource(engine, fields=FIELDS)``). tests/test_warehouse_fields.py
# fails when the transform reads a field not listed here.
FIELDS: dict[str, frozenset[str]] = {
    "XML1": frozenset({
        "NGAY_VAO", "NGAY_RA", "NGAY_SINH", "MA_LOAI_KCB", "GIOI_TINH", "MA_THE_BHYT",
        "MA_BENH_CHINH", "MA_BENH_KT", "T_TONGCHI_BV", "T_BHTT", "T_BNTT", "T_BNCCT",
        "MA_DOITUONG_KCB", "MA_LYDO_VVIEN", "KET_QUA_DTRI", "SO_NGAY_DTRI", "SO_CCCD", "MA_BN",
        "MAXA_CU_TRU", "MA_LOAI_RV", "NGAY_VAO_NOI_TRU", "T_THUOC",
    }),
    "XML2": frozenset({"MA_THUOC", "SO_LUONG", "THANH_TIEN_BV"}),
    "XML3": frozenset({"MA_DICH_VU", "MA_VAT_TU", "SO_LUONG", "THANH_TIEN_BV"}),
    "XML4": frozenset({"MA_DICH_VU", "MA_CHI_SO", "GIA_TRI", "DON_VI_DO"}),
    **papers.fields(),
}  # fmt: skip


def age_band(age: int | None) -> str | None:
    return None if age is None else band_of(age)


def cents(v: Decimal | None) -> int:
    return int((v * 100).to_integral_value()) if v is not None else 0


def cents_or_none(v: Decimal | None) -> int | None:
    """Money that may be missing: an unreadable amount is NULL, not 0."""
    return int((v * 100).to_integral_value()) if v is not None else None


def drug_cost(rec: Record, ep: Row) -> tuple[int | None, str | None]:
    """Drug spending and its basis: Σ XML2 ``THANH_TIEN_BV`` when drug lines were sent (NULL if
    one of them is unreadable), else XML1 ``T_THUOC`` (exporters differ on its basis:
    real-world profile §2.3, ``T_THUOC_FUND_BASIS``)."""
    if rec.drugs:
        amounts = [r.decimal("THANH_TIEN_BV") for r in rec.drugs]
        if any(a is None for a in amounts):
            return None, "lines"
        return sum(cents(a) for a in amounts), "lines"
    total = ep.decimal("T_THUOC")
    return (cents(total), "xml1") if total is not None else (None, None)


def person_key_of(key: bytes, health_id: str) -> str:
    """The warehouse's key of a person of the master person index: a keyed hash of the health
    ID (the ID itself is meaningless, but it opens the person's record in the operational
    store, so the warehouse keeps it pseudonymous too)."""
    return hmac.new(key, f"hid:{health_id}".encode(), hashlib.sha256).hexdigest()[:24]


def person_number(person_key: str | None) -> int | None:
    """The person key's first 64 bits as a signed integer (``fact_episode.person``): what the
    people measures count and join on (an integer hashes and compares several times faster than
    the 24-character text; two persons share one with a chance of about 10⁻⁷ in a province of
    2 million)."""
    return None if person_key is None else int(person_key[:16], 16) - (1 << 63)


def person_key(key: bytes, episode: Row, facility: str) -> str | None:
    """A keyed hash (HMAC-SHA-256) of the best identifier the record carries: CCCD, else the
    10-digit BHXH number inside the card, else the facility's patient number. Without the key,
    which never leaves the settings, the hash cannot be turned back into a person."""
    cccd = episode.text("SO_CCCD")
    cards = episode.items("MA_THE_BHYT")
    if cccd:
        ident = f"cccd:{cccd}"
    elif cards and len(cards[0]) >= 10:
        ident = f"bhxh:{cards[0][-10:]}"
    elif episode.text("MA_BN"):
        ident = f"bn:{facility}:{episode.text('MA_BN')}"
    else:
        return None
    return hmac.new(key, ident.encode(), hashlib.sha256).hexdigest()[:24]


def _code(v: str | None) -> str | None:
    """Visit-type and similar codes: ``1`` and ``01`` are the same code."""
    if v is None:
        return None
    v = v.strip()
    return v.zfill(2) if v.isascii() and v.isdigit() and len(v) < 2 else v


def _one_digit(v: object) -> str | None:
    """A one-digit code (``MA_LOAI_RV``): ``2``, ``02`` and 2 are the same code."""
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    if isinstance(v, str) and v.strip():
        t = v.strip()
        return t.lstrip("0") or "0" if t.isascii() and t.isdigit() else t
    return None


def naive_utc(v: datetime) -> datetime:
    """Timestamps are stored in UTC without a zone (both engines read them alike)."""
    return v.astimezone(UTC).replace(tzinfo=None) if v.tzinfo is not None else v


def _day(v: datetime | date | None) -> date | None:
    if isinstance(v, datetime):
        return v.date()
    return v


@dataclass
class Columns:
    """Rows of one table, kept as tuples and turned column-wise once per batch (one tuple per
    row instead of one ``append`` per value: the load's transform step ran mostly here)."""

    names: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def add(self, *values: Any) -> None:
        self.rows.append(values)

    def __len__(self) -> int:
        return len(self.rows)

    def arrays(self) -> dict[str, np.ndarray[Any, Any]]:
        columns = zip(*self.rows, strict=True) if self.rows else ((),) * len(self.names)
        out: dict[str, np.ndarray[Any, Any]] = {}
        for name, col in zip(self.names, columns, strict=True):
            arr = np.empty(len(col), dtype=object)
            arr[:] = col
            out[name] = arr
        return out


EPISODE_COLS = (
    "facility", "ma_lk", "version", "version_id", "received_at", "standard", "ngay_vao",
    "ngay_ra", "ma_loai_kcb", "inpatient", "gioi_tinh", "age", "age_band", "person_key",
    "ma_xa_cu_tru", "ma_benh_chinh", "icd10_chapter", "emergency", "death", "ket_qua_dtri",
    "bed_days", "t_tongchi_bv", "t_bhtt", "patient_paid", "bhyt", "so_ngay_dtri_sent",
    "ngay_giuong", "drug_cost", "drug_cost_basis", "ma_loai_rv", "person",
)  # fmt: skip
SUBMISSION_COLS = (
    "version_id", "facility", "ma_lk", "version", "submission_id", "received_at", "status",
    "ngay_vao",
)  # fmt: skip


class Batch:
    """Rows for one load batch."""

    def __init__(self) -> None:
        self.episode = Columns(EPISODE_COLS)
        self.diagnosis = Columns(("facility", "ma_lk", "code", "main", "chapter", "version_id"))
        self.drug = Columns(
            ("facility", "ma_lk", "ma_thuoc", "so_luong", "thanh_tien_bv", "version_id")
        )
        self.service = Columns(
            (
                "facility",
                "ma_lk",
                "ma_dich_vu",
                "ma_vat_tu",
                "so_luong",
                "thanh_tien_bv",
                "version_id",
            )
        )
        self.lab = Columns(
            ("facility", "ma_lk", "ma_dich_vu", "ma_chi_so", "gia_tri", "don_vi_do", "version_id")
        )
        self.papers = {n: Columns(papers.column_names(n)) for n in papers.PAPER_TABLES}
        # codes seen in this batch: dim_icd10 gets their catalogue names (never CHAN_DOAN_RV)
        self.icd_codes: set[str] = set()

    def tables(self) -> dict[str, Columns]:
        return {
            "fact_episode": self.episode,
            "fact_diagnosis": self.diagnosis,
            "fact_drug": self.drug,
            "fact_service": self.service,
            "fact_lab": self.lab,
            **self.papers,
        }


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, Decimal | int) else None


def add_record(batch: Batch, rv: RecordVersion, key: bytes, person: str | None = None) -> None:
    """The rows of one record version; ``person`` is the pseudonymous key of its health ID
    when the master person index has linked it (``person_key_of``), else the key falls back
    to the record's own identifiers (``person_key``)."""
    rec: Record = rv.record
    ep = rec.episode
    fac = rv.facility
    admitted = _day(ep.admitted)
    birth = ep.birth
    age = birth.age_on(admitted) if birth is not None and admitted is not None else None
    visit_type = _code(ep.visit_type)
    mains = ep.items("MA_BENH_CHINH")
    main = mains[0] if mains else None
    main_code = icd10.normalize(main) if main else None
    emergency = ep.text("MA_DOITUONG_KCB") == "2" or (
        rec.standard is Standard.QD4210 and _code(ep.text("MA_LYDO_VVIEN")) in ("2", "02")
    )
    result = ep.text("KET_QUA_DTRI") or (
        str(ep.integer("KET_QUA_DTRI")) if ep.integer("KET_QUA_DTRI") is not None else None
    )
    sent = ep.integer("SO_NGAY_DTRI")
    discharged = ep.discharged
    drugs, drug_basis = drug_cost(rec, ep)
    pkey = person or person_key(key, ep, fac)
    bnt, bncct = ep.decimal("T_BNTT"), ep.decimal("T_BNCCT")
    batch.episode.add(
        fac,
        rv.ma_lk,
        rv.version,
        rv.version_id,
        naive_utc(rv.received_at),
        rec.standard.value,
        admitted,
        _day(discharged),
        visit_type,
        visit_type in INPATIENT_TYPES,
        ep.sex,
        age,
        age_band(age),
        pkey,
        ep.text("MAXA_CU_TRU"),
        main_code,
        icd10.chapter(main_code) if main_code else None,
        emergency,
        result in DEATH_CODES,
        result,
        treatment_days(visit_type, ep.admitted, discharged, sent),
        cents_or_none(ep.total_cost),
        cents_or_none(ep.insurance_paid),
        cents(bnt) + cents(bncct) if bnt is not None and bncct is not None else None,
        bool(ep.cards),
        sent,
        bed_days(
            visit_type,
            ep.moment("NGAY_VAO_NOI_TRU"),
            ep.admitted,
            discharged,
            died_or_transferred(result, ep.get("MA_LOAI_RV")),
        ),
        drugs,
        drug_basis,
        _one_digit(ep.get("MA_LOAI_RV")),
        person_number(pkey),
    )
    if main_code:
        # The facility's free text (CHAN_DOAN_RV) is never loaded: it named codes for the whole
        # province and carried names, CCCD and phone numbers into the warehouse (F7).
        batch.icd_codes.add(main_code)
    for dx in ep.diagnoses:
        code = icd10.normalize(dx.code)
        if code:
            batch.diagnosis.add(fac, rv.ma_lk, code, dx.main, icd10.chapter(code), rv.version_id)
    for r in rec.drugs:
        batch.drug.add(
            fac, rv.ma_lk, r.text("MA_THUOC"), _num(r.get("SO_LUONG")),
            cents(r.decimal("THANH_TIEN_BV")), rv.version_id,
        )  # fmt: skip
    for r in rec.services:
        batch.service.add(
            fac, rv.ma_lk, r.text("MA_DICH_VU"), r.text("MA_VAT_TU"),
            _num(r.get("SO_LUONG")), cents(r.decimal("THANH_TIEN_BV")), rv.version_id,
        )  # fmt: skip
    for r in rec.labs:
        batch.lab.add(
            fac, rv.ma_lk, r.text("MA_DICH_VU"), r.text("MA_CHI_SO"),
            lab_value(r.get("GIA_TRI")), r.text("DON_VI_DO"), rv.version_id,
        )  # fmt: skip
    for name, xml in papers.PAPER_TABLES.items():
        rows = rec.tables.get(xml)
        if rows:
            batch.papers[name].rows.extend(papers.rows_of(name, rows, fac, rv.ma_lk, rv.version_id))


_NUMBER = re.compile(r"[<>≤≥]?=?\s*[-+]?\d{1,9}(?:[.,]\d{1,6})?")
_QUALITATIVE = frozenset(
    {"âm tính", "dương tính", "negative", "positive", "neg", "pos", "bình thường", "normal",
     "+", "++", "+++", "++++", "-", "vết", "trace"}
)  # fmt: skip


def lab_value(value: object) -> str | None:
    """A lab result as the warehouse keeps it: a number or a qualitative result from a short
    list. Anything else is free text (``GIA_TRI`` is a text field a sender may fill with
    anything, a name included) and is not loaded."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    if _NUMBER.fullmatch(text) or text.lower() in _QUALITATIVE:
        return text
    return None


def submission_rows(versions: Iterable[RecordVersion]) -> Columns:
    cols = Columns(SUBMISSION_COLS)
    for rv in versions:
        try:
            admitted = _day(rv.record.episode.admitted)
        except LookupError:
            admitted = None
        cols.add(
            rv.version_id,
            rv.facility,
            rv.ma_lk,
            rv.version,
            rv.submission_id,
            naive_utc(rv.received_at),
            rv.status,
            admitted,
        )
    return cols
