"""The authorization matrix, generated from the application's route table: every route × every
role (and anonymous, and a user without scope) × in-scope / out-of-scope → the expected outcome.

``POLICY`` classifies every route; a route missing from it (or declaring another permission
than the table says) fails ``test_every_route_is_classified``. When components are merged, add
their routes to ``POLICY`` (and a value for any new path parameter to ``PATH_VALUES``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from khoyte.access import Permission
from khoyte.gateway.facilities import add_facility, new_token
from khoyte.gateway.intake import IntakeService
from khoyte.persons.index import PersonIndex
from khoyte.persons.models import PersonRecord
from khoyte.security.grants import GUARDED_ROLES
from khoyte.security.middleware import RouteInfo, route_table
from khoyte.security.models import AuditEntry
from khoyte.security.roles import ROLES
from khoyte.standards.model import BirthDate
from khoyte.standards.writer import envelope
from khoyte.store.db import session_scope
from tests import security_sample
from tests.factories import record
from tests.gateway_helpers import claim, claim_with_identifying_findings
from tests.security_helpers import Env, make_env, totp_now
from tests.security_sample import FACILITIES, VISIT_ROWS

pytestmark = pytest.mark.slow  # every role × scope × route: over a minute

P = Permission


@dataclass(frozen=True)
class Rule:
    permission: Permission
    scoped: str | None = None  # the path parameter naming an org unit: out of scope → 404
    success: int = 200  # what an allowed GET answers


POLICY: dict[tuple[str, str], Rule] = {
    # security
    ("GET", "/login"): Rule(P.PUBLIC),
    ("POST", "/login"): Rule(P.PUBLIC),
    ("POST", "/logout"): Rule(P.AUTHENTICATED),
    ("POST", "/api/v1/auth/logout"): Rule(P.AUTHENTICATED),
    ("POST", "/api/v1/auth/token"): Rule(P.PUBLIC),
    ("GET", "/api/v1/auth/me"): Rule(P.AUTHENTICATED),
    ("GET", "/account"): Rule(P.AUTHENTICATED),
    ("GET", "/api/v1/admin/users"): Rule(P.ADMIN_USERS),
    ("GET", "/admin/users"): Rule(P.ADMIN_USERS),
    ("POST", "/admin/users"): Rule(P.ADMIN_USERS),
    ("POST", "/admin/users/{username}/access"): Rule(P.ADMIN_USERS),
    ("POST", "/admin/users/{username}/active"): Rule(P.ADMIN_USERS),
    ("POST", "/admin/users/{username}/reset"): Rule(P.ADMIN_USERS),
    ("GET", "/api/v1/admin/grants"): Rule(P.ADMIN_USERS),
    ("POST", "/admin/grants/{grant_id}/approve"): Rule(P.ADMIN_USERS),
    ("POST", "/admin/grants/{grant_id}/reject"): Rule(P.ADMIN_USERS),
    ("GET", "/api/v1/audit"): Rule(P.VIEW_AUDIT),
    ("GET", "/api/v1/audit/verify"): Rule(P.VIEW_AUDIT),
    ("GET", "/audit"): Rule(P.VIEW_AUDIT),
    # registry (province-wide reference data for IT administrators, no clinical data)
    ("GET", "/api/v1/admin/facilities"): Rule(P.ADMIN_FACILITIES),
    ("GET", "/api/v1/admin/facilities/{code}"): Rule(P.ADMIN_FACILITIES),
    ("GET", "/admin/facilities"): Rule(P.ADMIN_FACILITIES),
    ("GET", "/admin/facilities/{code}"): Rule(P.ADMIN_FACILITIES),
    ("POST", "/admin/facilities"): Rule(P.ADMIN_FACILITIES),
    ("POST", "/admin/facilities/{code}"): Rule(P.ADMIN_FACILITIES),
    ("POST", "/admin/facilities/paste"): Rule(P.ADMIN_FACILITIES),
    # persons (the master person index; a health record is scoped by the treating relationship)
    ("GET", "/api/v1/persons/review"): Rule(P.LINK_PERSONS),
    ("GET", "/persons/review"): Rule(P.LINK_PERSONS),
    ("POST", "/persons/review/{review_id}"): Rule(P.LINK_PERSONS),
    ("GET", "/api/v1/persons/{health_id}"): Rule(P.VIEW_RECORDS, "health_id"),
    ("GET", "/api/v1/persons/{health_id}/fhir"): Rule(P.VIEW_RECORDS, "health_id"),
    ("GET", "/api/v1/persons/{health_id}/pdf"): Rule(P.VIEW_RECORDS, "health_id"),
    ("GET", "/persons/{health_id}"): Rule(P.VIEW_RECORDS, "health_id"),
    # data subjects' requests (Decree 13/2023): the province's register
    ("GET", "/api/v1/subject-requests"): Rule(P.SUBJECT_REQUESTS),
    ("POST", "/api/v1/subject-requests"): Rule(P.SUBJECT_REQUESTS),
    ("POST", "/api/v1/subject-requests/{subject_request_id}/answer"): Rule(P.SUBJECT_REQUESTS),
    # gateway
    ("POST", "/api/v1/submissions"): Rule(P.SUBMIT),
    ("POST", "/api/v1/checkins"): Rule(P.SUBMIT),
    ("POST", "/api/v1/assessments"): Rule(P.SUBMIT),
    ("GET", "/api/v1/submissions"): Rule(P.VIEW_SUBMISSIONS),
    ("GET", "/api/v1/submissions/{submission_id}"): Rule(P.VIEW_SUBMISSIONS, "submission_id"),
    ("GET", "/api/v1/records/{facility}/{ma_lk:path}"): Rule(P.VIEW_SUBMISSIONS, "facility"),
    ("GET", "/healthz"): Rule(P.PUBLIC),
    ("GET", "/docs"): Rule(P.PUBLIC),
    ("GET", "/readyz"): Rule(P.PUBLIC),
    ("GET", "/metrics"): Rule(P.PUBLIC),
    # dashboard (aggregates only: never scoped by a path parameter, filtered by the caller's scope)
    ("GET", "/"): Rule(P.VIEW_DASHBOARD, success=303),  # to the KCB dashboard
    ("GET", "/kcb"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/completeness"): Rule(P.DATA_QUALITY),
    ("GET", "/api/v1/dashboards/kcb"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/dashboards/kcb/daily"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/dashboards/kcb/people"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/dashboards/kcb/breakdown"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/dashboards/completeness"): Rule(P.DATA_QUALITY),
    ("GET", "/api/v1/dashboards/kcb/export.{fmt}"): Rule(P.EXPORT),
    ("GET", "/api/v1/dashboards/completeness/export.{fmt}"): Rule(P.EXPORT),
    # data quality (issue 11): aggregates for specialists, records for whoever may see submissions
    ("GET", "/quality"): Rule(P.DATA_QUALITY),
    ("GET", "/findings"): Rule(P.VIEW_SUBMISSIONS),
    ("GET", "/api/v1/quality"): Rule(P.DATA_QUALITY),
    ("GET", "/api/v1/quality/months"): Rule(P.DATA_QUALITY),
    ("GET", "/api/v1/quality/records"): Rule(P.VIEW_SUBMISSIONS),
    ("GET", "/api/v1/quality/export.{fmt}"): Rule(P.EXPORT),
    ("GET", "/api/v1/quality/records/export.{fmt}"): Rule(P.VIEW_SUBMISSIONS),
    # alerts, inbox, report requests, the phone view (khoyte.surveillance)
    ("GET", "/api/v1/alerts"): Rule(P.ALERTS),
    ("GET", "/api/v1/alerts/{alert_id}"): Rule(P.ALERTS, "alert_id"),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): Rule(P.ALERTS),  # body first: 422
    ("POST", "/api/v1/alerts/{alert_id}/close"): Rule(P.ALERTS),
    ("GET", "/api/v1/inbox"): Rule(P.AUTHENTICATED),
    ("GET", "/api/v1/admin/dead-letters"): Rule(P.ADMIN_FACILITIES),
    ("POST", "/api/v1/admin/dead-letters/{outbox_id}/retry"): Rule(P.ADMIN_FACILITIES),
    ("GET", "/api/v1/report-requests"): Rule(P.AUTHENTICATED),
    ("POST", "/api/v1/report-requests"): Rule(P.REQUEST_REPORTS),
    ("POST", "/api/v1/report-answers"): Rule(P.ANSWER_REPORTS),
    ("GET", "/api/v1/report-requests/{request_id}/file"): Rule(P.REQUEST_REPORTS, "request_id"),
    ("GET", "/alerts"): Rule(P.ALERTS),
    # the report requests page: scoped lists (no unit in the path); asking needs the permission
    ("GET", "/requests"): Rule(P.AUTHENTICATED),
    ("POST", "/requests"): Rule(P.REQUEST_REPORTS),
    ("POST", "/alerts/{alert_id}/{step}"): Rule(P.ALERTS, "alert_id"),
    ("GET", "/m/"): Rule(P.ALERTS),
    # alert delivery: recipients' addresses and webhook subscriptions per scope (IT staff)
    ("GET", "/admin/alert-delivery"): Rule(P.ADMIN_USERS),
    ("POST", "/admin/alert-delivery/contact"): Rule(P.ADMIN_USERS),
    ("POST", "/admin/alert-delivery/webhooks"): Rule(P.ADMIN_USERS),
    ("GET", "/m/manifest.webmanifest"): Rule(P.PUBLIC),
    ("GET", "/m/sw.js"): Rule(P.PUBLIC),
    # epidemic watch: signals by residence commune, filtered by the caller's scope (no path
    # parameter names a unit; a commune outside the scope reads as no cases)
    ("GET", "/api/v1/signals"): Rule(P.ALERTS),
    ("GET", "/epidemic"): Rule(P.ALERTS),
    ("GET", "/api/v1/signals/export.{fmt}"): Rule(P.EXPORT),  # and `alerts`, checked inside
    # aggregate reporting (issue 13): forms are filtered by the caller's scope, never a path
    # parameter; a form without its period is a 422 (the parameter is required)
    ("GET", "/api/v1/forms"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/forms/{form}"): Rule(P.VIEW_DASHBOARD, success=422),
    ("GET", "/api/v1/forms/{form}.xlsx"): Rule(P.EXPORT, success=422),
    ("POST", "/api/v1/aggregate/uploads"): Rule(P.ENTER_AGGREGATE),
    ("GET", "/api/v1/dataValueSets"): Rule(P.VIEW_DASHBOARD, success=422),
    ("POST", "/api/v1/dataValueSets"): Rule(P.ENTER_AGGREGATE),
    # aggregate quality and approval: scoped by the org unit in the query or body (404 out of
    # scope, tested in tests/test_aggregate_quality.py); without parameters a 422
    ("GET", "/api/v1/aggregate/quality"): Rule(P.DATA_QUALITY, success=422),
    ("POST", "/api/v1/aggregate/approvals"): Rule(P.APPROVE_AGGREGATE),
    ("POST", "/api/v1/aggregate/approvals/unlock"): Rule(P.UNLOCK_AGGREGATE),
    # IOC dashboards of groups 4–8: filtered by the caller's scope (an org unit outside it in the
    # query answers 404, tested in tests/test_aggregate_ioc.py); the group names no org unit
    ("GET", "/ioc"): Rule(P.VIEW_DASHBOARD, success=303),  # to the first group
    ("GET", "/ioc/{group}"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/ioc"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/ioc/{group}"): Rule(P.VIEW_DASHBOARD),
    # web data entry: as uploads (enter_aggregate, org unit of the scope in the query or body);
    # the form's JSON without its report is a 422 (required parameters)
    ("GET", "/aggregate/entry"): Rule(P.ENTER_AGGREGATE),
    ("GET", "/api/v1/aggregate/entry"): Rule(P.ENTER_AGGREGATE, success=422),
    ("POST", "/api/v1/aggregate/entry"): Rule(P.ENTER_AGGREGATE),
    # plans (targets): read in the caller's scope (an org unit outside it in the query answers
    # 404, tested in tests/test_aggregate_targets.py); written by a whole-province scope only
    # (403 otherwise); downloads are exports; without parameters a write answers 422
    ("GET", "/aggregate/targets"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/aggregate/targets"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/aggregate/targets.csv"): Rule(P.EXPORT),
    ("GET", "/api/v1/aggregate/targets.xlsx"): Rule(P.EXPORT),
    ("PUT", "/api/v1/aggregate/targets"): Rule(P.ENTER_AGGREGATE),
    ("DELETE", "/api/v1/aggregate/targets"): Rule(P.ENTER_AGGREGATE),
    ("POST", "/api/v1/aggregate/targets/uploads"): Rule(P.ENTER_AGGREGATE),
    # the sample component of these tests (scoped routes over an ORM model)
    ("GET", "/api/v1/sample/facilities/{code}/submissions"): Rule(P.VIEW_SUBMISSIONS, "code"),
    ("POST", "/api/v1/sample/facilities/{code}/submissions"): Rule(P.SUBMIT, "code"),
    ("GET", "/api/v1/sample/records/{code}"): Rule(P.VIEW_RECORDS, "code"),
    ("GET", "/api/v1/sample/aggregates"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/sample/visits"): Rule(P.VIEW_DASHBOARD),
    ("GET", "/api/v1/sample/visits-async"): Rule(P.VIEW_DASHBOARD),
}

# Values for path parameters: in scope of the matrix users (facility 82001), and out of it.
PATH_VALUES: dict[str, dict[str, str]] = {
    "code": {"in": "82001", "out": "82003"},
    "username": {"in": "nobody-here", "out": "nobody-here"},
    "grant_id": {"in": "999999", "out": "999999"},
    "facility": {"in": "82001", "out": "82003"},
    "ma_lk:path": {"in": "MX0001", "out": "MX0001"},
    "fmt": {"in": "csv", "out": "csv"},
    "submission_id": {},  # filled by the `env` fixture: a submission of 82001 and one of 82003
    "alert_id": {},  # filled by the `env` fixture: an alert about 82001 and one about 82003
    "request_id": {},  # filled by the `env` fixture: report requests to 82001 and to 82003
    "outbox_id": {},  # filled by the `env` fixture: a dead letter
    "step": {"in": "acknowledge", "out": "acknowledge"},
    "form": {"in": "b9", "out": "b9"},
    "group": {"in": "dan_so", "out": "tai_chinh"},
    "review_id": {"in": "999999", "out": "999999"},
    "subject_request_id": {"in": "999999", "out": "999999"},
    "health_id": {},  # filled by the `env` fixture: a person treated at 82001, one only at 82003
}
MATRIX_SCOPE = ["facility:82001"]
CLINICAL = {P.VIEW_SUBMISSIONS, P.VIEW_RECORDS, P.VIEW_DASHBOARD, P.EXPORT, P.DATA_QUALITY}
# who asks: nobody, a user of each role, a user without scope, a facility's API credential
FACILITY_TOKEN: dict[str, str] = {}
PII: dict[str, str] = {}  # a stored submission of 82001 whose findings quote a CCCD and a card
CLASSES = ["anonymous", *ROLES, "no_scope", "facility"]
TOTP_URIS: dict[str, str] = {}
# Signing out revokes the credential presented (F14): the matrix signs in again after these.
REVOKING = {("POST", "/logout"), ("POST", "/api/v1/auth/logout")}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    mp = pytest.MonkeyPatch()
    e = make_env(tmp_path_factory.mktemp("matrix"), mp, components=[security_sample.install])
    mp.undo()
    # the gateway's side: the sample's facilities with a credential for 82001, and one stored
    # submission (record MX0001) of an in-scope and of an out-of-scope facility
    service: IntakeService = e.app.state.services.intake
    with session_scope(service.sessions) as s:
        for code, commune in FACILITIES.items():
            add_facility(s, code, f"Cơ sở {code}", "huyen", commune)
        FACILITY_TOKEN["82001"] = new_token(s, "82001")
    ids = {
        code: service.submit(claim("MX0001", facility=code), facility=code).id
        for code in ("82001", "82003")
    }
    PATH_VALUES["submission_id"] = {"in": ids["82001"], "out": ids["82003"]}
    _surveillance_rows(e)
    PII["submission"] = service.submit(
        claim_with_identifying_findings("MX0002", "82001"), facility="82001"
    ).id
    other = record("MX0003", facility="82003")
    other.episode.values.update(HO_TEN="Trần Văn Bình", SO_CCCD="082080000077",
                                NGAY_SINH=BirthDate(1980, 2, 1), DIEN_THOAI="0987000111",
                                MA_THE_BHYT=["HT2828200000077"])  # fmt: skip
    service.submit(envelope([other], "82003", date(2025, 8, 28)), facility="82003")
    with session_scope(service.sessions) as s:
        PersonIndex().catch_up(s, service.engine)
        hid = {r.ma_lk: r.health_id for r in s.scalars(select(PersonRecord))}
    PATH_VALUES["health_id"] = {"in": hid["MX0001"], "out": hid["MX0003"]}
    return e


def _surveillance_rows(e: Env) -> None:
    """An alert and an answered report request about 82001 (in scope) and 82003 (out), and a
    dead letter, for the alert routes' path parameters."""
    import hashlib

    from khoyte.surveillance.tables import AlertRow, OutboxRow, ReportRequest

    now = e.clock()
    content = b"MA_LK,MA_BENH\n"
    sha = hashlib.sha256(content).hexdigest()
    (e.settings.data_dir / "reports").mkdir(parents=True, exist_ok=True)
    (e.settings.data_dir / "reports" / sha).write_bytes(content)
    with session_scope(e.app.state.services.sessions) as s:
        ids = {}
        for where, code in (("in", "82001"), ("out", "82003")):
            a = AlertRow(key=f"k{code}", kind="silent", rule="r", severity="low", title_vi="t",
                         title_en="t", place_kind="facility", place=code, facility=code,
                         commune=FACILITIES[code], details="{}", status="open", level=1,
                         opened_at=now, last_seen_at=now)  # fmt: skip
            r = ReportRequest(title="t", body="", requested_by="x", unit_kind="facility",
                              unit=code, facility=code, commune=FACILITIES[code], due=now.date(),
                              created_at=now, status="answered", file_name="a.csv",
                              file_sha256=sha, file_size=len(content))  # fmt: skip
            s.add_all([a, r])
            s.flush()
            ids[where] = (str(a.id), str(r.id))
        dead = OutboxRow(dedupe="d", channel="email", target="x@example.vn", subject="s", body="b",
                         status="dead", attempts=6, next_at=now, created_at=now)  # fmt: skip
        s.add(dead)
        s.flush()
        PATH_VALUES["outbox_id"] = {"in": str(dead.id), "out": str(dead.id)}
    PATH_VALUES["alert_id"] = {w: ids[w][0] for w in ids}
    PATH_VALUES["request_id"] = {w: ids[w][1] for w in ids}


