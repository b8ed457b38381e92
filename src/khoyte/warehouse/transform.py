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

import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import numpy as np

from khoyte.handoff import RecordVersion
from khoyte.registry import icd10
from khoyte.registry.agebands import band_of
from khoyte.standards.days import bed_days, died_or_transferred, treatment_days
from khoyte.standards.model import BirthDate, Record, Standard, Value
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


def person_key_of(key: bytes, health_id: str) -> str:
    """The warehouse's key of a person of the master person index: a keyed hash of the health
    ID (the ID itself is meaningless, but it opens the person's record in the operational
    store, so the warehouse keeps it pseudonymous too)."""
    return hmac.digest(key, f"hid:{health_id}".encode(), "sha256").hex()[:24]


def person_number(person_key: str | None) -> int | None:
    """The person key's first 64 bits as a signed integer (``fact_episode.person``): what the
    people measures count and join on (an integer hashes and compares several times faster than
    the 24-character text; two persons share one with a chance of about 10⁻⁷ in a province of
    2 million)."""
    return None if person_key is None else int(person_key[:16], 16) - (1 << 63)


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


# ICD-10 codes as sent -> normalised (a province sends a few thousand distinct codes)
_icd = lru_cache(maxsize=1 << 16)(icd10.normalize)


def add_record(batch: Batch, rv: RecordVersion, key: bytes, person: str | None = None) -> None:
    """The rows of one record version; ``person`` is the pseudonymous key of its health ID
    when the master person index has linked it (``person_key_of``), else the key falls back
    to the record's own identifiers (``person_key``).

    The values are read straight from each row's dict (``Row.text`` and its kin, a Python call
    per field, were half of a first load's CPU): the same reads, the same types accepted."""
    rec: Record = rv.record
    if "XML1" not in rec.tables and "XML12" in rec.tables:
        add_papers(batch, rec, rv.facility, rv.ma_lk, rv.version_id)  # a medical assessment
        return
    ep = rec.episode
    v = ep.values
    get = v.get
    fac, ma_lk, vid = rv.facility, rv.ma_lk, rv.version_id
    at, out, ward = get("NGAY_VAO"), get("NGAY_RA"), get("NGAY_VAO_NOI_TRU")
    at = at if isinstance(at, datetime) else None
    out = out if isinstance(out, datetime) else None
    ward = ward if isinstance(ward, datetime) else None
    admitted = at.date() if at is not None else None
    birth = get("NGAY_SINH")
    age = birth.age_on(admitted) if isinstance(birth, BirthDate) and admitted is not None else None
    visit_type = get("MA_LOAI_KCB")
    visit_type = _code(visit_type) if isinstance(visit_type, str) else None
    mains = _items(get("MA_BENH_CHINH"))
    main_code = _icd(mains[0]) if mains and mains[0] else None
    reason = get("MA_LYDO_VVIEN")
    emergency = get("MA_DOITUONG_KCB") == "2" or (
        rec.standard is Standard.QD4210 and isinstance(reason, str) and _code(reason) in ("2", "02")
    )
    result = get("KET_QUA_DTRI")
    result = (
        (result or None) if isinstance(result, str)
        else str(result) if isinstance(result, int) else None
    )  # fmt: skip
    sent = get("SO_NGAY_DTRI")
    sent = sent if isinstance(sent, int) else None
    discharged_or_moved = get("MA_LOAI_RV")
    cards = _items(get("MA_THE_BHYT"))
    pkey = person or person_key(key, v, cards, fac)
    total, fund = get("T_TONGCHI_BV"), get("T_BHTT")
    bnt, bncct = get("T_BNTT"), get("T_BNCCT")
    # drug lines: their rows and the drug spending (Σ THANH_TIEN_BV; NULL if one is unreadable)
    drug_rows = batch.drug.rows
    drugs = rec.drugs
    drugs_cost: int | None
    drug_basis: str | None
    if drugs:
        drug_sum: int | None = 0
        for r in drugs:
            g = r.values.get
            code, qty, amount = g("MA_THUOC"), g("SO_LUONG"), g("THANH_TIEN_BV")
            if isinstance(amount, Decimal):
                c = int((amount * 100).to_integral_value())
                if drug_sum is not None:
                    drug_sum += c
            else:
                c, drug_sum = 0, None
            drug_rows.append((
                fac, ma_lk, code if isinstance(code, str) else None,
                float(qty) if isinstance(qty, Decimal | int) else None, c, vid,
            ))  # fmt: skip
        drugs_cost, drug_basis = drug_sum, "lines"
    else:
        t_thuoc = get("T_THUOC")
        drugs_cost, drug_basis = (
            (cents(t_thuoc), "xml1") if isinstance(t_thuoc, Decimal) else (None, None)
        )
    batch.episode.rows.append((
        fac, ma_lk, rv.version, vid, naive_utc(rv.received_at), rec.standard.value,
        admitted, out.date() if out is not None else None, visit_type,
        visit_type in INPATIENT_TYPES, _text(get("GIOI_TINH")), age, age_band(age), pkey,
        _text(get("MAXA_CU_TRU")), main_code, icd10.chapter(main_code) if main_code else None,
        emergency, result in DEATH_CODES, result, treatment_days(visit_type, at, out, sent),
        cents(total) if isinstance(total, Decimal) else None,
        cents(fund) if isinstance(fund, Decimal) else None,
        cents(bnt) + cents(bncct)
        if isinstance(bnt, Decimal) and isinstance(bncct, Decimal) else None,
        bool(cards), sent,
        bed_days(visit_type, ward, at, out, died_or_transferred(result, discharged_or_moved)),
        drugs_cost, drug_basis, _one_digit(discharged_or_moved), person_number(pkey),
    ))  # fmt: skip
    if main_code:
        # The facility's free text (CHAN_DOAN_RV) is never loaded: it named codes for the whole
        # province and carried names, CCCD and phone numbers into the warehouse (F7).
        batch.icd_codes.add(main_code)
    dx_rows = batch.diagnosis.rows
    for i, dx in enumerate((*mains[:1], *_items(get("MA_BENH_KT")))):
        code = _icd(dx)
        if code:
            dx_rows.append((fac, ma_lk, code, i == 0 and bool(mains), icd10.chapter(code), vid))
    services = rec.services
    if services:
        rows = batch.service.rows
        for r in services:
            g = r.values.get
            code, supply, qty, amount = (
                g("MA_DICH_VU"),
                g("MA_VAT_TU"),
                g("SO_LUONG"),
                g("THANH_TIEN_BV"),
            )
            rows.append((
                fac, ma_lk, code if isinstance(code, str) else None,
                supply if isinstance(supply, str) else None,
                float(qty) if isinstance(qty, Decimal | int) else None,
                int((amount * 100).to_integral_value()) if isinstance(amount, Decimal) else 0,
                vid,
            ))  # fmt: skip
    labs = rec.labs
    if labs:
        rows = batch.lab.rows
        for r in labs:
            g = r.values.get
            code, index, value, unit = (
                g("MA_DICH_VU"),
                g("MA_CHI_SO"),
                g("GIA_TRI"),
                g("DON_VI_DO"),
            )
            rows.append((
                fac, ma_lk, code if isinstance(code, str) else None,
                index if isinstance(index, str) else None, lab_value(value),
                unit if isinstance(unit, str) else None, vid,
            ))  # fmt: skip
    add_papers(batch, rec, fac, ma_lk, vid)


