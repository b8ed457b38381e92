"""Issue 11: one small hand-written document per exporter convention of the real-world profile,
each judged as specified under both profiles.

Under ``hub`` the record is counted (never rejected for a convention), the finding names the
convention in the sender's terms; under ``payer`` the record is judged by the written formulas,
the finding is tagged with the convention but its message is the payer's, unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from khoyte.findings import Finding
from khoyte.standards.model import Record
from khoyte.validate.conventions import CONVENTIONS
from khoyte.validate.engine import RecordResult, validate_file
from khoyte.validate.policy import load_policy
from tests.factories import r2, record
from tests.xmlkit import one

D = Decimal
RECEIVED = datetime(2026, 1, 1)


def _gdv_zero(r: Record) -> None:
    r.episode.values["T_BHTT_GDV"] = D("0.00")


def _fund_basis(r: Record) -> None:
    r.episode.values["T_THUOC"] = sum((x.values["T_BHTT"] for x in r.drugs), D(0))


def _drugs_absent(r: Record) -> None:
    r.tables.pop("XML2")  # XML1 still counts the drugs


def _markup(r: Record) -> None:
    line = r.drugs[0].values  # two prices: the hospital's 15 % above the insurance price
    bh = r2(line["THANH_TIEN_BV"] / D("1.15"))
    bhtt = r2(bh * line["MUC_HUONG"] / 100)
    line.update(THANH_TIEN_BH=bh, T_BHTT=bhtt, T_BNCCT=bh - bhtt, T_BNTT=line["THANH_TIEN_BV"] - bh)


def _days_24h(r: Record) -> None:
    ep = r.episode.values  # to the ward 20 h after arrival, 30 h there: 1 completed 24-hour period
    ep["NGAY_VAO_NOI_TRU"] = ep["NGAY_VAO"] + timedelta(hours=20)
    ep["SO_NGAY_DTRI"] = int((ep["NGAY_RA"] - ep["NGAY_VAO_NOI_TRU"]).total_seconds() // 86400)


def _copay(r: Record) -> None:
    for row in r.services:  # the co-payment folded into T_BNTT on the lines; XML1 unchanged
        v = row.values
        v["T_BNTT"] = v["THANH_TIEN_BV"] - v["T_BHTT"]
        v["T_BNCCT"] = D("0.00")


def _muc_nominal(r: Record) -> None:
    r.drugs[0].values["MUC_HUONG"] = 100  # paid at 80 % as the split shows


def _dv_bh_only(r: Record) -> None:
    v = r.services[0].values  # a second exam at 30 %: applied to THANH_TIEN_BH only
    v["TYLE_TT_DV"] = 30
    bh = r2(v["SO_LUONG"] * v["DON_GIA_BH"] * D("0.30"))
    bhtt = r2(bh * v["MUC_HUONG"] / 100)
    v.update(THANH_TIEN_BH=bh, T_BHTT=bhtt, T_BNCCT=bh - bhtt, T_BNTT=v["THANH_TIEN_BV"] - bh)


def _cchn(r: Record) -> None:
    r.episode.values["MA_TTDV"] = "001234/CT-CCHN"


@dataclass(frozen=True)
class Doc:
    convention: str
    code: str  # the finding the convention explains
    build: Callable[[Record], None]
    hub: str  # severity under hub
    payer: str | None  # severity under payer (None: not reported)
    inpatient: bool = False


DOCS = [
    Doc("GDV_ZERO", "XML1.T_BHTT_GDV.SUM", _gdv_zero, "info", "error"),
    Doc("T_THUOC_FUND_BASIS", "XML1.T_THUOC.SUM", _fund_basis, "warning", "error"),
    Doc("DRUG_LINES_ABSENT", "HOSO.XML2.ABSENT", _drugs_absent, "warning", None),
    Doc("DRUG_LINES_ABSENT", "XML1.T_THUOC.SUM", _drugs_absent, "warning", "error"),
    Doc("DRUG_LINES_ABSENT", "XML1.T_TONGCHI_BV.SUM", _drugs_absent, "warning", "error"),
    Doc("DRUG_MARKUP", "XML2.THANH_TIEN_BH.FORMULA", _markup, "warning", "error"),
    Doc("DAYS_24H_FROM_WARD", "XML1.SO_NGAY_DTRI.RULE", _days_24h, "warning", "error", True),
    Doc("COPAY_IN_BNTT", "XML3.T_BNTT.SPLIT", _copay, "warning", "warning"),
    Doc("COPAY_IN_BNTT", "XML1.T_BNCCT.SUM", _copay, "warning", "error"),
    Doc("MUC_HUONG_NOMINAL", "XML2.T_BHTT.SPLIT", _muc_nominal, "warning", "warning"),
    Doc("TYLE_DV_BH_ONLY", "XML3.THANH_TIEN_BV.FORMULA", _dv_bh_only, "warning", "error"),
    Doc("MA_TTDV_CCHN", "XML1.MA_TTDV.MAX_LENGTH", _cchn, "warning", "warning"),
]


def _judge(doc: Doc, profile: str) -> RecordResult:
    rec = record("LKC1", inpatient=doc.inpatient)
    doc.build(rec)
    res = validate_file(one(rec), "c.xml", received_at=RECEIVED, policy=load_policy(profile))
    assert res.profile == profile
    assert len(res.records) == 1
    return res.records[0]


def _find(rr: RecordResult, code: str) -> Finding | None:
    return next((f for f in rr.findings if f.code == code), None)


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d.convention}-{d.code}")
def test_convention_under_hub(doc: Doc) -> None:
    rr = _judge(doc, "hub")
    f = _find(rr, doc.code)
    assert f is not None, [x.code for x in rr.findings]
    assert f.severity.value == doc.hub
    assert f.convention == doc.convention
    assert doc.convention in f.message_vi
    assert CONVENTIONS[doc.convention].vi in f.message_vi
    assert CONVENTIONS[doc.convention].en in f.message_en
    assert rr.status.value != "rejected", [(x.code, x.severity.value) for x in rr.findings]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: f"{d.convention}-{d.code}")
def test_convention_under_payer(doc: Doc) -> None:
    rr = _judge(doc, "payer")
    f = _find(rr, doc.code)
    if doc.payer is None:
        assert f is None
        return
    assert f is not None, [x.code for x in rr.findings]
    assert f.severity.value == doc.payer
    assert f.convention == doc.convention  # tagged for the statistics, message unchanged
    assert "Quy ước" not in f.message_vi
    assert "convention" not in f.message_en
    if doc.payer == "error":
        assert rr.status.value == "rejected"


def test_a_genuine_defect_is_not_dressed_as_a_convention() -> None:
    rec = record("LKC2")
    rec.episode.values["T_THUOC"] += D("777777")  # neither basis: a plain wrong total
    rec.episode.values["T_BHTT_GDV"] += D("5000")  # not the 0 convention
    res = validate_file(one(rec), "d.xml", received_at=RECEIVED, policy=load_policy("hub"))
    found = {f.code: f for f in res.records[0].findings}
    assert found["XML1.T_THUOC.SUM"].convention is None
    assert found["XML1.T_BHTT_GDV.SUM"].convention is None
    assert "Quy ước" not in found["XML1.T_THUOC.SUM"].message_vi


def test_days_not_matching_the_24h_rule_are_not_tagged() -> None:
    rec = record("LKC3", inpatient=True)
    rec.episode.values["SO_NGAY_DTRI"] = 9
    res = validate_file(one(rec), "e.xml", received_at=RECEIVED, policy=load_policy("hub"))
    f = _find(res.records[0], "XML1.SO_NGAY_DTRI.RULE")
    assert f is not None
    assert f.convention is None


def test_tolerances_are_per_profile() -> None:
    rec = record("LKC4", inpatient=True)
    rec.episode.values["SO_NGAY_DTRI"] = 4  # standard: 3 (diff + 1); off by one day
    rec.episode.values["T_THUOC"] += D("600")  # within the hub's 1,000 VND
    hub = validate_file(one(rec), "f.xml", received_at=RECEIVED, policy=load_policy("hub"))
    payer = validate_file(one(rec), "f.xml", received_at=RECEIVED, policy=load_policy("payer"))
    hub_codes = {f.code for f in hub.records[0].findings}
    payer_codes = {f.code for f in payer.records[0].findings}
    assert "XML1.SO_NGAY_DTRI.RULE" not in hub_codes
    assert "XML1.T_THUOC.SUM" not in hub_codes
    assert {"XML1.SO_NGAY_DTRI.RULE", "XML1.T_THUOC.SUM"} <= payer_codes


def test_exempt_card_prefix() -> None:
    rec = record("LKC5")
    rec.episode.values["T_BHTT_GDV"] = D("0.00")
    rec.episode.values["MA_THE_BHYT"] = ["QN4828212345678"]  # army cards: exempt (policy.toml)
    hub = validate_file(one(rec), "g.xml", received_at=RECEIVED, policy=load_policy("hub"))
    assert "XML1.T_BHTT_GDV.SUM" not in {f.code for f in hub.records[0].findings}


def test_every_convention_that_explains_a_finding_has_a_document() -> None:
    explained = {c.code for c in CONVENTIONS.values() if c.explains}
    documented = {d.convention for d in DOCS}
    # DATE_8_DIGITS: the reader reads an 8-digit time as a date (no finding to explain).
    assert explained - documented <= {"DATE_8_DIGITS"}
    assert documented <= set(CONVENTIONS)


def test_interim_record_under_hub_is_counted() -> None:
    rec = record("LKC6", inpatient=True)
    ep = rec.episode.values
    ep["NGAY_RA"] = None  # an interim inpatient record: still in the ward
    ep["SO_NGAY_DTRI"] = None
    ep["NGAY_TTOAN"] = None
    rec.tables["XML1"][0].values["NGAY_VAO"] = datetime(2025, 8, 1, 8) - timedelta(days=1)
    hub = validate_file(one(rec), "h.xml", received_at=RECEIVED, policy=load_policy("hub"))
    assert hub.records[0].status.value != "rejected", [
        (f.code, f.severity.value) for f in hub.records[0].findings
    ]