@pytest.fixture(scope="module")
def tokens(env: Env) -> dict[str, str]:
    out = {}
    for role in ROLES:
        uri = env.add_user(f"u-{role}", [role], MATRIX_SCOPE)
        if uri:
            TOTP_URIS[f"u-{role}"] = uri
        out[role] = _sign_in_again(env, f"u-{role}")
    env.add_user("u-noscope", ["doh_specialist", "facility_staff"], [])
    out["no_scope"] = env.token("u-noscope")
    return out


def _sign_in_again(env: Env, username: str) -> str:
    uri = TOTP_URIS.get(username)
    if uri:  # a code is good once: the next one is in the next 30-second step
        env.clock.advance(seconds=30)
    return env.token(username, otp=totp_now(uri, env.clock.now) if uri else None)


def _headers(who: str, tokens: dict[str, str]) -> dict[str, str]:
    if who == "anonymous":
        return {}
    if who == "facility":  # the gateway's API credential of facility 82001
        return {"Authorization": f"Bearer {FACILITY_TOKEN['82001']}"}
    return {"Authorization": f"Bearer {tokens[who]}"}


def _routes(env: Env) -> list[tuple[str, RouteInfo]]:
    return [
        (m, r) for r in route_table(env.app) if not r.builtin for m in sorted(r.methods - {"HEAD"})
    ]


