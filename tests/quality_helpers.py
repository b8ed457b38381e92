"""A small dirty province for the data-quality workspace's tests: two facilities, 36 records
each over three months, a seeded share of them with defects the validator finds (errors,
warnings, an identifying value), three records resent corrected, and the exporter convention
GDV_ZERO named on its findings as the convention recognition (issue 11 item 2) will."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from khoyte.gateway.models import FindingRow
from khoyte.services import Services
from khoyte.standards.model import Record
from khoyte.standards.writer import envelope
from tests.factories import record
from tests.gateway_helpers import FAC_A, FAC_B

DEFECTS: dict[str, tuple[str, Any]] = {
    "formula": ("T_BHTT", Decimal("1.00")),  # XML1.T_BHTT.FORMULA (payer: error)
    "cccd": ("SO_CCCD", "082099526620"),  # XML1.SO_CCCD.MISMATCH: warning, identifying
    "icd": ("MA_BENH_CHINH", ""),  # XML1.MA_BENH_CHINH.REQUIRED (payer: error)
    "gdv": ("T_BHTT_GDV", Decimal("0")),  # XML1.T_BHTT_GDV.SUM; convention GDV_ZERO
    "loai": ("MA_LOAI_KCB", ""),  # no visit type: rejected under every profile
}


def dirty_record(rng: random.Random, facility: str, i: int) -> Record:
    start = datetime(2025, rng.choice((8, 9, 10)), rng.randint(1, 28), 8, 0)
    rec: Record = record(f"LK{facility}{i:03d}", facility=facility, start=start)
    kind = rng.choice((None, None, *DEFECTS))
    if kind is not None:
        field, value = DEFECTS[kind]
        rec.episode.values[field] = value
    return rec


def _post(client: TestClient, token: str, body: bytes) -> None:
    r = client.post(
        "/api/v1/submissions",
        content=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/xml"},
    )
    assert r.status_code in (200, 201), r.text


def load(client: TestClient, services: Services, tokens: dict[str, str], seed: int = 11) -> None:
    rng = random.Random(seed)
    for facility in (FAC_A, FAC_B):
        recs = [dirty_record(rng, facility, i) for i in range(36)]
        for k in range(0, len(recs), 12):
            _post(client, tokens[facility], envelope(recs[k : k + 12], facility, date(2025, 11, 2)))
        # a corrected resend of the first three: the latest version is what counts
        fixed = [record(f"LK{facility}{i:03d}", facility=facility,
                        start=datetime(2025, 9, 15, 8, 0)) for i in range(3)]  # fmt: skip
        _post(client, tokens[facility], envelope(fixed, facility, date(2025, 11, 3)))
    with services.engine.begin() as conn:
        conn.execute(
            update(FindingRow)
            .where(FindingRow.code == "XML1.T_BHTT_GDV.SUM")
            .values(convention="GDV_ZERO")
        )
