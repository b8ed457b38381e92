"""Medical assessments (XML12, giám định y khoa) of the province's assessment council.

The council (Hội đồng Giám định y khoa tỉnh) is a unit of the Department of Health, not a KCB
facility: it is written into ``facilities.csv`` (code ``<province>000``, ``loai`` ``other``,
in the provincial hospital's commune) but sees no patients, so every other facility and every
visit is as before. It meets every Tuesday and Thursday; each month whose meetings fall in the
period gets ONE document, ``CHI_TIEU_GIAM_DINH_YKHOA``, dated by the month's last meeting in the
period (``xml/<ngày>/<mã>.xml``; with ``--per-visit`` ``xml/<ngày>/<mã>/<mã>-<YYYY-MM>.xml``).

How many: the package plan's ``giam_dinh_y_khoa`` (``aggregate/data/targets.csv``) a month,
scaled by the population as the programme reports scale it (``synth.programmes``: about 2.3
assessments per 1,000 people a year), drawn per meeting day (Poisson). Which kind: the shares
of the programme reports (``ASSESSMENT_KINDS``), written as the codes of QĐ 130 Bảng 12
(``MA_DOI_TUONG``, ``KHAM_GIAM_DINH``) that ``aggregate/data/ioc.toml``'s
``[papers.giam_dinh_xml12]`` reads back into the same kinds. Who: adults of the population
who hold a CCCD.

Everything is drawn from a stream of its own (``SeedSequence([seed, 7, year, month])``): the
other outputs of a seed are byte-identical with or without these files. The truth is
``truth/assessments.csv``, one line per assessment.
"""

from __future__ import annotations

import calendar
import csv
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from khoyte.standards.model import Row, make_row
from khoyte.standards.writer import standalone
from khoyte.synth.aggregates import _months
from khoyte.synth.names import full_name
from khoyte.synth.programmes import ASSESSMENT_KINDS, PLAN_POPULATION, _plan_year

if TYPE_CHECKING:
    from khoyte.synth.generate import SynthConfig
    from khoyte.synth.province import Province

MEETING_DAYS = (1, 3)  # Tuesday, Thursday
TRUTH_HEADER = ("so_bien_ban", "file", "ngay_hop", "month", "person_id", "maxa_cu_tru",
                "ma_doi_tuong", "kham_giam_dinh", "nhom", "tuoi")  # fmt: skip
# kind (ioc.toml's option) -> (MA_DOI_TUONG choices, KHAM_GIAM_DINH choices); every choice is
# read back into its own kind by the options' first-match order
CODES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "lan_dau": (("BHXH1L", "KNLĐH", "KNLĐT"), ("1",)),
    "benh_nghe_nghiep": (("BNN",), ("1", "2", "3")),
    "tai_nan_lao_dong": (("TNLĐ",), ("1", "2", "3")),
    "thuong_binh_cdhh": (("TB", "CĐHH", "BB"), ("1", "2", "4", "7")),
    "khuyet_tat": (("NKT",), ("1", "2")),
    "giam_dinh_khac": (("TH", "BHXH1L", "KNLĐH"), ("2", "8")),
}
_BASIS = {"NKT": "Thông tư 01/2019/TT-BLĐTBXH", "BNN": "Thông tư 28/2016/TT-BYT",
          "TNLĐ": "Thông tư 56/2017/TT-BYT", "TB": "Thông tư 45/2014/TTLT-BYT-BLĐTBXH"}  # fmt: skip
_REGIME = {"TB": "1", "BB": "6", "CĐHH": "5", "BNN": "3", "TNLĐ": "4"}


@dataclass(frozen=True, slots=True)
class Council:
    code: str
    name: str
    commune: int  # index into Geography.communes


def council_of(prov: Province) -> Council:
    """The province's assessment council: in the provincial (first) hospital's commune."""
    p = prov.geo.province_name.removeprefix("Tỉnh ").removeprefix("Thành phố ")
    return Council(f"{prov.geo.province}000", f"Hội đồng Giám định y khoa tỉnh {p}",
                   prov.facilities[0].commune)  # fmt: skip


def council_row(prov: Province) -> list[Any]:
    """Its line of ``facilities.csv`` (the columns of ``synth.facilities``)."""
    c = council_of(prov)
    commune = prov.geo.communes[c.commune]
    return [c.code, c.name, "tinh", "other", commune.code, commune.name, prov.geo.province, 0, 15]


def _meetings(y: int, m: int, start: date, end: date) -> tuple[list[date], int]:
    """The month's meeting days inside the period, and how many the whole month has."""
    days = [date(y, m, d) for d in range(1, calendar.monthrange(y, m)[1] + 1)]
    meet = [d for d in days if d.weekday() in MEETING_DAYS]
    return [d for d in meet if start <= d <= end], len(meet)