def test_every_route_is_classified(env: Env) -> None:
    served = {(m, r.path): r for m, r in _routes(env)}
    unclassified = sorted(set(served) - set(POLICY))
    assert not unclassified, f"routes missing from POLICY: {unclassified}"
    stale = sorted(set(POLICY) - set(served))
    assert not stale, f"POLICY lists routes that no longer exist: {stale}"
    wrong = {k: (r.permission, POLICY[k].permission) for k, r in served.items()
             if r.permission != POLICY[k].permission}  # fmt: skip
    assert not wrong, f"routes declaring another permission than POLICY: {wrong}"
    for (_, path), rule in POLICY.items():
        for param in path.split("{")[1:]:
            assert param.split("}")[0] in PATH_VALUES
        if rule.scoped:
            assert f"{{{rule.scoped}}}" in path


def expected(who: str, rule: Rule, where: str) -> int | str:
    """401 / 403 / 404, or "allow"."""
    if rule.permission is P.PUBLIC:
        return "allow"
    if who == "anonymous":
        return 401
    if who == "facility":  # a facility credential submits for itself and reads its receipts
        if rule.permission not in (P.SUBMIT, P.VIEW_SUBMISSIONS):
            return 403
        return 404 if where == "out" and rule.scoped else "allow"
    perms = {P.AUTHENTICATED}
    for role in ROLES.values():
        if who == role.code or (
            who == "no_scope" and role.code in ("doh_specialist", "facility_staff")
        ):
            perms |= role.permissions
    if rule.permission not in perms:
        return 403
    if rule.scoped and (who == "no_scope" or where == "out"):
        return 404
    return "allow"


