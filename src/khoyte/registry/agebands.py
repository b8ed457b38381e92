"""The age bands of every report, manifest and dashboard (one definition for synth, warehouse
and analytics): calendar age at admission."""

from __future__ import annotations

AGE_BANDS: tuple[tuple[int, int, str], ...] = (
    (0, 4, "0-4"),
    (5, 14, "5-14"),
    (15, 24, "15-24"),
    (25, 44, "25-44"),
    (45, 59, "45-59"),
    (60, 79, "60-79"),
    (80, 200, "80+"),
)
LABELS: tuple[str, ...] = tuple(label for _, _, label in AGE_BANDS)


def band_of(age: int) -> str | None:
    """The band of an age in years; None outside every band (a negative age)."""
    for lo, hi, label in AGE_BANDS:
        if lo <= age <= hi:
            return label
    return None