def add_papers(batch: Batch, rec: Record, fac: str, ma_lk: str, vid: int) -> None:
    """The rows of the record's papers (a medical assessment, XML12 sent as its own document,
    is a record of its paper alone)."""
    for xml, rows_sent in rec.tables.items():  # a dozen at most: most records carry no paper
        paper = papers.BY_XML.get(xml)
        if paper is not None and rows_sent:
            batch.papers[paper[0]].rows.extend(papers.rows_of(paper[0], rows_sent, fac, ma_lk, vid))


def _text(v: Value) -> str | None:
    return v if isinstance(v, str) else None


def _items(v: Value) -> list[str]:
    """``Row.items`` on a value."""
    if isinstance(v, list):
        return [str(x) for x in v]
    return [v] if isinstance(v, str) else []


def person_key(key: bytes, values: dict[str, Value], cards: list[str], facility: str) -> str | None:
    """A keyed hash (HMAC-SHA-256) of the best identifier the episode (its values; ``cards``
    its ``MA_THE_BHYT``) carries: CCCD, else the 10-digit BHXH number inside the card, else the
    facility's patient number. Without the key, which never leaves the settings, the hash
    cannot be turned back into a person."""
    cccd, bn = values.get("SO_CCCD"), values.get("MA_BN")
    if isinstance(cccd, str) and cccd:
        ident = f"cccd:{cccd}"
    elif cards and len(cards[0]) >= 10:
        ident = f"bhxh:{cards[0][-10:]}"
    elif isinstance(bn, str) and bn:
        ident = f"bn:{facility}:{bn}"
    else:
        return None
    # the one-shot C digest: the same HMAC-SHA-256 without an HMAC object per record
    return hmac.digest(key, ident.encode(), "sha256").hex()[:24]


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


def activity_day(rec: Record) -> date | None:
    """The day a record reports on, which dates its versions in ``fact_submission``: a visit's
    admission day (``NGAY_VAO``), a medical assessment's (XML12 sent as its own document, no
    XML1) meeting day (``NGAY_HOP``, the date ``fact_assessment`` is counted by); else None."""
    try:
        return _day(rec.episode.admitted)
    except LookupError:
        pass
    rows = rec.rows("XML12")
    if "XML1" in rec.tables or not rows:
        return None
    met = rows[0].values.get("NGAY_HOP")
    return _day(met) if isinstance(met, date) else None


def submission_rows(versions: Iterable[RecordVersion]) -> Columns:
    cols = Columns(SUBMISSION_COLS)
    for rv in versions:
        admitted = activity_day(rv.record)
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