def _url(path: str, where: str) -> str:
    for name, values in PATH_VALUES.items():
        path = path.replace(f"{{{name}}}", values[where])
    return path


def test_authorization_matrix(env: Env, tokens: dict[str, str]) -> None:
    client = env.client()
    mismatches = []
    cases = Counter[str]()
    denied_out_of_scope = 0
    for method, route in _routes(env):
        rule = POLICY[(method, route.path)]
        for who in CLASSES:
            for where in ("in", "out"):
                r = client.request(method, _url(route.path, where), headers=_headers(who, tokens))
                if (method, route.path) in REVOKING and who in tokens and r.status_code < 400:
                    name = "u-noscope" if who == "no_scope" else f"u-{who}"
                    tokens[who] = _sign_in_again(env, name)
                want = expected(who, rule, where)
                got = r.status_code
                ok = (
                    got < 500
                    and got not in (401, 403, 404)
                    and (method != "GET" or got == rule.success)
                    if want == "allow"
                    else got == want
                )
                cases[str(want)] += 1
                if want == 404:
                    denied_out_of_scope += 1
                if not ok:
                    mismatches.append(
                        f"{method} {route.path} as {who} ({where}): {got}, want {want}"
                    )
    assert not mismatches, "\n".join(mismatches)
    assert all(cases[k] for k in ("allow", "401", "403", "404")), cases
    # every out-of-scope answer was audited
    with session_scope(env.sec.factory) as s:
        audited = s.scalars(select(AuditEntry).where(AuditEntry.action == "scope.denied")).all()
    assert len(audited) == denied_out_of_scope
    assert all(e.outcome == "denied" for e in audited)


