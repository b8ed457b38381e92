"""Companion aggregate reports for what claims do not carry (issue 3, item 3): one CSV and one
XLSX per month in ``aggregates/``, in a long layout documented in docs/synth.md:

``bao_cao, thang, ma_don_vi, ten_don_vi, chi_tieu, nhom, gia_tri``

Reports (``bao_cao``): ``dan_so`` population by commune, age band and sex; ``sinh`` births by
commune (sex, third-or-later); ``khhgd`` family-planning users by method; ``attp`` food-safety
inspections, violations and food-poisoning cases; ``nhan_luc`` workforce by facility and
profession; ``giuong`` beds by facility with the month's bed-days and occupancy from the claims;
``tu_vong_cong_dong`` deaths in the community (biểu b13) by commune, main cause group, age at death
and sex.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from openpyxl import Workbook

from khoyte.synth.aggregate_defects import inject
from khoyte.synth.people import REPORT_BANDS

if TYPE_CHECKING:
    from khoyte.synth.generate import SynthConfig
    from khoyte.synth.manifest import Truth
    from khoyte.synth.province import Province

COLUMNS = ("bao_cao", "thang", "ma_don_vi", "ten_don_vi", "chi_tieu", "nhom", "gia_tri")
REPORTS_VI = {
    "dan_so": "Dân số theo xã, nhóm tuổi, giới tính",
    "sinh": "Số trẻ sinh ra",
    "khhgd": "Kế hoạch hóa gia đình: người sử dụng biện pháp tránh thai",
    "attp": "An toàn thực phẩm: thanh tra, kiểm tra, ngộ độc thực phẩm",
    "nhan_luc": "Nhân lực y tế",
    "giuong": "Giường bệnh và ngày điều trị",
    "tu_vong_cong_dong": "Tử vong tại cộng đồng (sổ tử vong A6/YTCS của trạm y tế xã)",
}
# Deaths in the community (the commune's register A6/YTCS, biểu b13): a crude death rate of
# 6.3 per 1,000 a year (Vietnam, 2019–2023), two thirds of them outside a facility; by age at
# death, then sex (55 % male), then main cause group by age. The register's total is written for
# every commune and month (zero included); of the cells by cause, age and sex only the non-zero
# (as DHIS2 stores them: zero is not significant), the workbook leaving the others blank.
COMMUNITY_DEATHS = 0.0063 * 0.65
_DEATH_AGES = (
    ("duoi_1", 0.02),
    ("1_4", 0.01),
    ("5_14", 0.015),
    ("15_59", 0.22),
    ("60_tro_len", 0.735),
)
_CAUSES = ("truyen_nhiem", "tim_mach", "ung_thu", "khong_lay_khac", "tntt", "khac")
_CAUSE_BY_AGE = {
    "duoi_1": (0.30, 0.02, 0.01, 0.07, 0.10, 0.50), "1_4": (0.25, 0.02, 0.05, 0.08, 0.45, 0.15),
    "5_14": (0.15, 0.03, 0.08, 0.09, 0.50, 0.15), "15_59": (0.08, 0.20, 0.20, 0.15, 0.25, 0.12),
    "60_tro_len": (0.05, 0.35, 0.18, 0.25, 0.04, 0.13),
}  # fmt: skip
_METHODS = (
    ("dat_vong", 0.30),
    ("thuoc_uong", 0.25),
    ("bao_cao_su", 0.22),
    ("thuoc_tiem", 0.12),
    ("que_cay", 0.04),
    ("triet_san", 0.07),
)
_PROFESSIONS = (
    ("bac_si", 0.22),
    ("dieu_duong", 0.38),
    ("ho_sinh", 0.08),
    ("duoc_si", 0.10),
    ("ky_thuat_vien", 0.10),
    ("khac", 0.12),
)
CRUDE_BIRTH_RATE = 0.0145  # per person-year (Mekong delta, 2019–2023)


def _months(start: date, end: date) -> list[date]:
    out = []
    m = date(start.year, start.month, 1)
    while m <= end:
        out.append(m)
        m = date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


def write_aggregates(
    folder: Path, cfg: SynthConfig, prov: Province, truth: Truth
) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    pop = prov.pop
    bed_days: dict[tuple[str, str], int] = {}
    for (day, fac, _), vals in truth.daily.cells.items():
        bed_days[(day[:7], fac)] = bed_days.get((day[:7], fac), 0) + vals[3]
    files = []
    anomalies: list[dict[str, Any]] = []
    deaths: dict[str, int] = dict.fromkeys(_CAUSES, 0)  # written, by cause: the manifest's truth
    first = cfg.aggregates_from or cfg.start
    for month in _months(min(first, cfg.start), cfg.end):
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 4, month.year, month.month]))
        label = f"{month:%Y-%m}"
        rows: list[tuple[Any, ...]] = []
        ages = (month.toordinal() - pop.birth) // 365
        alive = pop.birth <= month.toordinal()
        for lo, hi, band in REPORT_BANDS:
            inband = alive & (ages >= lo) & (ages <= hi)
            for sex, mask in (("1", pop.male), ("2", ~pop.male)):
                counts = np.bincount(pop.commune[inband & mask], minlength=len(prov.geo.communes))
                for i, c in enumerate(prov.geo.communes):
                    rows.append(
                        ("dan_so", label, c.code, c.name, "dan_so", f"{band}|{sex}", int(counts[i]))
                    )
        residents = np.bincount(pop.commune, minlength=len(prov.geo.communes))
        days = 31 if month.month in (1, 3, 5, 7, 8, 10, 12) else 30 if month.month != 2 else 28
        births = rng.poisson(residents * CRUDE_BIRTH_RATE * days / 365.25)
        boys = rng.binomial(births, 0.527)
        third = rng.binomial(births, 0.11)
        users = rng.poisson(residents * 0.012)
        for i, c in enumerate(prov.geo.communes):
            rows.append(("sinh", label, c.code, c.name, "tre_sinh", "nam", int(boys[i])))
            rows.append(("sinh", label, c.code, c.name, "tre_sinh", "nu", int(births[i] - boys[i])))
            rows.append(("sinh", label, c.code, c.name, "con_thu_3_tro_len", "", int(third[i])))
            split = rng.multinomial(int(users[i]), [p for _, p in _METHODS])
            for (method, _), n in zip(_METHODS, split, strict=True):
                rows.append(("khhgd", label, c.code, c.name, "nguoi_su_dung", method, int(n)))
        inspections = int(rng.poisson(max(1.0, cfg.population / 4000)))
        violations = int(rng.binomial(inspections, 0.12))
        incidents = int(rng.poisson(0.3 + 0.3 * (month.month in (5, 6, 7, 8))))
        cases = int(sum(rng.poisson(18) for _ in range(incidents)))
        for name, value in (
            ("co_so_kiem_tra", inspections),
            ("co_so_vi_pham", violations),
            ("vu_ngo_doc", incidents),
            ("nguoi_mac", cases),
            ("nguoi_tu_vong", 0),
        ):
            rows.append(("attp", label, prov.geo.province, prov.geo.province_name, name, "", value))
        for f in prov.facilities:
            split = rng.multinomial(f.staff, [p for _, p in _PROFESSIONS])
            for (prof, _), n in zip(_PROFESSIONS, split, strict=True):
                rows.append(("nhan_luc", label, f.code, f.name, "nhan_luc", prof, int(n)))
            bd = bed_days.get((label, f.code), 0)
            if month < date(cfg.start.year, cfg.start.month, 1):  # history: no claims to count
                bd = int(rng.poisson(f.beds * days * 0.7)) if f.beds else 0
            occupancy = round(100 * bd / (f.beds * days), 1) if f.beds else 0.0
            rows.append(("giuong", label, f.code, f.name, "giuong_ke_hoach", "", f.beds))
            rows.append(("giuong", label, f.code, f.name, "ngay_dieu_tri", "", bd))
            rows.append(("giuong", label, f.code, f.name, "cong_suat_su_dung_pct", "", occupancy))
        rows += _community_deaths(cfg.seed, month, days, residents, prov, deaths)
        if cfg.dirty > 0:
            rows, found = inject(rows, cfg.dirty, cfg.seed, month.year, month.month)
            anomalies += found
        csv_path = folder / f"{label}.csv"
        with csv_path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(COLUMNS)
            w.writerows(rows)
        _write_xlsx(folder / f"{label}.xlsx", rows, month)
        files += [csv_path.name, f"{label}.xlsx"]
    out: dict[str, Any] = {
        "folder": "aggregates", "columns": list(COLUMNS), "reports": REPORTS_VI, "files": files,
    }  # fmt: skip
    out["community_deaths"] = {f"tu_vong_{c}": n for c, n in deaths.items()}
    if cfg.aggregates_from is not None:
        out["from"] = f"{min(first, cfg.start):%Y-%m}"
    if cfg.dirty > 0:
        out["anomalies"] = anomalies
    return out


def _community_deaths(
    seed: int,
    month: date,
    days: int,
    residents: np.ndarray,
    prov: Province,
    deaths: dict[str, int],
) -> list[tuple[Any, ...]]:
    """The month's deaths of each commune's register (its own random stream: the other
    reports of a seed are unchanged), non-zero cells only; ``deaths`` counts them by cause."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7, month.year, month.month]))
    n = rng.poisson(residents * COMMUNITY_DEATHS * days / 365.25)
    cells = [(age, sex, cause) for age, _ in _DEATH_AGES for sex in ("1", "2") for cause in _CAUSES]
    p = [share * (0.55 if sex == "1" else 0.45) * _CAUSE_BY_AGE[age][k]
         for age, share in _DEATH_AGES for sex in ("1", "2") for k in range(len(_CAUSES))]  # fmt: skip
    p = [x / sum(p) for x in p]
    rows: list[tuple[Any, ...]] = []
    for i, c in enumerate(prov.geo.communes):  # the register's total: every commune, every month
        rows.append(("tu_vong_cong_dong", f"{month:%Y-%m}", c.code, c.name, "tu_vong_tong", "",
                     int(n[i])))  # fmt: skip
    for j in np.flatnonzero(n).tolist():
        c = prov.geo.communes[j]
        for (age, sex, cause), k in zip(cells, rng.multinomial(int(n[j]), p), strict=True):
            if k:
                rows.append(("tu_vong_cong_dong", f"{month:%Y-%m}", c.code, c.name,
                             f"tu_vong_{cause}", f"{age}|{sex}", int(k)))  # fmt: skip
                deaths[cause] += int(k)
    return rows


