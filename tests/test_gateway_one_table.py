"""Issue 11 item 5: a portal download sends a visit one table per file. The gateway joins a
table sent alone to the record already stored for the same facility and MA_LK, checks the whole
again, and says so in the receipt; with nothing stored to join, the table cannot be counted and
the receipt says why."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from khoyte.gateway.intake import IntakeService, ensure_schema
from khoyte.gateway.models import RecordHead, RecordVersionRow
from khoyte.standards.serialize import record_from_json
from khoyte.store.crypto import keyring
from khoyte.store.db import session_scope
from tests.factories import record
from tests.gateway_helpers import FAC_A, register_facilities, settings_for
from tests.xmlkit import hoso_files, one


def _service(tmp_path: Path) -> IntakeService:
    svc = IntakeService(settings_for(tmp_path, None))
    ensure_schema(svc.engine)
    register_facilities(svc)
    return svc


def _codes(rec: dict[str, object]) -> dict[str, str]:
    return {f["code"]: f["severity"] for f in rec["findings"]}  # type: ignore[index, union-attr]


def test_a_table_sent_alone_joins_the_stored_record(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    full = record("LKJ1", facility=FAC_A)
    drugs = dict(hoso_files(full))["XML2"]
    assert isinstance(drugs, bytes)
    first = record("LKJ1", facility=FAC_A)
    del first.tables["XML2"]  # the summary and the services first; the drugs follow
    r1 = svc.submit(one(first, FAC_A), facility=FAC_A).data["records"][0]
    assert _codes(r1).get("HOSO.XML2.ABSENT") == "warning"
    r2 = svc.submit(drugs, facility=FAC_A).data
    rec = r2["records"][0]
    assert rec["status"] in ("accepted", "accepted_with_warnings"), rec
    codes = _codes(rec)
    assert codes["HOSO.XML2.MERGED"] == "info"
    assert "HOSO.XML1.MISSING" not in codes
    assert "HOSO.XML2.ABSENT" not in codes  # the drugs are there now
    assert "XML1.T_THUOC.SUM" not in codes  # and they add up to XML1's total
    assert rec["tables"][:3] == ["XML1", "XML2", "XML3"]
    assert (rec["version"], rec["change"]) == (2, "updated")
    with session_scope(svc.sessions) as s:
        head = s.get(RecordHead, (FAC_A, "LKJ1"))
        assert head is not None
        current = s.get(RecordVersionRow, head.current_version_id)
        assert current is not None
        stored = record_from_json(current.record, keyring(s).unseal)
    assert stored.tables["XML2"] == full.tables["XML2"]
    assert stored.tables["XML1"] == full.tables["XML1"]
    assert json.loads(json.dumps(r2))["status"] != "rejected"
    svc.engine.dispose()


def test_a_table_alone_with_nothing_stored_is_refused_with_the_reason(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    drugs = dict(hoso_files(record("LKJ2", facility=FAC_A)))["XML2"]
    assert isinstance(drugs, bytes)
    receipt = svc.submit(drugs, facility=FAC_A).data
    rec = receipt["records"][0]
    assert rec["status"] == "rejected"
    assert _codes(rec)["HOSO.XML1.MISSING"] == "error"
    with session_scope(svc.sessions) as s:
        heads = s.scalars(select(RecordHead)).all()
        assert [h.current_version_id for h in heads] == [None]  # stored, never current
    svc.engine.dispose()
