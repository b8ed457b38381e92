"""Which fields of a record identify a person or are free text written about one (QĐ 130/4750
and 4210 names, all 16 tables). Codes (drugs, services, ICD-10, facilities), dates of care and
amounts are not. Receipts redact these values for who may not see records
(``khoyte.gateway.receipts``); the operational store keeps them only encrypted
(``khoyte.store.crypto``)."""

from __future__ import annotations

import re
from functools import lru_cache

IDENTIFYING = re.compile(
    r"(HO_?TEN.*|.*TEN_(CHA|ME|CON|NND|BN)|NGUOI_GIAM_HO|.*CCCD.*|.*CMND.*|MA_THE.*|MA_BN"
    r"|.*BHXH.*|MA_HSBA|SO_LUU_TRU|MA_YTE|MA_(CHA|ME)|SO_HOSO|DIA_CHI.*|DIEN_THOAI.*"
    r"|NOI_(CU_TRU|SINH).*|NGAY_SINH|CHAN_DOAN.*|LY_DO.*|GHI_CHU.*|PP_?DIEU_?TRI.*|QT_BENHLY"
    r"|TOMTAT_KQ|DIEN_BIEN_LS|HOI_CHAN|PHAU_THUAT|KET_LUAN|MO_TA|DAU_HIEU_LS|HUONG_DIEU_TRI"
    r"|GIAI_DOAN_BENH|KET_QUA_KHAM|TINH_TRANG_CON|NGUYENNHAN_DINHCHI|DU_PHONG|EMAIL"
    # XML12: the assessed person's occupation, the request and the determination, in words
    r"|NGHE_NGHIEP|DE_NGHI|DUOC_XACDINH)",
    re.ASCII,
)


@lru_cache(maxsize=4096)
def _identifying(name: str) -> bool:
    return IDENTIFYING.fullmatch(name.upper()) is not None


def is_identifying(field: str | None) -> bool:
    return field is not None and _identifying(field)
