"""Intake takes its time from an injected clock; 29 February is a day like any other.

``received.replace(year=received.year + 10)`` raised ``ValueError`` on 29 February (HTTP 500,
no receipt); retention and "the same period last year" now share one tested helper."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from khoyte.analytics.filters import Filters
from khoyte.config import Settings
from khoyte.dates import add_years
from khoyte.gateway.models import Submission
from khoyte.gateway.versions import aware
from khoyte.services import build_services
from tests.gateway_helpers import claim

LEAP_DAY = datetime(2028, 2, 29, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (date(2028, 2, 29), 10, date(2038, 2, 28)),
        (date(2028, 2, 29), 4, date(2032, 2, 29)),  # leap to leap keeps the day
        (date(2028, 2, 29), -1, date(2027, 2, 28)),
        (date(2027, 3, 1), 1, date(2028, 3, 1)),
        (datetime(2028, 2, 29, 23, 59, tzinfo=UTC), 10, datetime(2038, 2, 28, 23, 59, tzinfo=UTC)),
    ],
)
def test_add_years(day: date, years: int, expected: date) -> None:
    assert add_years(day, years) == expected
    assert type(add_years(day, years)) is type(day)


def test_a_submission_received_on_29_february_gets_its_receipt(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path), clock=lambda: LEAP_DAY, warehouse=False)
    try:
        receipt = services.intake.submit(claim("LK0229"))
        assert receipt.created
        assert receipt.data["status"] == "accepted"
        assert receipt.data["received_at"].startswith("2028-02-29T09:30:00")
        with services.sessions() as s:
            sub = s.scalars(select(Submission)).one()
        assert aware(sub.received_at) == LEAP_DAY
        assert aware(sub.retain_until) == datetime(2038, 2, 28, 9, 30, tzinfo=UTC)  # 10 years
    finally:
        services.close()


def test_last_year_of_a_period_ending_on_29_february() -> None:
    shifted = Filters(date(2028, 2, 1), date(2028, 2, 29)).shifted_year(1)
    assert (shifted.date_from, shifted.date_to) == (date(2027, 2, 1), date(2027, 2, 28))
