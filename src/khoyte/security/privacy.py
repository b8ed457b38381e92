"""Small-count suppression for exported or shared aggregates.

A count from 1 to ``threshold - 1`` could point at a person (one patient of a rare disease in
one commune), so it is replaced by ``None`` ("< threshold" in a page or file). When only one
cell of a group is hidden and the group's total is published, the hidden value could be
recovered by subtraction, so the smallest other non-zero cell is hidden too (complementary
suppression). Zero is not suppressed: it says nobody.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def suppress(
    counts: Mapping[K, int], threshold: int, complementary: bool = True
) -> dict[K, int | None]:
    """``counts`` with every small count replaced by ``None`` (``threshold`` from the setting
    ``small_count_threshold``; 0 or 1 turns suppression off)."""
    out: dict[K, int | None] = dict(counts)
    if threshold <= 1:
        return out
    hidden = [k for k, v in counts.items() if 0 < v < threshold]
    for k in hidden:
        out[k] = None
    if complementary and len(hidden) == 1:
        rest = sorted(((v, str(k)), k) for k, v in counts.items() if v > 0 and k not in hidden)
        if rest:
            out[rest[0][1]] = None
    return out
