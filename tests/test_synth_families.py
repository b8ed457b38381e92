"""Issue 11 item 6: ``khoyte synth --exporters families`` writes each facility's records as its
software would — the conventions it claims at about the intended rates, its placeholders and
byte variants, deterministically by seed — while ``--exporters standard`` keeps today's bytes
(``tests/test_payer_golden.py``) and the manifest's truth stays what happened."""

from __future__ import annotations

import base64
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from khoyte.synth.exporters import FAMILIES, PLACEHOLDERS
from khoyte.synth.manifest import exporter_records
from khoyte.validate.conventions import CONVENTIONS
from tests.synth_helpers import findings, generate, tree

KW: dict[str, Any] = {
    "seed": 8, "population": 2500, "start": date(2025, 3, 1), "end": date(2025, 4, 15),
}  # fmt: skip


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("families")
    return root, generate(root, exporters="families", **KW)


def test_every_family_code_is_in_the_catalogue() -> None:
    for fam in FAMILIES.values():
        assert set(fam.conventions) <= set(CONVENTIONS), fam.name
        assert set(fam.placeholders) <= set(PLACEHOLDERS), fam.name
    claimed = {c for f in FAMILIES.values() for c in f.conventions}
    assert claimed == set(CONVENTIONS)  # every catalogued convention is emitted by some family


def test_same_seed_same_bytes_and_jobs_do_not_matter(
    province: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, _ = province
    again = tmp_path / "again"
    generate(again, exporters="families", jobs=2, **KW)
    assert tree(again) == tree(root)


def test_truth_is_what_happened_whatever_the_exporter(
    province: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """Visits, diagnoses, deaths, days are the standard province's; only the two practices with
    money (mark-up, second examination) move costs, by exactly what they add."""
    _, fam = province
    std = generate(tmp_path / "std", **KW)
    for key in ("visits", "emergencies", "deaths", "bed_days", "bhyt_records"):
        assert fam["totals"][key] == std["totals"][key], key
    assert fam["by_icd10_chapter"].keys() == std["by_icd10_chapter"].keys()
    for ch, vals in std["by_icd10_chapter"].items():
        assert fam["by_icd10_chapter"][ch]["visits"] == vals["visits"]
    assert "exporters" not in std
    assert "exporters" not in std["parameters"]


def test_each_family_emits_what_it_claims_at_about_its_rates(
    province: tuple[Path, dict[str, Any]],
) -> None:
    root, manifest = province
    records = exporter_records(root).values()
    by_family: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_family.setdefault(rec["family"], []).append(rec)
    assert set(by_family) == {"A", "B", "C", "D", "standard"}
    for name, recs in by_family.items():
        claimed = set(FAMILIES[name].conventions)
        applied = Counter(c for r in recs for c in r["conventions"])
        assert set(applied) <= claimed, name  # nothing it does not claim
        if name == "standard":
            assert not applied
            assert not any(r["placeholders"] or r["formats"] for r in recs)
    a = by_family["A"]
    share = Counter(c for r in a for c in r["conventions"])
    # GDV_ZERO: every record the fund paid for (profile: 100 %)
    paid = [r for r in a if r["truth"]["t_bhtt"] != "0.00"]
    assert share["GDV_ZERO"] == len(paid)
    # DAYS_24H_FROM_WARD: nearly every inpatient stay whose count it changes (profile: 98 %)
    assert share["DAYS_24H_FROM_WARD"] > 0
    # COPAY / CCHN / NGAY_HEN_KL on most records where they apply
    assert share["MA_TTDV_CCHN"] / len(a) > 0.9
    # drug conventions at roughly the profile's rates
    with_drugs = [r for r in a if r["truth"]["drug_cost"] != "0.00"]
    absent = share["DRUG_LINES_ABSENT"] / len(with_drugs)
    assert 0.04 < absent < 0.18, absent
    markup = share["DRUG_MARKUP"] / len(with_drugs)
    assert 0.15 < markup < 0.45, markup
    counts = manifest["exporters"]["counts"]
    assert counts["convention"] == dict(
        sorted(Counter(c for r in records for c in r["conventions"]).items())
    )
    assert {"null", "short_code", "empty"} <= set(counts["placeholder"])


def test_placeholders_and_formats_are_in_the_bytes(province: tuple[Path, dict[str, Any]]) -> None:
    root, manifest = province
    fam_of = manifest["exporters"]["by_facility"]
    seen: Counter[str] = Counter()
    council = {root / f for f in manifest["assessments"]["files"]}  # XML12: no exporter family
    for path in sorted(p for p in (root / "xml").rglob("*.xml") if p not in council):
        data = path.read_bytes()
        family = fam_of[path.name[:5]]
        seen[f"{family}:bom"] += data.startswith(b"\xef\xbb\xbf")
        for b64 in re.findall(rb"<NOIDUNGFILE>([^<]*)</NOIDUNGFILE>", data):
            doc = base64.b64decode(b64)
            seen[f"{family}:decl"] += doc.startswith(b"<?xml")
            seen[f"{family}:open_close"] += (
                b"></" in doc and re.search(rb"<(\w+)></\1>", doc) is not None
            )
            seen[f"{family}:placeholder"] += b">null<" in doc
            seen[f"{family}:xsi"] += b"XMLSchema instance" in doc
            seen[f"{family}:vtyt_first"] += re.search(rb"<T_VTYT>.*<T_THUOC>", doc) is not None
    council = {root / f for f in manifest["assessments"]["files"]}  # XML12: no exporter family
    files = Counter(fam_of[p.name[:5]] for p in (root / "xml").rglob("*.xml") if p not in council)
    assert seen["B:bom"] == files["B"]
    assert seen["A:bom"] == 0
    assert seen["A:decl"] == 0
    assert seen["standard:decl"] > 0
    assert seen["B:open_close"] > 0
    assert seen["standard:open_close"] == 0
    assert seen["A:xsi"] > 0
    assert seen["standard:xsi"] == 0
    assert seen["B:vtyt_first"] > 0
    assert seen["A:vtyt_first"] == 0
    assert seen["A:placeholder"] > 0
    assert seen["standard:placeholder"] == 0


def test_cdata_only_when_asked(tmp_path: Path) -> None:
    kw = {**KW, "end": date(2025, 3, 10)}
    plain = tmp_path / "plain"
    generate(plain, exporters="families", **kw)
    assert not any(b"CDATA" in p.read_bytes() for p in (plain / "xml").rglob("*.xml"))
    cdata = tmp_path / "cdata"
    m = generate(cdata, exporters="families", exporter_cdata=True, **kw)
    b_files = [p for p in (cdata / "xml").rglob("*.xml")
               if m["exporters"]["by_facility"][p.name[:5]] == "B"]  # fmt: skip
    assert b_files
    assert all(b"<NOIDUNGFILE><![CDATA[" in p.read_bytes() for p in b_files)


def test_dirty_defects_stay_distinguishable_on_top_of_families(tmp_path: Path) -> None:
    """Genuine defects (``--dirty``) are listed apart from conventions and each is found."""
    kw = {**KW, "end": date(2025, 3, 20)}
    root = tmp_path / "dirty"
    m = generate(root, exporters="families", dirty=0.2, **kw)
    assert m["defects"]
    got = findings(root)
    for d in m["defects"]:
        for code in d["expected"]:
            key = (d["file"], None if code.startswith("FILE.") else d["ma_lk"], code)
            assert got[key] > 0, d
