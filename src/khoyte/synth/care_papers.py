"""The programme papers of a visit (QĐ 130 as amended by QĐ 4750): HIV/AIDS care (XML6) for a
visit whose main code is B20–B24, TB treatment (XML15) for one whose main code is A15–A19; and
the HIV care visits themselves (outpatient clinics of the regional centres and the general
provincial hospitals, ARV refills under BHYT).

Their values come from a generator of their own, seeded from (seed, MA_LK), so writing them
changes nothing else a seed makes. Rates are of the order of Vietnam's (people living with HIV
≈ 0.25 % of the population, most on ARV with multi-month dispensing; of TB patients ≈ 4 % with
HIV, ≈ 85 % new, ≈ 3 % drug-resistant)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from khoyte.standards.model import BirthDate, Row, Value, make_row

if TYPE_CHECKING:
    from khoyte.synth.province import Province

HIV_CODES = ("B24", "B24", "B24", "B20.9")  # the main codes an HIV care visit is sent with
# HIV care visits a day per person of the province (≈ 0.25 % living with HIV, ≈ 0.5 visits a
# month each: most stable patients take 3 months of ARV at a time), spread over the clinics
HIV_VISITS_PER_PERSON_DAY = 0.0025 * 0.5 / 30.4
HIV_NEW = 0.08  # share of HIV care visits of a person confirmed within the last 60 days
# NHOM_DOI_TUONG: drug users, sex workers, men who have sex with men, partners and families,
# partners of people with HIV, mobile people, others
_GROUPS = ("0", "1", "2", "4", "5", "7", "11")
_GROUP_SHARES = (20, 5, 15, 25, 10, 10, 15)


def _rng(seed: int, ma_lk: str, what: str) -> random.Random:
    return random.Random(f"{seed}:{what}:{ma_lk}")


def hiv_clinics(prov: Province) -> list[int]:
    """The facilities with an HIV outpatient clinic: regional centres and general provincial
    hospitals."""
    return [
        f.index
        for f in prov.facilities
        if f.kind == "centre" or (f.kind == "hospital" and f.profile == "general")
    ]


def _ymd(d: date) -> str:
    return f"{d:%Y%m%d}"


def hiv_row(
    seed: int,
    fac: str,
    ma_lk: str,
    born: date,
    male: bool,
    card: tuple[str, date, date, int] | None,
    start: datetime,
) -> Row:
    """One XML6 row: a person on ARV seen at the clinic, given 1 to 3 months of ARV."""
    r = _rng(seed, ma_lk, "hiv")
    day = start.date()
    new = r.random() < HIV_NEW
    confirmed = day - timedelta(days=r.randint(0, 60) if new else r.randint(200, 5000))
    arv_from = confirmed + timedelta(days=r.randint(0, 14))
    arv_from = min(arv_from, day)
    supply = r.choice((30, 30, 60, 90, 90, 90))
    tb = r.choices(("0", "1", "2"), (88, 9, 3))[0]
    values: dict[str, Value] = {
        "MA_LK": ma_lk,
        "MA_THE_BHYT": [card[0]] if card else None,
        "NGAY_SINH": BirthDate(born.year, born.month, born.day),
        "GIOI_TINH": "1" if male else "2",
        "MA_CSKCB": fac,
        "NGAYKD_HIV": confirmed,
        "NOI_LAY_MAU_XN": fac,
        "NOI_XN_KD": fac,
        "NOI_BDDT_ARV": fac,
        "BDDT_ARV": _ymd(arv_from),
        "MA_PHAC_DO_DIEU_TRI_BD": "1a",
        "MA_LYDO_DTRI": "1" if new else r.choices(("1", "3", "4"), (85, 10, 5))[0],
        "LOAI_DTRI_LAO": tb,
        "SANG_LOC_LAO": r.choices(("2", "3"), (90, 10))[0],
        "KQ_DTRI_LAO": "1" if tb != "0" else "7",
        "MA_LOAI_BN": "1",
        "GIAI_DOAN_LAM_SANG": r.choices(("1", "2", "3", "4"), (70, 15, 10, 5))[0],
        "NHOM_DOI_TUONG": r.choices(_GROUPS, _GROUP_SHARES)[0],
        "MA_TINH_TRANG_DK": "9",
        "MA_XU_TRI": "1",
        "NGAY_BAT_DAU_XU_TRI": day,
        "NGAY_KET_THUC_XU_TRI": day + timedelta(days=supply),
        "MA_PHAC_DO_DIEU_TRI": "1a",
        "SO_NGAY_CAP_THUOC_ARV": supply,
    }
    if tb != "0":
        values["PHACDO_DTRI_LAO"] = "1" if tb == "2" else "7"
        values["NGAYBD_DTRI_LAO"] = day - timedelta(days=r.randint(0, 90))
    if r.random() < 0.15:  # a viral-load test this visit
        values["MA_LYDO_XNTL_VR"] = "1"
        values["NGAY_XN_TLVR"] = day
        values["KQ_XNTL_VR"] = r.choices(("1", "2", "3", "5"), (70, 20, 5, 5))[0]
    return make_row("XML6", values)


def tb_row(seed: int, fac: str, ma_lk: str, name: str, code: str, age: int, start: datetime) -> Row:
    """One XML15 row: the treatment the person is under, its result when this visit ends it."""
    r = _rng(seed, ma_lk, "tb")
    day = start.date()
    resistant = r.random() < 0.03
    hiv = r.choices(("1", "2", "3"), (4, 80, 16))[0]
    bacterio = "1" if r.random() < 0.6 else "2"
    began = day - timedelta(days=r.randint(0, 200))
    values: dict[str, Value] = {
        "MA_LK": ma_lk,
        "STT": 1,
        "MA_BN": ma_lk[-10:],
        "HO_TEN": name,
        "PHANLOAI_LAO_VITRI": "1" if code[:3] in ("A15", "A16", "A19") else "2",
        "PHANLOAI_LAO_TS": r.choices(("1", "2", "3", "4", "5", "6"), (85, 8, 2, 2, 1, 2))[0],
        "PHANLOAI_LAO_HIV": hiv,
        "PHANLOAI_LAO_VK": bacterio,
        "PHANLOAI_LAO_KT": r.choice(("3", "4")) if resistant else None,
        "LOAI_DTRI_LAO": "3" if resistant else "2",
        "NGAYBD_DTRI_LAO": began,
        "PHACDO_DTRI_LAO": "9" if resistant else ("1" if age >= 15 else "2"),
        "MA_CSKCB": fac,
    }
    if (day - began).days >= 150 and r.random() < 0.5:  # the visit that ends the treatment
        values["NGAYKT_DTRI_LAO"] = day
        values["KET_QUA_DTRI_LAO"] = r.choices(("1", "2", "3", "5"), (55 if bacterio == "1" else 0, 35, 4, 6))[0]  # fmt: skip
    else:
        values["KET_QUA_DTRI_LAO"] = "6"  # not yet evaluated
    if hiv == "1":
        values["NGAYKD_HIV"] = began - timedelta(days=r.randint(10, 2000))
        values["BDDT_ARV"] = _ymd(began + timedelta(days=14))
        values["NGAY_BAT_DAU_DT_CTX"] = began
    return make_row("XML15", values)


def add_care_papers(
    tables: dict[str, list[Row]],
    seed: int,
    fac: str,
    ma_lk: str,
    name: str,
    born: date,
    male: bool,
    card: tuple[str, date, date, int] | None,
    code: str,
    start: datetime,
) -> None:
    """XML6 for a main code B20–B24, XML15 for A15–A19 (from QĐ 4750's official use)."""
    group = code[:3]
    if "B20" <= group <= "B24":
        tables["XML6"] = [hiv_row(seed, fac, ma_lk, born, male, card, start)]
    elif "A15" <= group <= "A19":
        day = start.date()
        age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
        tables["XML15"] = [tb_row(seed, fac, ma_lk, name, code, age, start)]
