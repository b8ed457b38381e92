"""The papers of a visit (QĐ 130/4750 only): discharge paper (XML7), record summary (XML8),
birth certificate (XML9), referral (XML13), re-visit appointment (XML14), and the programme papers
HIV care (XML6) and TB treatment (XML15) of ``care_papers``. XML6, XML13, XML14 and XML15 are
written from 2024-07-01, when QĐ 4750 applied officially."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from khoyte.standards.model import BirthDate, Row, make_row
from khoyte.synth.care_papers import add_care_papers
from khoyte.synth.clinical import Dx
from khoyte.synth.costs import money
from khoyte.synth.facilities import Facility
from khoyte.synth.names import full_name

if TYPE_CHECKING:
    from khoyte.synth.province import Province


def add_papers(
    tables: dict[str, list[Row]],
    prov: Province,
    fac: Facility,
    ma_lk: str,
    name: str,
    born: date,
    male: bool,
    address: str,
    card: tuple[str, date, date, int] | None,
    dx: Dx,
    vtype: str,
    start: datetime,
    end: datetime,
    ket_qua: str,
    loai_rv: str,
    referred_to: str | None,
    revisit: date | None,
    doituong: str,
    r: random.Random,
) -> None:
    signer = f"{r.randrange(1, 999999):06d}/ĐT-CCHN"[:10]
    birth = BirthDate(born.year, born.month, born.day)
    dead = ket_qua in ("5", "8")
    if vtype == "03" and not dead:
        tables["XML7"] = [
            make_row(
                "XML7",
                {
                    "MA_LK": ma_lk,
                    "SO_LUU_TRU": f"{end.year}/{r.randrange(1, 99999):05d}",
                    "MA_YTE": ma_lk[-10:],
                    "MA_KHOA_RV": "K02",
                    "NGAY_VAO": start,
                    "NGAY_RA": end,
                    "MA_DINH_CHI_THAI": "0",
                    "CHAN_DOAN_RV": dx.name,
                    "PP_DIEUTRI": "Điều trị nội khoa",
                    "MA_TTDV": signer,
                    "MA_BS": f"{fac.code}{r.randrange(1, 60):05d}",
                    "TEN_BS": _doctor_name(r),
                    "NGAY_CT": end.date(),
                },
            )
        ]
    if vtype in ("03", "04", "06") and (dead or r.random() < 0.5):
        tables["XML8"] = [
            make_row(
                "XML8",
                {
                    "MA_LK": ma_lk,
                    "MA_LOAI_KCB": vtype,
                    "DON_VI": fac.name,
                    "NGAY_VAO": start,
                    "NGAY_RA": end,
                    "CHAN_DOAN_VAO": dx.name,
                    "CHAN_DOAN_RV": dx.name,
                    "QT_BENHLY": f"Bệnh nhân vào viện vì {dx.name.lower()}",
                    "TOMTAT_KQ": "Kết quả cận lâm sàng trong giới hạn theo dõi",
                    "PP_DIEUTRI": "Điều trị nội khoa",
                    "KET_QUA_DTRI": ket_qua,
                    "MA_TTDV": signer,
                    "NGAY_CT": end.date(),
                },
            )
        ]
    if dx.code in ("O80", "O82") and not dead:
        boy = r.random() < 0.527  # sex ratio at birth in the Mekong delta ≈ 1.11
        born_at = start + timedelta(hours=r.randint(1, 10))
        born_at = min(born_at, end)
        tables["XML9"] = [
            make_row(
                "XML9",
                {
                    "MA_LK": ma_lk,
                    "HO_TEN_NND": name,
                    "NGAYSINH_NND": born,
                    "MA_DANTOC_NND": "01",
                    "NOI_CU_TRU_NND": address,
                    "MA_QUOCTICH": "000",
                    "MATINH_CU_TRU": prov.geo.province,
                    "MA_THE_NND": card[0] if card else None,
                    "HO_TEN_CON": f"Con của {name}",
                    "GIOI_TINH_CON": "1" if boy else "2",
                    "SO_CON": 1,
                    "LAN_SINH": r.choices((1, 2, 3), (45, 40, 15))[0],
                    "SO_CON_SONG": 1,
                    "CAN_NANG_CON": money(r.randint(2500, 3900) * 100),
                    "NGAY_SINH_CON": born_at,
                    "NOI_SINH_CON": fac.name,
                    "TINH_TRANG_CON": "Khỏe mạnh",
                    "SINHCON_PHAUTHUAT": "1" if dx.code == "O82" else "0",
                    "SINHCON_DUOI32TUAN": "0",
                    "NGUOI_DO_DE": _doctor_name(r),
                    "NGUOI_GHI_PHIEU": _doctor_name(r),
                    "NGAY_CT": end.date(),
                    "SO": f"{r.randrange(1, 9999):04d}",
                    "QUYEN_SO": f"{end.year}",
                    "MA_TTDV": signer,
                },
            )
        ]
    if start.date() < _PAPERS_FROM:
        return
    add_care_papers(tables, prov.seed, fac.code, ma_lk, name, born, male, card, dx.code, start)
    if referred_to:
        tables["XML13"] = [
            make_row(
                "XML13",
                {
                    "MA_LK": ma_lk,
                    "SO_HOSO": ma_lk[-10:],
                    "SO_CHUYENTUYEN": f"{r.randrange(1, 99999):05d}",
                    "GIAY_CHUYEN_TUYEN": f"{r.randrange(1, 99999):05d}/GCT",
                    "MA_CSKCB": fac.code,
                    "MA_NOI_DI": fac.code,
                    "MA_NOI_DEN": referred_to,
                    "HO_TEN": name,
                    "NGAY_SINH": birth,
                    "GIOI_TINH": "1" if male else "2",
                    "MA_QUOCTICH": "000",
                    "MA_DANTOC": "01",
                    "DIA_CHI": address,
                    "MA_THE_BHYT": [card[0]] if card else None,
                    "GT_THE_DEN": [card[2]] if card else None,
                    "NGAY_VAO": start,
                    "NGAY_RA": end,
                    "DAU_HIEU_LS": dx.name,
                    "CHAN_DOAN_RV": dx.name,
                    "QT_BENHLY": dx.name,
                    "TOMTAT_KQ": "Xem hồ sơ kèm theo",
                    "PP_DIEUTRI": "Điều trị ban đầu",
                    "MA_BENH_CHINH": dx.code,
                    "MA_LOAI_RV": loai_rv,
                    "MA_LYDO_CT": "2",
                    "HUONG_DIEU_TRI": "Chuyển tuyến trên điều trị tiếp",
                    "PHUONGTIEN_VC": "Xe cứu thương",
                    "HOTEN_NGUOI_HT": _doctor_name(r),
                    "CHUCDANH_NGUOI_HT": "Điều dưỡng",
                    "MA_BAC_SI": [f"{fac.code}{r.randrange(1, 60):05d}"],
                    "MA_TTDV": signer,
                },
            )
        ]
    if revisit:
        tables["XML14"] = [
            make_row(
                "XML14",
                {
                    "MA_LK": ma_lk,
                    "SO_GIAYHEN_KL": f"{r.randrange(1, 99999):05d}/GH",
                    "MA_CSKCB": fac.code,
                    "HO_TEN": name,
                    "NGAY_SINH": birth,
                    "GIOI_TINH": "1" if male else "2",
                    "DIA_CHI": address,
                    "MA_THE_BHYT": [card[0]] if card else None,
                    "GT_THE_DEN": [card[2]] if card else None,
                    "NGAY_VAO": start,
                    "NGAY_RA": end,
                    "NGAY_HEN_KL": datetime(revisit.year, revisit.month, revisit.day, 7, 30),
                    "CHAN_DOAN_RV": dx.name,
                    "MA_BENH_CHINH": dx.code,
                    "MA_DOITUONG_KCB": doituong,
                    "MA_BAC_SI": [f"{fac.code}{r.randrange(1, 60):05d}"],
                    "MA_TTDV": signer,
                    "NGAY_CT": end.date(),
                },
            )
        ]


_PAPERS_FROM = date(2024, 7, 1)


def _doctor_name(r: random.Random) -> str:
    male = r.random() < 0.5
    return full_name(r.randrange(24), r.randrange(14), r.randrange(40), male)
