"""What detection hands to alerting: one alarm per signal × place × period.

``khoyte.surveillance.detect`` produces them (algorithms over the warehouse's signals);
``khoyte.surveillance.alerts`` turns them into alerts with a lifecycle, scoped and delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Alarm:
    signal: str  # syndrome or disease group code, e.g. "dengue", "hfmd", "ili" (signals.py)
    algorithm: str  # ears_c1 | ears_c2 | ears_c3 | farrington | farrington_flexible
    place_kind: str  # "commune" | "facility" | "province"
    place: str  # commune code (2025 unit), facility code (MA_CSKCB) or province code
    period_start: date  # first day of the day / ISO week the alarm is about
    frequency: str  # "day" | "week"
    observed: int
    expected: float
    upperbound: float | None
    score: float  # how far above the bound: (observed - upperbound) / max(upperbound, 1)

    @property
    def key(self) -> str:
        """Stable identity for deduplication: the same alarm computed twice is one alert."""
        return (
            f"{self.signal}|{self.algorithm}|{self.place_kind}:{self.place}|"
            f"{self.frequency}:{self.period_start.isoformat()}"
        )