def _permissions(who: str) -> set[Permission]:
    perms = {P.AUTHENTICATED}
    for role in ROLES.values():
        if who == role.code or (
            who == "no_scope" and role.code in ("doh_specialist", "facility_staff")
        ):
            perms |= role.permissions
    return perms


def test_receipt_identifiers_only_with_the_record_permission(
    env: Env, tokens: dict[str, str]
) -> None:
    """The matrix over receipts' content (F4): every class of caller that may read the receipt
    gets it, and patient identifiers in it only with ``view_records`` (or as its sender)."""
    from tests.gateway_helpers import PII_CARD, PII_CCCD

    client = env.client()
    sid = PII["submission"]
    rule = Rule(P.VIEW_SUBMISSIONS, "submission_id")
    seen_by: list[str] = []
    for who in CLASSES:
        r = client.get(f"/api/v1/submissions/{sid}", headers=_headers(who, tokens))
        if expected(who, rule, "in") != "allow":
            assert r.status_code in (401, 403, 404), (who, r.status_code)
            assert PII_CCCD not in r.text
            continue
        assert r.status_code == 200, (who, r.text)
        sees = who == "facility" or P.VIEW_RECORDS in _permissions(who)
        fields = {f["field"] for rec in r.json()["records"] for f in rec["findings"]}
        assert {"SO_CCCD", "MA_THE_BHYT"} <= fields, (who, fields)  # the findings stay
        for secret in (PII_CCCD, PII_CARD, "1999"):
            assert (secret in r.text) is sees, (who, secret)
        assert r.json().get("redacted", False) is not sees
        if sees:
            seen_by.append("facility:82001" if who == "facility" else f"user:u-{who}")
    assert seen_by
    with session_scope(env.sec.factory) as s:
        views = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "receipt.view", AuditEntry.target == f"submission:{sid}"
            )
        ).all()
    assert sorted(v.actor for v in views) == sorted(seen_by)