def write_assessments(out: Path, cfg: SynthConfig, prov: Province) -> dict[str, Any]:
    """The council's documents under ``out/xml`` and ``out/truth/assessments.csv``; returns
    the manifest's ``assessments`` section."""
    from khoyte.aggregate.metadata import load

    council = council_of(prov)
    targets = load().targets
    scale = cfg.population / PLAN_POPULATION
    pop, geo = prov.pop, prov.geo
    kinds = list(ASSESSMENT_KINDS)
    shares = list(ASSESSMENT_KINDS.values())
    files: list[str] = []
    by_month: dict[str, dict[str, int]] = {}
    truth_rows: list[tuple[Any, ...]] = []
    eligible: np.ndarray | None = None
    serial = 0
    for first in _months(cfg.start, cfg.end):
        y, m = first.year, first.month
        rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 7, y, m]))
        meetings, in_month = _meetings(y, m, cfg.start, cfg.end)
        if not meetings:
            continue
        lam = _plan_year(targets, "giam_dinh_y_khoa", "82", y) / 12 * scale / in_month
        if eligible is None:
            ages = (cfg.start.toordinal() - pop.birth) // 365
            eligible = np.flatnonzero((ages >= 18) & pop.cccd)
        rows: list[Row] = []
        month_facts: list[tuple[Any, ...]] = []
        for day in meetings:
            for _ in range(int(rng.poisson(lam))):
                if eligible.size == 0:
                    break
                serial += 1
                pid = int(eligible[int(rng.integers(eligible.size))])
                kind = kinds[int(rng.choice(len(kinds), p=shares))]
                row, facts = _assessment(prov, rng, day, pid, kind, serial)
                rows.append(row)
                month_facts.append(facts)
        if not rows:
            continue
        last = meetings[-1]
        rel = (f"xml/{last.isoformat()}/{council.code}/{council.code}-{y}-{m:02d}.xml"
               if cfg.per_visit else f"xml/{last.isoformat()}/{council.code}.xml")  # fmt: skip
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(standalone("XML12", rows))
        files.append(rel)
        counts = by_month.setdefault(f"{y}-{m:02d}", {})
        for facts in month_facts:
            counts[facts[7]] = counts.get(facts[7], 0) + 1
            truth_rows.append((facts[0], rel, *facts[1:]))
    with (out / "truth" / "assessments.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(TRUTH_HEADER)
        w.writerows(truth_rows)
    return {
        "council": council.code,
        "council_name": council.name,
        "commune": geo.communes[council.commune].code,
        "documents": len(files),
        "records": len(truth_rows),
        "files": files,
        "by_month": {k: dict(sorted(v.items())) for k, v in sorted(by_month.items())},
        "truth": "truth/assessments.csv",
    }


def _assessment(
    prov: Province,
    rng: np.random.Generator,
    day: date,
    pid: int,
    kind: str,
    serial: int,
) -> tuple[Row, tuple[Any, ...]]:
    pop, geo = prov.pop, prov.geo
    codes, exams = CODES[kind]
    ma_doi_tuong = codes[int(rng.integers(len(codes)))]
    kham = exams[int(rng.integers(len(exams)))]
    born = pop.birth_date(pid)
    age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    commune = geo.communes[int(pop.commune[pid])]
    card = pop.card_on(pid, day)
    so_bien_ban = f"{serial:05d}/{day.year}/BB-GĐYK"
    new_rate = int(rng.integers(5, 96))
    old_rate = int(rng.integers(5, new_rate + 1)) if kham != "1" else None
    disabled = ma_doi_tuong == "NKT"
    chair = int(rng.integers(2)) + 1
    issued = max(born + timedelta(days=365 * 14 + 10), date(2021, 1, 4))
    asked = day - timedelta(days=int(rng.integers(7, 46)))
    values: dict[str, Any] = {
        "NGUOI_CHU_TRI": full_name(3, 2, 7, True) if chair == 1 else full_name(5, 4, 11, False),
        "CHUC_VU": str(chair),
        "NGAY_HOP": day,
        "HO_TEN": pop.name(pid),
        "NGAY_SINH": born,
        "SO_CCCD": pop.cccd_number(pid),
        "NGAY_CAP_CCCD": issued,
        "NOI_CAP_CCCD": "Cục Cảnh sát quản lý hành chính về trật tự xã hội",
        "DIA_CHI": pop.address(pid),
        "MATINH_CU_TRU": geo.province,
        "MAHUYEN_CU_TRU": "000",
        "MAXA_CU_TRU": commune.code,
        "MA_BHXH": pop.bhxh_number(pid),
        "MA_THE_BHYT": [card[0]] if card else None,
        "NGHE_NGHIEP": "Công nhân" if kind in ("benh_nghe_nghiep", "tai_nan_lao_dong") else None,
        "DIEN_THOAI": pop.phone(pid),
        "MA_DOI_TUONG": ma_doi_tuong,
        "KHAM_GIAM_DINH": kham,
        "SO_BIEN_BAN": so_bien_ban,
        "TYLE_TTCT_CU": old_rate,
        "DANG_HUONG_CHE_DO": _REGIME.get(ma_doi_tuong) if kham != "1" else None,
        "NGAY_CHUNG_TU": day,
        "SO_GIAY_GIOI_THIEU": f"{serial:05d}/GGT",
        "NGAY_DE_NGHI": asked,
        "MA_DONVI": f"{geo.province}{int(rng.integers(1, 20)):03d}",
        "GIOI_THIEU_CUA": f"Bảo hiểm xã hội tỉnh {geo.province_name.removeprefix('Tỉnh ')}",
        "KET_QUA_KHAM": f"Tổn thương cơ thể {new_rate}%",
        "SO_VAN_BAN_CAN_CU": _BASIS.get(ma_doi_tuong, "Thông tư 56/2017/TT-BYT"),
        "TYLE_TTCT_MOI": new_rate,
        "TONG_TYLE_TTCT": new_rate if kham in ("6", "7", "8") else None,
        "DANG_KHUYETTAT": str(int(rng.integers(1, 7))) if disabled else None,
        "MUC_DO_KHUYETTAT": str(int(rng.integers(1, 5))) if disabled else None,
        "DE_NGHI": "Giải quyết chế độ theo quy định",
        "DUOC_XACDINH": "Không",
    }
    facts = (so_bien_ban, day.isoformat(), f"{day.year}-{day.month:02d}", pid, commune.code,
             ma_doi_tuong, kham, kind, age)  # fmt: skip
    return make_row("XML12", values), facts
