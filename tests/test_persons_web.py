"""The health record and the review queue over HTTP: the treating relationship, break-glass
(audited and flagged), every view in the audit trail, the FHIR R4 Bundle validated with
``fhir.resources``; then the review queue and the health record page in real Chromium, decided
from the keyboard."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from khoyte.gateway.facilities import add_facility
from khoyte.gateway.intake import IntakeService
from khoyte.persons.index import PersonIndex
from khoyte.persons.models import PersonRecord, ReviewItem
from khoyte.security.models import AuditEntry
from khoyte.security.service import utcnow
from khoyte.standards.model import BirthDate, Record
from khoyte.standards.writer import envelope
from khoyte.store.db import session_scope
from tests.browser_helpers import Person, serve
from tests.factories import record
from tests.security_helpers import Env, make_env

OTHER = {"HO_TEN": "Trần Văn Bình", "SO_CCCD": "082080000077", "NGAY_SINH": BirthDate(1980, 2, 1),
         "DIEN_THOAI": "0987000111", "MA_THE_BHYT": ["HT2828200000077"]}  # fmt: skip


def _rec(ma_lk: str, facility: str, day: int, **identity: Any) -> Record:
    r = record(ma_lk, facility=facility, start=datetime(2025, 8, day, 8, 0))
    r.episode.values.update(identity)
    return r


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    mp = pytest.MonkeyPatch()
    e = make_env(tmp_path_factory.mktemp("persons-web"), mp)
    mp.undo()
    e.app.state.security.clock = utcnow  # real time: the browser signs in
    intake: IntakeService = e.app.state.services.intake
    with session_scope(intake.sessions) as s:
        for code, commune in (("82001", "28261"), ("82003", "28264")):
            add_facility(s, code, f"Cơ sở {code}", "huyen", commune)
    # One person seen at both facilities; another only at 82003.
    for facility, recs in (("82001", [_rec("A1", "82001", 1)]),
                           ("82003", [_rec("A2", "82003", 9), _rec("B1", "82003", 3, **OTHER)])):  # fmt: skip
        intake.submit(envelope(recs, facility, date(2025, 8, 28)), facility=facility)
    with session_scope(intake.sessions) as s:
        PersonIndex().catch_up(s, intake.engine)
        hid = {r.ma_lk: r.health_id for r in s.scalars(select(PersonRecord))}
        # an uncertain pair for the queue (the linkage that makes them is test_persons_index's)
        for a, b in (("82001|A1", "82003|B1"), ("82003|A2", "82003|B1")):
            s.add(ReviewItem(left_key=a, right_key=b, match_weight=5.0, reason="uncertain",
                             weights=json.dumps({"name": -3.0, "dob": -6.2, "sex": 1.0}),
                             status="open", created_at=datetime.now(UTC)))  # fmt: skip
    e.hid = hid  # type: ignore[attr-defined]
    e.add_user("bs-a", ["facility_staff"], ["facility:82001"])
    e.add_user("chuyenvien", ["doh_specialist"], ["province"])
    yield e
    e.app.state.services.close()


def _get(env: Env, user: str, url: str) -> Any:
    return env.client().get(url, headers={"Authorization": f"Bearer {env.token(user)}"})


def _audit(env: Env) -> list[AuditEntry]:
    with session_scope(env.sec.factory) as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def test_health_record_treating_relationship_and_break_glass(env: Env) -> None:
    hid: dict[str, str] = env.hid  # type: ignore[attr-defined]
    assert hid["A1"] == hid["A2"] != hid["B1"]  # the same person across the two facilities
    r = _get(env, "bs-a", f"/api/v1/persons/{hid['A1']}")
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["facilities"] == ["82001", "82003"]  # the whole history, not only 82001's
    assert [v["MA_LK"] for v in rec["visits"]] == ["A1", "A2"]  # a timeline, in date order
    assert rec["demographics"]["HO_TEN"] == "Nguyễn Thị Ánh Tuyết"
    assert rec["break_glass"] is False
    # B was never treated at 82001: 404 as for nobody, unless break-glass with a reason.
    assert _get(env, "bs-a", f"/api/v1/persons/{hid['B1']}").status_code == 404
    short = _get(env, "bs-a", f"/api/v1/persons/{hid['B1']}?ly_do=vi%20sao")
    assert short.status_code == 404
    glass = _get(
        env,
        "bs-a",
        f"/api/v1/persons/{hid['B1']}?ly_do=C%E1%BA%A5p%20c%E1%BB%A9u%20ban%20%C4%91%C3%AAm",
    )
    assert glass.status_code == 200
    assert glass.json()["break_glass"] is True
    assert _get(env, "bs-a", "/api/v1/persons/ZZZZZZZZZZZZ").status_code == 404
    # Every view is in the audit trail; break-glass flagged with its reason.
    entries = _audit(env)
    views = [e for e in entries if e.action in ("person.view", "person.break_glass")]
    assert [(e.action, e.target) for e in views] == [
        ("person.view", f"person:{hid['A1']}"), ("person.break_glass", f"person:{hid['B1']}")]  # fmt: skip
    flagged = json.loads(views[-1].details)
    assert flagged["flagged"] is True
    assert flagged["reason"] == "Cấp cứu ban đêm"
    denied = [e for e in entries if e.action == "scope.denied" and hid["B1"] in e.target]
    assert len(denied) == 2
    # The DoH specialist matches records but does not read health records.
    assert _get(env, "chuyenvien", f"/api/v1/persons/{hid['A1']}").status_code == 403


def test_fhir_bundle_validates(env: Env) -> None:
    from fhir.resources.R4B.bundle import Bundle

    hid: dict[str, str] = env.hid  # type: ignore[attr-defined]
    r = _get(env, "bs-a", f"/api/v1/persons/{hid['A1']}/fhir")
    assert r.status_code == 200, r.text
    bundle = Bundle.model_validate(r.json())
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    assert kinds[0] == "Patient"
    assert kinds.count("Encounter") == 2
    assert "Condition" in kinds
    patient = bundle.entry[0].resource
    assert patient.birthDate.isoformat() == "1990-05-03"
    assert patient.gender == "female"
    assert {i.value for i in patient.identifier} >= {hid["A1"], "082190001234"}
    assert any(e.action == "person.view" and json.loads(e.details)["view"] == "fhir"
               for e in _audit(env))  # fmt: skip


def test_pdf_reads_vietnamese(env: Env) -> None:
    """The PDF export: the text extracted from it (pypdf) has the name and the drug with their
    diacritics, both visits, in order; the view is audited like the others; out of reach, 404."""
    import io
    import unicodedata

    from pypdf import PdfReader

    hid: dict[str, str] = env.hid  # type: ignore[attr-defined]
    r = _get(env, "bs-a", f"/api/v1/persons/{hid['A1']}/pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(r.content))
    text = unicodedata.normalize("NFC", "\n".join(p.extract_text() for p in reader.pages))
    assert "Nguyễn Thị Ánh Tuyết" in text
    assert "Hồ sơ sức khỏe cá nhân" in text
    assert "Ngày sinh / Date of birth: 03/05/1990" in text
    assert "Paracetamol 500mg" in text
    assert text.index("01/08/2025") < text.index("09/08/2025")  # the visits in date order
    fonts = [f.get_object() for p in reader.pages for f in p["/Resources"]["/Font"].values()]
    # the embedded TrueType (a base-14 font has no Vietnamese): its descriptor carries the file
    descendants = [d.get_object() for f in fonts for d in f.get("/DescendantFonts", [])]
    assert any("Roboto" in str(d["/BaseFont"]) and "/FontFile2" in d["/FontDescriptor"]
               for d in descendants)  # fmt: skip
    assert any(e.action == "person.view" and json.loads(e.details)["view"] == "pdf"
               for e in _audit(env))  # fmt: skip
    assert _get(env, "bs-a", f"/api/v1/persons/{hid['B1']}/pdf").status_code == 404


@pytest.mark.slow
@pytest.mark.browser
def test_review_queue_and_record_page_in_chromium(env: Env, browser: Any) -> None:
    hid: dict[str, str] = env.hid  # type: ignore[attr-defined]
    with serve(env.app) as base:
        doh = Person(browser)
        doh.sign_in(base, "chuyenvien")
        doh.page.goto(f"{base}/persons/review")
        assert doh.page.get_attribute("html", "lang") == "vi"
        assert "/persons/review" in doh.page.eval_on_selector_all(
            "#site-nav a", "els => els.map(e => e.getAttribute('href').split('?')[0])")  # fmt: skip
        items = doh.page.locator(".review-item")
        assert items.count() == 2
        first = items.nth(0)
        assert first.locator("tr[data-field=ho_ten] td").all_inner_texts() == [
            "Nguyễn Thị Ánh Tuyết", "Trần Văn Bình"]  # fmt: skip
        assert first.locator(".reasons li").count() == 3
        # S on the first pair: same person; the page comes back with one pair left.
        doh.page.keyboard.press("s")
        doh.page.wait_for_url(f"{base}/persons/review")
        # a locator waits without evaluating a string (the page's CSP forbids eval, and
        # Chromium 156 applies it to wait_for_function's expression)
        expect(doh.page.locator(".review-item")).to_have_count(1)
        doh.page.wait_for_load_state("load")  # the new page's key handler is in place
        doh.page.keyboard.press("d")  # the other: different people
        doh.page.wait_for_selector("#review-empty")
        assert doh.fits()
        assert not doh.errors, doh.errors
        doh.close()
        staff = Person(browser, 390, 844)
        staff.sign_in(base, "bs-a")
        staff.page.goto(f"{base}/persons/{hid['A1']}")
        assert staff.page.inner_text("#health-id") == hid["A1"]
        rows = staff.page.locator("#timeline tbody tr")
        assert rows.count() >= 2
        assert staff.page.locator("#break-glass").count() == 0
        assert not staff.errors, staff.errors
        staff.close()
    with session_scope(env.sec.factory) as s:
        decisions = list(s.scalars(select(ReviewItem.status).order_by(ReviewItem.id)))
    assert decisions == ["same", "distinct"]


def test_a_new_record_is_linked_when_it_is_received(tmp_path: Any) -> None:
    from khoyte.gateway.facilities import new_token
    from khoyte.persons.index import store_identities

    mp = pytest.MonkeyPatch()
    e = make_env(tmp_path, mp)
    mp.undo()
    intake: IntakeService = e.app.state.services.intake
    with session_scope(intake.sessions) as s:
        add_facility(s, "82001", "Cơ sở 82001", "huyen", "28261")
        token = new_token(s, "82001")
    post = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    client = e.client()
    body = envelope([_rec("N1", "82001", 1), _rec("N2", "82001", 2, **OTHER)], "82001",
                    date(2025, 8, 28))  # fmt: skip
    assert client.post("/api/v1/submissions", content=body, headers=post).status_code == 201
    with session_scope(intake.sessions) as s:
        assert s.scalars(select(PersonRecord)).all() == []  # no model yet: the batch links
        PersonIndex().batch(s, store_identities(intake.engine))
        first = {r.ma_lk: r.health_id for r in s.scalars(select(PersonRecord))}
    body = envelope([_rec("N3", "82001", 20)], "82001", date(2025, 8, 28))
    assert client.post("/api/v1/submissions", content=body, headers=post).status_code == 201
    with session_scope(intake.sessions) as s:
        now = {r.ma_lk: (r.health_id, r.method) for r in s.scalars(select(PersonRecord))}
    assert now["N3"] == (first["N1"], "cccd")  # linked on arrival, by the CCCD it carries
    e.app.state.services.close()


def test_the_linker_links_in_the_background_what_any_process_stored(tmp_path: Any) -> None:
    """With the app running (its lifespan), linking is off the request path: the receipt does
    not wait for it; a record stored by another process (the intake tier, ``khoyte ingest``:
    here intake called directly) is linked within ``persons_link_seconds``."""
    import time

    from fastapi.testclient import TestClient

    from khoyte.gateway.facilities import new_token
    from khoyte.persons.index import store_identities

    mp = pytest.MonkeyPatch()
    e = make_env(tmp_path, mp, persons_link_seconds=0.2, warehouse_refresh_seconds=0)
    mp.undo()
    intake: IntakeService = e.app.state.services.intake
    with session_scope(intake.sessions) as s:
        add_facility(s, "82001", "Cơ sở 82001", "huyen", "28261")
        token = new_token(s, "82001")
    post = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    first = envelope([_rec("B1", "82001", 1), _rec("B2", "82001", 2, **OTHER)], "82001",
                     date(2025, 8, 28))  # fmt: skip
    intake.submit(first)
    with session_scope(intake.sessions) as s:
        PersonIndex().batch(s, store_identities(intake.engine))  # trains the model
        health = {r.ma_lk: r.health_id for r in s.scalars(select(PersonRecord))}

    def linked(ma_lk: str) -> tuple[str, str] | None:
        with session_scope(intake.sessions) as s:
            row = s.scalars(select(PersonRecord).where(PersonRecord.ma_lk == ma_lk)).first()
            return (row.health_id, row.method) if row is not None else None

    def wait_for(ma_lk: str) -> tuple[str, str] | None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and linked(ma_lk) is None:
            time.sleep(0.05)
        return linked(ma_lk)

    with TestClient(e.app) as client:  # the lifespan starts the linker
        [linker] = [w for w in e.app.state.services.workers if hasattr(w, "linked")]
        assert linker.running
        body = envelope([_rec("B3", "82001", 20)], "82001", date(2025, 8, 28))
        assert client.post("/api/v1/submissions", content=body, headers=post).status_code == 201
        assert wait_for("B3") == (health["B1"], "cccd")
        # stored by "another process": no hook wakes the linker, its interval does
        intake.submit(envelope([_rec("B4", "82001", 21, **OTHER)], "82001", date(2025, 8, 28)))
        assert wait_for("B4") == (health["B2"], "cccd")
    assert not linker.running  # stopped with the app
    e.app.state.services.close()