def test_it_admin_sees_no_clinical_data(env: Env, tokens: dict[str, str]) -> None:
    client = env.client()
    h = {"Authorization": f"Bearer {tokens['it_admin']}"}
    clinical = [(m, r) for m, r in _routes(env) if r.permission in CLINICAL]
    assert clinical
    for method, route in clinical:
        assert client.request(method, _url(route.path, "in"), headers=h).status_code == 403


def test_facility_user_sees_only_their_facility(env: Env) -> None:
    env.add_user("nv-f2", ["facility_staff"], ["facility:82002"])
    h = {"Authorization": f"Bearer {env.token('nv-f2')}"}
    c = env.client()
    own = c.get("/api/v1/sample/facilities/82002/submissions", headers=h)
    assert own.status_code == 200
    assert own.json()["submissions"] == sum(1 for v in VISIT_ROWS if v["facility"] == "82002")
    for other in ("82001", "82003", "NOPE"):  # same answer whether it exists or not
        r = c.get(f"/api/v1/sample/facilities/{other}/submissions", headers=h)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"
    rec = c.get("/api/v1/sample/records/82002", headers=h).json()
    assert all(p.startswith("BN-82002-") for p in rec["patients"])
    with session_scope(env.sec.factory) as s:
        views = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "record.view", AuditEntry.actor == "user:nv-f2"
            )
        ).all()
    assert [v.target for v in views] == ["facility:82002"]


