"""Clean, formula-consistent canonical records for tests (the synthetic province is separate)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from khoyte.standards.model import BirthDate, Record, Row, Standard, make_row

D = Decimal
CENT = D("0.01")


def r2(v: Decimal) -> Decimal:
    return v.quantize(CENT, rounding=ROUND_HALF_UP)


def drug_line(
    ma_lk: str,
    stt: int,
    qty: str,
    price: str,
    ratio: int = 100,
    muc: int = 80,
    when: datetime | None = None,
) -> Row:
    q, p = D(qty), D(price)
    bv = r2(q * p)
    bh = r2(q * p * ratio / 100)
    bhtt = r2(bh * muc / 100)
    when = when or datetime(2025, 8, 1, 8, 30)
    return make_row(
        "XML2",
        {
            "MA_LK": ma_lk,
            "STT": stt,
            "MA_THUOC": "05.123",
            "TEN_THUOC": "Paracetamol 500mg",
            "MA_NHOM": "4",
            "DON_VI_TINH": "Viên",
            "HAM_LUONG": "500mg",
            "DUONG_DUNG": "1.01",
            "LIEU_DUNG": "1 viên * 2 lần/ngày * 5 ngày",
            "SO_DANG_KY": "VD-12345-10",
            "TT_THAU": "57/QĐ-TTMS;G1;N1;2022",
            "PHAM_VI": "1",
            "TYLE_TT_BH": ratio,
            "SO_LUONG": q,
            "DON_GIA": p,
            "THANH_TIEN_BV": bv,
            "THANH_TIEN_BH": bh,
            "T_NGUONKHAC": D("0.00"),
            "MUC_HUONG": muc,
            "T_BNTT": bv - bh,
            "T_BNCCT": bh - bhtt,
            "T_BHTT": bhtt,
            "MA_KHOA": ["K01"],
            "MA_BAC_SI": ["000123/ĐT-CCHN"],
            "NGAY_YL": when,
            "NGAY_TH_YL": when + timedelta(minutes=10),
            "MA_PTTT": "1",
            "NGUON_CTRA": "1",
        },
    )


def service_line(
    ma_lk: str,
    stt: int,
    qty: str,
    price_bv: str,
    price_bh: str,
    *,
    supply: bool = False,
    muc: int = 80,
    when: datetime | None = None,
) -> Row:
    q, pbv, pbh = D(qty), D(price_bv), D(price_bh)
    bv, bh = r2(q * pbv), r2(q * pbh)
    bhtt = r2(bh * muc / 100)
    when = when or datetime(2025, 8, 1, 8, 5)
    values = {
        "MA_LK": ma_lk,
        "STT": stt,
        "MA_NHOM": "10" if supply else "13",
        "TEN_DICH_VU": "Khám Nội" if not supply else None,
        "DON_VI_TINH": "Lần",
        "PHAM_VI": "1",
        "SO_LUONG": q,
        "DON_GIA_BV": pbv,
        "DON_GIA_BH": pbh,
        "TYLE_TT_BH": 100,
        "THANH_TIEN_BV": bv,
        "THANH_TIEN_BH": bh,
        "MUC_HUONG": muc,
        "T_NGUONKHAC": D("0.00"),
        "T_BNTT": bv - bh,
        "T_BNCCT": bh - bhtt,
        "T_BHTT": bhtt,
        "MA_KHOA": ["K01"],
        "MA_BAC_SI": ["000123/ĐT-CCHN"],
        "NGAY_YL": when,
        "NGAY_TH_YL": when + timedelta(minutes=5),
        "MA_PTTT": "1",
    }
    if supply:
        values["MA_VAT_TU"] = "N03.01.010"
        values["TEN_VAT_TU"] = "Bơm tiêm 5ml"
    else:
        values["MA_DICH_VU"] = "02.1896"
    return make_row("XML3", {k: v for k, v in values.items() if v is not None})


def record(
    ma_lk: str = "LK0001",
    *,
    facility: str = "82001",
    inpatient: bool = False,
    standard: Standard = Standard.QD130,
    start: datetime | None = None,
    extra_tables: bool = True,
) -> Record:
    """A valid episode: outpatient exam (01) or a 3-day inpatient stay (03)."""
    start = start or datetime(2025, 8, 1, 8, 0)
    end = start + (timedelta(days=2, hours=2) if inpatient else timedelta(hours=1))
    drugs = [drug_line(ma_lk, 1, "10", "1250.5"), drug_line(ma_lk, 2, "2.5", "3333.333", muc=95)]
    services = [
        service_line(ma_lk, 1, "1", "38700", "38700"),
        service_line(ma_lk, 2, "3", "1500.25", "1200", supply=True),
    ]
    if inpatient:
        services.append(
            make_row(
                "XML3",
                {
                    **service_line(ma_lk, 3, "3", "200000", "180000").values,
                    "MA_NHOM": "15",
                    "MA_DICH_VU": "K01.1921",
                    "STT": 3,
                    "TEN_DICH_VU": "Ngày giường Nội khoa",
                    "MA_GIUONG": ["H001"],
                },
            )
        )
    lines = drugs + services
    tot = {
        n: sum((r.values[n] for r in lines), D(0))
        for n in ("THANH_TIEN_BV", "THANH_TIEN_BH", "T_BNTT", "T_BNCCT", "T_BHTT", "T_NGUONKHAC")
    }
    loai = "03" if inpatient else "01"
    ep = make_row(
        "XML1",
        {
            "MA_LK": ma_lk,
            "STT": 1,
            "MA_BN": "BN" + ma_lk,
            "HO_TEN": "Nguyễn Thị Ánh Tuyết",
            "SO_CCCD": "082190001234",
            "NGAY_SINH": BirthDate(1990, 5, 3),
            "GIOI_TINH": "2",
            "NHOM_MAU": "O",
            "MA_QUOCTICH": "000",
            "MA_DANTOC": "01",
            "MA_NGHE_NGHIEP": "00000",
            "DIA_CHI": "Ấp 3, Phường Mỹ Tho, Đồng Tháp",
            "MATINH_CU_TRU": "82",
            "MAXA_CU_TRU": "28261",
            "DIEN_THOAI": "0912345678",
            "MA_THE_BHYT": ["GD4828212345678"],
            "MA_DKBD": [facility],
            "GT_THE_TU": [date(2025, 1, 1)],
            "GT_THE_DEN": [date(2025, 12, 31)],
            "LY_DO_VV": "Sốt, ho",
            "CHAN_DOAN_VAO": "Viêm phổi",
            "CHAN_DOAN_RV": "Viêm phổi, tăng huyết áp",
            "MA_BENH_CHINH": "J18.9",
            "MA_BENH_KT": ["I10", "E11.9"],
            "MA_DOITUONG_KCB": "1.1",
            "NGAY_VAO": start,
            "NGAY_RA": end,
            "SO_NGAY_DTRI": 3 if inpatient else 0,
            "KET_QUA_DTRI": "1",
            "MA_LOAI_RV": "1",
            "NGAY_TTOAN": end + timedelta(minutes=30),
            "T_THUOC": sum((r.values["THANH_TIEN_BV"] for r in drugs), D(0)),
            "T_VTYT": sum(
                (r.values["THANH_TIEN_BV"] for r in services if r.text("MA_VAT_TU")), D(0)
            ),
            "T_TONGCHI_BV": tot["THANH_TIEN_BV"],
            "T_TONGCHI_BH": tot["THANH_TIEN_BH"],
            "T_BNTT": tot["T_BNTT"],
            "T_BNCCT": tot["T_BNCCT"],
            "T_BHTT": tot["THANH_TIEN_BH"] - tot["T_BNCCT"],
            "T_NGUONKHAC": tot["T_NGUONKHAC"],
            "T_BHTT_GDV": tot["T_BHTT"],
            "NAM_QT": end.year,
            "THANG_QT": end.month,
            "MA_LOAI_KCB": loai,
            "MA_KHOA": ["K01"],
            "MA_CSKCB": facility,
            "MA_KHUVUC": "K1",
            "CAN_NANG": "52.50",
        },
    )
    tables: dict[str, list[Row]] = {"XML1": [ep], "XML2": drugs, "XML3": services}
    if extra_tables and standard is Standard.QD130:
        tables["XML4"] = [
            make_row(
                "XML4",
                {
                    "MA_LK": ma_lk,
                    "STT": 1,
                    "MA_DICH_VU": "23.0166.1494",
                    "MA_CHI_SO": "GLU",
                    "TEN_CHI_SO": "Glucose",
                    "GIA_TRI": "5.6",
                    "DON_VI_DO": "mmol/L",
                    "NGAY_KQ": start + timedelta(hours=1),
                },
            )
        ]
        tables["XML5"] = [
            make_row(
                "XML5",
                {
                    "MA_LK": ma_lk,
                    "STT": 1,
                    "DIEN_BIEN_LS": "CSST<M75_T37_HA120/70_NT18>",
                    "THOI_DIEM_DBLS": start + timedelta(minutes=20),
                },
            )
        ]
    if inpatient and standard is Standard.QD130:
        ep.values["NGAY_VAO_NOI_TRU"] = start + timedelta(minutes=45)
        tables["XML7"] = [
            make_row(
                "XML7",
                {
                    "MA_LK": ma_lk,
                    "SO_LUU_TRU": "2025/123",
                    "MA_YTE": "BN" + ma_lk,
                    "MA_KHOA_RV": "K01",
                    "NGAY_VAO": start,
                    "NGAY_RA": end,
                    "MA_DINH_CHI_THAI": "0",
                    "CHAN_DOAN_RV": "Viêm phổi",
                    "PP_DIEUTRI": "Nội khoa",
                    "MA_TTDV": "0123456789",
                    "NGAY_CT": end.date(),
                },
            )
        ]
    return Record(ma_lk, standard, tables)


def as_4210(rec: Record) -> Record:
    """The same visit as QĐ 4210 can carry it (one price; no 130-only fields or tables)."""
    from khoyte.standards.qd4210 import QD4210_FIELDS, RENAMES

    out: dict[str, list[Row]] = {}
    for table, rows in rec.tables.items():
        if table not in QD4210_FIELDS:
            continue
        allowed = set()
        for name in QD4210_FIELDS[table]:
            allowed.update(RENAMES[table].get(name, (name,)))
        new_rows = []
        for row in rows:
            values = {k: v for k, v in row.values.items() if k in allowed}
            for pair in (
                ("THANH_TIEN_BV", "THANH_TIEN_BH"),
                ("DON_GIA_BV", "DON_GIA_BH"),
                ("T_TONGCHI_BV", "T_TONGCHI_BH"),
            ):
                if pair[0] in values:
                    values[pair[1]] = values[pair[0]]
            new_rows.append(make_row(table, values))
        out[table] = new_rows
    return Record(rec.ma_lk, Standard.QD4210, out)
