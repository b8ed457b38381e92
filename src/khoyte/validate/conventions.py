"""Exporter conventions: the ways real hospital software departs from the written formulas of
QĐ 130/4750 while the record still describes a real visit.

Measured on 1,152 real claim files (``shared/standards/real-world-profile.md`` §2–§3): 93 % of
what the written formulas reject is one of these. A finding that one of them explains carries its
code (``Finding.convention``) and says so in plain words, in the sender's terms, instead of a bare
"sum mismatch". Per facility, khoyte counts the share of records that follow each convention.

The catalogue is data: codes are stable (the synthetic province's exporter families name them in
their manifest, the data-quality workspace counts them). Detection lives in
``validate/recognise.py``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Convention:
    code: str
    vi: str  # what the exporter does, in the sender's terms
    en: str
    explains: tuple[str, ...]  # finding codes it explains (``*`` matches any table or field)
    evidence: str  # where it was measured


CONVENTIONS: dict[str, Convention] = {
    c.code: c
    for c in (
        Convention(
            "GDV_ZERO",
            "T_BHTT_GDV luôn ghi 0 dù các dòng chi tiết là thanh toán theo giá dịch vụ "
            "(MA_PTTT = 1)",
            "T_BHTT_GDV is always 0 although the lines are fee-for-service (MA_PTTT = 1)",
            ("XML1.T_BHTT_GDV.SUM",),
            "real-world-profile §3.1: 1,152/1,152 records",
        ),
        Convention(
            "T_THUOC_FUND_BASIS",
            "T_THUOC ghi theo số BHYT thanh toán (Σ T_BHTT hoặc Σ THANH_TIEN_BH của XML2) thay "
            "vì tổng tiền thuốc (Σ THANH_TIEN_BV)",
            "T_THUOC holds the insurance-side drug amount (Σ XML2 T_BHTT or Σ THANH_TIEN_BH) "
            "instead of the drug total (Σ THANH_TIEN_BV)",
            ("XML1.T_THUOC.SUM",),
            "real-world-profile §2.3, §3.2: 85 % of records with XML2 within 1 VND",
        ),
        Convention(
            "DRUG_LINES_ABSENT",
            "không gửi bảng thuốc XML2 nhưng XML1 vẫn tính tiền thuốc (T_THUOC > 0)",
            "the drug table XML2 is not sent although XML1 counts drug money (T_THUOC > 0)",
            (
                "HOSO.XML2.ABSENT",
                "XML1.T_THUOC.SUM",
                "XML1.T_TONGCHI_BV.SUM",
                "XML1.T_TONGCHI_BH.SUM",
                "XML1.T_BHTT.SUM",
                "XML1.T_BNTT.SUM",
                "XML1.T_BNCCT.SUM",
            ),
            "real-world-profile §2.2, §3.3: 112 records (9.7 %)",
        ),
        Convention(
            "DRUG_MARKUP",
            "thuốc có hai giá (giá bệnh viện cao hơn giá BHYT) sau cùng một DON_GIA",
            "drugs carry two prices (the hospital's above the insurance price) behind one DON_GIA",
            ("XML2.THANH_TIEN_BH.FORMULA",),
            "real-world-profile §3.4: 27.6 % of drug lines, BV/BH ≈ 1.07–1.15",
        ),
        Convention(
            "DAYS_24H_FROM_WARD",
            "SO_NGAY_DTRI nội trú tính bằng số tròn 24 giờ kể từ NGAY_VAO_NOI_TRU; điều trị "
            "ban ngày (02) ghi 0",
            "inpatient SO_NGAY_DTRI counts completed 24-hour periods from NGAY_VAO_NOI_TRU; "
            "day care (02) is written 0",
            ("XML1.SO_NGAY_DTRI.RULE",),
            "real-world-profile §2.5: 179/183 inpatient records, 12/12 day-care records",
        ),
        Convention(
            "COPAY_IN_BNTT",
            "dòng dịch vụ gộp phần cùng chi trả vào T_BNTT (T_BNCCT = 0) trong khi XML1 tách "
            "theo chuẩn",
            "service lines fold the co-payment into T_BNTT (T_BNCCT = 0) while XML1 splits it "
            "as the standard says",
            (
                "XML1.T_BNTT.SUM",
                "XML1.T_BNCCT.SUM",
                "XML3.T_BNTT.SPLIT",
                "XML3.T_BNCCT.SPLIT",
            ),
            "real-world-profile §3.6: 851/894 lines at 80/95 % benefit",
        ),
        Convention(
            "MUC_HUONG_NOMINAL",
            "dòng chi tiết ghi MUC_HUONG = 100 nhưng quỹ thanh toán theo mức hưởng thực tế "
            "(80 % hoặc 95 %)",
            "lines state MUC_HUONG = 100 but the fund pays at the benefit level actually applied "
            "(80 % or 95 %)",
            ("XML2.T_BHTT.SPLIT", "XML3.T_BHTT.SPLIT"),
            "real-world-profile §3.6: 637 XML2 lines say 100 but are paid at 80/95 %",
        ),
        Convention(
            "TYLE_DV_BH_ONLY",
            "tỷ lệ TYLE_TT_DV chỉ áp dụng cho THANH_TIEN_BH, không áp dụng cho THANH_TIEN_BV",
            "TYLE_TT_DV is applied to THANH_TIEN_BH only, not to THANH_TIEN_BV",
            ("XML3.THANH_TIEN_BV.FORMULA",),
            "real-world-profile §3.7: 17/17 lines with TYLE_TT_DV = 30",
        ),
        Convention(
            "MA_TTDV_CCHN",
            "MA_TTDV ghi số chứng chỉ hành nghề (dạng 999999/AA-AAAA) thay vì mã 10 ký tự của BHXH",
            "MA_TTDV holds the practising-certificate number (999999/AA-AAAA) instead of the "
            "10-character insurance code",
            ("*.MA_TTDV.MAX_LENGTH",),
            "real-world-profile §2.6: 828 of 828 non-empty values",
        ),
        Convention(
            "DATE_8_DIGITS",
            "trường thời điểm (12 ký tự) chỉ ghi ngày (8 ký tự yyyymmdd)",
            "a time field (12 characters) is written as a date only (8 characters yyyymmdd)",
            ("XML14.NGAY_HEN_KL.DATETIME",),
            "real-world-profile §2.9: XML14 NGAY_HEN_KL 536/536",
        ),
        Convention(
            "NEGATIVE_ZERO",
            "số không ghi là -0.00 (đọc là 0, không phải phát hiện)",
            "zero is written -0.00 (read as 0, not a finding)",
            (),
            "real-world-profile §2.8: 117 values",
        ),
    )
}


def convention(code: str) -> Convention:
    return CONVENTIONS[code]