@pytest.mark.parametrize(
    ("scopes", "facilities"),
    [
        (["commune:C1"], {"82001", "82002"}),
        (["commune:C2"], {"82003"}),
        (["commune:C2", "facility:82001"], {"82001", "82003"}),
        (["province"], {"82001", "82002", "82003"}),
        ([], set()),
    ],
)
def test_scoped_aggregates_match_ground_truth(
    env: Env, scopes: list[str], facilities: set[str]
) -> None:
    name = "lead-" + ("-".join(scopes).replace(":", "") or "none")
    env.add_user(name, ["province_leader"], scopes)
    h = {"Authorization": f"Bearer {env.token(name)}"}
    got = env.client().get("/api/v1/sample/aggregates", headers=h).json()
    truth = Counter(v["facility"] for v in VISIT_ROWS if v["facility"] in facilities)
    assert got == dict(truth)
    assert set(got) <= set(FACILITIES)
    for path in ("/api/v1/sample/visits", "/api/v1/sample/visits-async"):
        patients = env.client().get(path, headers=h).json()
        assert patients == [v["patient"] for v in VISIT_ROWS if v["facility"] in facilities]


@pytest.mark.postgres
def test_scope_filter_on_postgresql(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = make_env(tmp_path, monkeypatch, database_url=pg_url, components=[security_sample.install])
    env.add_user("pg-c1", ["province_leader"], ["commune:C1"])
    h = {"Authorization": f"Bearer {env.token('pg-c1')}"}
    got = env.client().get("/api/v1/sample/aggregates", headers=h).json()
    assert got == dict(Counter(v["facility"] for v in VISIT_ROWS if v["commune"] == "C1"))


# --- role administration (finding F5): who may grant which role in which scope ----------------

ADMIN_SCOPES = ["facility:82001", "commune:C1", "province"]


def _clinical_read(env: Env, username: str) -> int:
    """What the user's fresh token gets on an in-scope record route (VIEW_RECORDS)."""
    h = {"Authorization": f"Bearer {env.token(username)}"}
    return env.client().get("/api/v1/sample/records/82001", headers=h).status_code


def test_role_administration_matrix(env: Env, tokens: dict[str, str]) -> None:
    """Every role × scope, granted by an it_admin: never to itself; a guarded role (clinical
    data, submissions, administration, audit) to someone else only when a *different*
    administrator approves; an unguarded one at once. Every step is on the trail the auditor
    reads."""
    uri = env.add_user("u-it_admin2", ["it_admin"], MATRIX_SCOPE)
    assert uri
    TOTP_URIS["u-it_admin2"] = uri
    a1 = {"Authorization": f"Bearer {tokens['it_admin']}"}
    a2 = {"Authorization": f"Bearer {_sign_in_again(env, 'u-it_admin2')}"}
    c = env.client()
    for role in ROLES:
        for scope in ADMIN_SCOPES:
            # no self-grant, whatever the role and scope
            r = c.post("/admin/users/u-it_admin/access",
                       data={"roles": ["it_admin", role], "scopes": scope}, headers=a1)  # fmt: skip
            assert r.status_code == 400, (role, scope)
            target = f"t-{role}-{scope.replace(':', '')}".replace("_", "-")
            env.add_user(target, [], [])
            r = c.post(f"/admin/users/{target}/access",
                       data={"roles": [role], "scopes": scope}, headers=a1)  # fmt: skip
            assert r.status_code == 200, r.text
            pending = [g for g in c.get("/api/v1/admin/grants", headers=a1).json()
                       if g["username"] == target]  # fmt: skip
            users = {u["username"]: u for u in c.get("/api/v1/admin/users", headers=a1).json()}
            if role not in GUARDED_ROLES:
                assert pending == []
                assert users[target]["roles"] == [role]
                continue
            assert [(g["roles"], g["scopes"]) for g in pending] == [([role], [scope])]
            assert users[target]["roles"] == []  # not applied yet
            gid = pending[0]["id"]
            if P.VIEW_RECORDS in ROLES[role].permissions:
                assert _clinical_read(env, target) == 403
            r = c.post(f"/admin/grants/{gid}/approve", headers=a1)  # the one who asked
            assert r.status_code == 400
            r = c.post(f"/admin/grants/{gid}/approve", headers=a2)
            assert r.status_code == 200, r.text
            users = {u["username"]: u for u in c.get("/api/v1/admin/users", headers=a1).json()}
            assert users[target]["roles"] == [role]
            assert users[target]["scopes"] == [scope]
            if P.VIEW_RECORDS in ROLES[role].permissions:
                assert _clinical_read(env, target) == 200  # 82001 is in each of the scopes
    # a second administrator cannot approve a grant for itself either
    r = c.post("/admin/users/u-it_admin2/access",
               data={"roles": ["it_admin", "facility_staff"], "scopes": "province"},
               headers=a1)  # fmt: skip
    assert r.status_code == 200
    gid = next(g["id"] for g in c.get("/api/v1/admin/grants", headers=a1).json()
               if g["username"] == "u-it_admin2")  # fmt: skip
    assert c.post(f"/admin/grants/{gid}/approve", headers=a2).status_code == 400
    assert c.post(f"/admin/grants/{gid}/reject", headers=a1).status_code == 200
    # the auditor sees every request and approval
    h = {"Authorization": f"Bearer {tokens['auditor']}"}
    trail = c.get("/api/v1/audit?action=grant.&limit=1000", headers=h).json()["entries"]
    requests = [e for e in trail if e["action"] == "grant.request"]
    approvals = [e for e in trail if e["action"] == "grant.approve"]
    n_guarded = len(GUARDED_ROLES) * len(ADMIN_SCOPES)
    assert len(requests) == n_guarded + 1
    assert len(approvals) == n_guarded
    assert all(e["actor"] == "user:u-it_admin2" for e in approvals)
    assert all(e["details"]["requested_by"] == "user:u-it_admin" for e in approvals)
    assert [e["action"] for e in trail].count("grant.reject") == 1
