"""The health record's papers: a referral says whether the destination saw the person within
the dashboard's follow-up window (the same rule as ``analytics.people``); discharge papers
(XML7) are a section of their own."""

from __future__ import annotations

from typing import Any

from khoyte.analytics.people import FOLLOWUP_DAYS
from khoyte.persons import record


def _visits(dest_day: str) -> list[dict[str, Any]]:
    return [
        {"MA_CSKCB": "82010", "MA_LK": "R1", "NGAY_VAO": "2025-03-01T08:00:00",
         "NGAY_RA": "2025-03-02T09:00:00",
         "referrals": [{"MA_NOI_DEN": "82003", "NGAY_RA": "2025-03-02T09:00:00"}]},
        {"MA_CSKCB": "82003", "MA_LK": "D1", "NGAY_VAO": dest_day},
        {"MA_CSKCB": "82001", "MA_LK": "X1", "NGAY_VAO": "2025-03-03T08:00:00"},
    ]  # fmt: skip


def test_a_referral_is_followed_up_within_the_dashboards_window() -> None:
    assert FOLLOWUP_DAYS == 7  # the window the docs state
    for day, seen in (("2025-03-02T15:00:00", True), ("2025-03-09T08:00:00", True),
                      ("2025-03-10T08:00:00", False), ("2025-03-01T08:00:00", False)):  # fmt: skip
        visits = _visits(day)
        record._followed_up(visits)
        assert visits[0]["referrals"][0]["followed_up"] is seen, day


def test_discharge_papers_are_a_section() -> None:
    table, names = record.SECTIONS["discharges"]
    assert table == "XML7"
    assert {"NGAY_RA", "CHAN_DOAN_RV", "SO_NGAY_NGHI"} <= set(names)
    assert "NGAY_RA" in record.SECTIONS["referrals"][1]
