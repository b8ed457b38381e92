"""The tables of one visit: drug lines (XML2), services and supplies (XML3), lab results (XML4),
clinical notes (XML5), the summary (XML1) and the papers (XML7, XML8, XML9, XML13, XML14)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from khoyte.standards.model import BirthDate, Record, Row, Standard, Value, make_row
from khoyte.synth import clinical
from khoyte.synth.clinical import Dx, Service
from khoyte.synth.costs import money, qty, split
from khoyte.synth.facilities import Facility
from khoyte.synth.papers import add_papers
from khoyte.synth.people import mix

if TYPE_CHECKING:
    from khoyte.synth.province import Province

_DEPT = {"in": "K02", "obs": "K18", "out": "K01"}  # Khoa khám bệnh / Nội / Phụ sản (QĐ 5937 PL5)


@dataclass(slots=True)
class Lines:
    drugs: list[dict[str, Value]] = field(default_factory=list)
    services: list[dict[str, Value]] = field(default_factory=list)
    labs: list[dict[str, Value]] = field(default_factory=list)
    bv: int = 0
    bh: int = 0
    bhtt: int = 0
    bncct: int = 0
    bntt: int = 0
    drugs_bv: int = 0
    supplies_bv: int = 0

    def _money(
        self, row: dict[str, Value], tenths: int, price_bv: int, price_bh: int, ratio: int, muc: int
    ) -> int:
        s = split(tenths, price_bv, price_bh, ratio if muc else 0, muc)
        row["TYLE_TT_BH"] = ratio if muc else 0
        row["MUC_HUONG"] = muc
        row["THANH_TIEN_BV"] = money(s.bv)
        row["THANH_TIEN_BH"] = money(s.bh)
        row["T_NGUONKHAC"] = money(0)
        row["T_BNTT"] = money(s.bntt)
        row["T_BNCCT"] = money(s.bncct)
        row["T_BHTT"] = money(s.bhtt)
        self.bv += s.bv
        self.bh += s.bh
        self.bhtt += s.bhtt
        self.bncct += s.bncct
        self.bntt += s.bntt
        return s.bv

    @classmethod
    def build(
        cls,
        prov: Province,
        fac: Facility,
        dx: Dx,
        vtype: str,
        start: datetime,
        end: datetime,
        days: int,
        muc: int,
        age: int,
        r: random.Random,
    ) -> Lines:
        out = cls()
        private = fac.kind in ("clinic", "private_hospital")
        inpatient = vtype in ("03", "04", "06")
        dept = _DEPT["obs" if dx.code.startswith("O") else ("in" if inpatient else "out")]
        doctor = f"{fac.code}{r.randrange(1, 60):05d}"
        order_at = start + timedelta(minutes=r.randint(5, 15))
        if order_at > end:
            order_at = start

        def service(
            svc: Service, tenths: int = 10, bed: bool = False, at: datetime = order_at
        ) -> None:
            price_bh = (
                (clinical.BED_PRICE if bed else clinical.EXAM_PRICE)[fac.tier]
                if svc.group in ("13", "15")
                else svc.price
            )
            price_bv = price_bh
            if private and svc.group == "13":
                price_bv = clinical.EXAM_PRICE_PRIVATE
            elif private and bed:
                price_bv = clinical.BED_PRICE_PRIVATE
            done = min(at + timedelta(minutes=r.randint(5, 60)), end)
            row: dict[str, Value] = {
                "MA_DICH_VU": svc.code,
                "MA_NHOM": svc.group,
                "TEN_DICH_VU": svc.name,
                "DON_VI_TINH": "Ngày" if bed else svc.unit,
                "PHAM_VI": "1",
                "SO_LUONG": qty(tenths),
                "DON_GIA_BV": money(price_bv * 100),
                "DON_GIA_BH": money(price_bh * 100),
                "MA_KHOA": [dept],
                "MA_BAC_SI": [doctor],
                "MA_BENH": [dx.code],
                "NGAY_YL": at,
                "NGAY_TH_YL": done,
                "MA_PTTT": "1",
            }
            if bed:
                row["MA_GIUONG"] = [f"G{r.randrange(1, 300):03d}"]
            if svc.group == "1":
                row["NGAY_KQ"] = min(done + timedelta(minutes=r.randint(30, 120)), end)
                row["MA_MAY"] = f"XN.1.{fac.code}.{r.randrange(1, 9)}"
            out._money(row, tenths, price_bv, price_bh, 100, muc)
            out.services.append(row)
            for code, label, unit in svc.results:
                out.labs.append(
                    {
                        "MA_DICH_VU": svc.code[:15],
                        "MA_CHI_SO": code,
                        "TEN_CHI_SO": label,
                        "GIA_TRI": _lab_value(code, dx, r),
                        "DON_VI_DO": unit or None,
                        "NGAY_KQ": row["NGAY_KQ"],
                        "MA_BS_DOC_KQ": doctor,
                    }
                )

        def supply(code: str, name: str, unit: str, price: int, tenths: int) -> None:
            at = order_at
            row: dict[str, Value] = {
                "MA_VAT_TU": code,
                "MA_NHOM": "10",
                "TEN_VAT_TU": name,
                "DON_VI_TINH": unit,
                "PHAM_VI": "1",
                "SO_LUONG": qty(tenths),
                "DON_GIA_BV": money(price * 100),
                "DON_GIA_BH": money(price * 100),
                "TT_THAU": "QĐ 125/QĐ-SYT;G1;N1;2024",
                "MA_KHOA": [dept],
                "MA_BAC_SI": [doctor],
                "MA_BENH": [dx.code],
                "NGAY_YL": at,
                "NGAY_TH_YL": at,
                "MA_PTTT": "1",
            }
            out.supplies_bv += out._money(row, tenths, price, price, 100, muc)
            out.services.append(row)

        if vtype != "07":  # "nhận thuốc theo hẹn": no examination
            service(clinical.Service("02.1896", "Khám bệnh", "13", 0), 10)
        if days and vtype in ("03", "06", "04"):
            service(
                clinical.Service("K02.1906", "Giường Nội khoa loại 1", "15", 0), 10 * days, bed=True
            )
        if vtype != "07" and fac.kind != "station":
            for key in dx.tests:
                if key == "ct" and fac.tier not in ("tinh", "tu_nhan"):
                    continue
                if r.random() < (0.9 if inpatient else 0.5):
                    service(clinical.TESTS[key])
        elif vtype != "07" and "cbc" in dx.tests and r.random() < 0.2:
            service(clinical.TESTS["cbc"])
        if (
            dx.procedure
            and (inpatient or dx.procedure in ("suture", "cast"))
            and fac.kind != "station"
        ):
            service(clinical.PROCEDURES[dx.procedure])
            for item in clinical.SUPPLIES.get(dx.procedure, ()):
                supply(*item, tenths=10)
        if inpatient or dx.procedure:
            for item in clinical.SUPPLIES["iv" if inpatient else "default"]:
                supply(*item, tenths=10 * (1 + days // 3))
        # Drugs: a course for outpatients (30 days for chronic refills), daily doses inpatient.
        course = (
            30
            if vtype in ("05", "07", "08")
            else (max(days, 1) if inpatient else r.choice((3, 5, 5, 7)))
        )
        for drug_class in dx.drugs:
            options = clinical.DRUGS[drug_class]
            drug = options[r.randrange(len(options))]
            units = max(1, drug.per_day * course) if drug.per_day else 1
            if drug_class == "iv" and not inpatient:
                continue
            tenths = 10 * units
            row: dict[str, Value] = {
                "MA_THUOC": drug.code,
                "MA_NHOM": "4",
                "TEN_THUOC": drug.name,
                "DON_VI_TINH": drug.unit,
                "HAM_LUONG": drug.strength,
                "DUONG_DUNG": drug.route,
                "LIEU_DUNG": f"{max(drug.per_day, 1)} {drug.unit.lower()}/ngày x {course} ngày",
                "SO_DANG_KY": drug.reg,
                "TT_THAU": "QĐ 125/QĐ-SYT;G1;N1;2024",
                "PHAM_VI": "1",
                "SO_LUONG": qty(tenths),
                "DON_GIA": money(drug.price * 100),
                "MA_KHOA": [dept],
                "MA_BAC_SI": [doctor],
                "MA_BENH": [dx.code],
                "NGAY_YL": order_at,
                "NGAY_TH_YL": order_at,
                "MA_PTTT": "1",
            }
            out.drugs_bv += out._money(row, tenths, drug.price, drug.price, drug.ratio, muc)
            out.drugs.append(row)
        return out


def _lab_value(code: str, dx: Dx, r: random.Random) -> str:
    dengue = dx.code.startswith("A97")
    if code == "PLT":
        return str(r.randint(40, 120) if dengue else r.randint(160, 420))
    if code == "WBC":
        return f"{r.uniform(3.0, 5.0) if dengue else r.uniform(4.5, 14.0):.1f}"
    if code == "HGB":
        return str(r.randint(95, 160))
    if code == "GLU":
        return f"{r.uniform(7.0, 14.0) if dx.code == 'E11.9' else r.uniform(4.2, 6.4):.1f}"
    if code == "HBA1C":
        return f"{r.uniform(6.5, 10.5):.1f}"
    if code == "CHOL":
        return f"{r.uniform(4.0, 7.5):.2f}"
    if code == "CREA":
        return str(r.randint(60, 300) if dx.code == "N18.9" else r.randint(55, 110))
    if code == "NS1":
        return "Dương tính" if dengue else "Âm tính"
    if code == "CRP":
        return f"{r.uniform(10, 150) if dx.severity else r.uniform(0.5, 8):.1f}"
    return "Âm tính"


def _rows(table: str, ma_lk: str, items: list[dict[str, Value]]) -> list[Row]:
    return [make_row(table, {"MA_LK": ma_lk, "STT": i, **v}) for i, v in enumerate(items, start=1)]


def build_record(
    *,
    prov: Province,
    fac: Facility,
    std: Standard,
    ma_lk: str,
    pid: int,
    name: str,
    cccd: str | None,
    card: tuple[str, date, date, int] | None,
    dx: Dx,
    vtype: str,
    start: datetime,
    end: datetime,
    days: int,
    ket_qua: str,
    loai_rv: str,
    emergency: bool,
    referred_to: str | None,
    appointment: bool,
    lines: Lines,
    age: int,
    r: random.Random,
) -> Record:
    pop = prov.pop
    born = pop.birth_date(pid)
    commune = prov.geo.communes[int(pop.commune[pid])]
    male = bool(pop.male[pid])
    inpatient = vtype in ("03", "04", "06")
    registered = (
        prov.regional_of[int(pop.commune[pid])]
        if pop.reg_regional[pid] and prov.regional_of
        else prov.station_of[int(pop.commune[pid])]
    )
    reg_code = prov.facilities[registered].code
    extra = []
    if age >= 50 and dx.code not in ("I10", "E11.9") and r.random() < 0.25:
        extra.append(r.choice(("I10", "E11.9", "E78.5")))
    revisit = (end.date() + timedelta(days=30 if dx.chronic else 7)) if appointment else None
    if emergency:
        doituong = "2"
    elif card and reg_code == fac.code:
        doituong = "1.1"
    else:
        doituong = "1.2" if card else "1.1"
    cents = lines
    ep: dict[str, Value] = {
        "MA_LK": ma_lk,
        "STT": 1,
        # Each facility numbers its own patients: MA_BN must not give the person away.
        "MA_BN": f"{fac.code}{mix(prov.seed, 31, fac.index, pid) % 100_000_000:08d}",
        "HO_TEN": name,
        "SO_CCCD": cccd,
        "NGAY_SINH": BirthDate(born.year, born.month, born.day),
        "GIOI_TINH": "1" if male else "2",
        "MA_QUOCTICH": "000",
        "MA_DANTOC": "01",
        "DIA_CHI": pop.address(pid),
        "MATINH_CU_TRU": prov.geo.province,
        "MAXA_CU_TRU": commune.code,
        "DIEN_THOAI": pop.phone(pid),
        "MA_THE_BHYT": [card[0]] if card else None,
        "MA_DKBD": [reg_code] if card else None,
        "GT_THE_TU": [card[1]] if card else None,
        "GT_THE_DEN": [card[2]] if card else None,
        "LY_DO_VV": "Cấp cứu" if emergency else "Khám bệnh",
        "CHAN_DOAN_VAO": dx.name,
        "CHAN_DOAN_RV": dx.name,
        "MA_BENH_CHINH": dx.code,
        "MA_BENH_KT": extra or None,
        "MA_DOITUONG_KCB": doituong,
        "MA_NOI_DEN": referred_to,
        "NGAY_VAO": start,
        "NGAY_VAO_NOI_TRU": min(start + timedelta(minutes=45), end) if vtype == "03" else None,
        "NGAY_RA": end,
        "GIAY_CHUYEN_TUYEN": f"{r.randrange(1, 99999):05d}/GCT" if referred_to else None,
        "SO_NGAY_DTRI": days,
        "PP_DIEU_TRI": "Điều trị nội khoa" if not dx.procedure else "Điều trị ngoại khoa",
        "KET_QUA_DTRI": ket_qua,
        "MA_LOAI_RV": loai_rv,
        "NGAY_TTOAN": end,
        "T_THUOC": money(cents.drugs_bv),
        "T_VTYT": money(cents.supplies_bv),
        "T_TONGCHI_BV": money(cents.bv),
        "T_TONGCHI_BH": money(cents.bh),
        "T_BNTT": money(cents.bntt),
        "T_BNCCT": money(cents.bncct),
        "T_BHTT": money(cents.bhtt),
        "T_NGUONKHAC": money(0),
        "NAM_QT": end.year,
        "THANG_QT": end.month,
        "MA_LOAI_KCB": vtype,
        "MA_KHOA": [_DEPT["in" if inpatient else "out"]],
        "MA_CSKCB": fac.code,
        "CAN_NANG": f"{min(70, 3 + 2.5 * age):.2f}" if age < 15 else None,
        "NGAY_TAI_KHAM": [revisit] if revisit else None,
        "MA_HSBA": f"{end.year}{r.randrange(1, 999999):06d}" if inpatient else None,
        "MA_TTDV": f"{fac.code}{r.randrange(0, 99999):05d}",
    }
    if std is Standard.QD4210:
        ep["MA_LYDO_VVIEN"] = "2" if emergency else "1"
    tables: dict[str, list[Row]] = {"XML1": [make_row("XML1", ep)]}
    if lines.drugs:
        tables["XML2"] = _rows("XML2", ma_lk, lines.drugs)
    if lines.services:
        tables["XML3"] = _rows("XML3", ma_lk, lines.services)
    if lines.labs:
        tables["XML4"] = _rows("XML4", ma_lk, lines.labs)
    if vtype == "03":
        notes: list[dict[str, Value]] = []
        for d in range(min(days, 5)):
            at = min(start + timedelta(days=d, hours=2), end)
            notes.append(
                {
                    "DIEN_BIEN_LS": "Tỉnh, tiếp xúc tốt, sinh hiệu ổn"
                    if d
                    else f"Vào viện: {dx.name}",
                    "THOI_DIEM_DBLS": at,
                    "NGUOI_THUC_HIEN": [f"{fac.code}{r.randrange(1, 60):05d}"],
                }
            )
        tables["XML5"] = _rows("XML5", ma_lk, notes)
    if std is Standard.QD130:
        add_papers(
            tables,
            prov,
            fac,
            ma_lk,
            name,
            born,
            male,
            pop.address(pid),
            card,
            dx,
            vtype,
            start,
            end,
            ket_qua,
            loai_rv,
            referred_to,
            revisit,
            doituong,
            r,
        )
    return Record(ma_lk, std, tables)
