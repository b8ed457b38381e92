"""Money the way the standard computes it, in integer cents so every formula holds exactly:
THANH_TIEN_BV = SO_LUONG × DON_GIA_BV; THANH_TIEN_BH = SO_LUONG × DON_GIA_BH × TYLE_TT_BH/100;
T_BHTT = THANH_TIEN_BH × MUC_HUONG/100 (rounded half up to the cent); T_BNCCT = THANH_TIEN_BH −
T_BHTT; T_BNTT = THANH_TIEN_BV − THANH_TIEN_BH. XML1 totals are exact sums of the lines, so
T_BHTT = T_TONGCHI_BH − T_BNCCT holds too."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def qty(tenths: int) -> Decimal:
    return Decimal(tenths).scaleb(-1) if tenths % 10 else Decimal(tenths // 10)


@dataclass(frozen=True, slots=True)
class Split:
    bv: int  # THANH_TIEN_BV (cents)
    bh: int  # THANH_TIEN_BH
    bhtt: int  # T_BHTT
    bncct: int  # T_BNCCT
    bntt: int  # T_BNTT


def split(tenths: int, price_bv: int, price_bh: int, ratio: int, muc: int) -> Split:
    """Prices in VND, ``ratio`` (TYLE_TT_BH) one of 0, 50, 100, ``muc`` (MUC_HUONG) in percent."""
    bv = tenths * price_bv * 10
    bh = tenths * price_bh * ratio // 10  # exact: ratio is a multiple of 50
    bhtt = (bh * muc + 50) // 100
    return Split(bv, bh, bhtt, bh - bhtt, bv - bh)