def _write_xlsx(path: Path, rows: list[tuple[Any, ...]], month: date) -> None:
    """The same numbers as the CSV, one sheet per report in a wide layout a person reads: one
    line per unit, one column per indicator and group (``chi_tieu|nhom``)."""
    wb = Workbook(write_only=True)  # streaming writer: several times faster than the default
    for report, title in REPORTS_VI.items():
        ws = wb.create_sheet(report)
        mine = [row for row in rows if row[0] == report]
        columns: dict[str, None] = {}
        units: dict[tuple[str, str], dict[str, Any]] = {}
        for _, _, unit, name, indicator, group, value in mine:
            col = f"{indicator}|{group}" if group else indicator
            columns.setdefault(col)
            units.setdefault((unit, name), {})[col] = value
        ws.append([title, f"{month:%Y-%m}"])
        ws.append(["ma_don_vi", "ten_don_vi", *columns])
        for (unit, name), values in units.items():
            ws.append([unit, name, *(values.get(c) for c in columns)])  # blank: not reported
    fixed = datetime(month.year, month.month, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "khoyte synth"
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_deterministic_zip(buf.getvalue(), fixed))


def _deterministic_zip(data: bytes, when: datetime) -> bytes:
    """openpyxl stamps the save time into the archive and docProps; same seed → same bytes
    requires removing both."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp, content)
            zi = zipfile.ZipInfo(info.filename, date_time=(when.year, when.month, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, content)
    return out.getvalue()
