"""Schemathesis against the application's OpenAPI schema, without and with credentials: no
5xx, no response that violates the schema. The number of generated cases is printed and written
to ``test-artifacts/schemathesis-cases.json``."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from khoyte.config import Settings
from khoyte.security import service
from khoyte.store.db import session_scope
from khoyte.web.app import create_app
from tests import security_sample

pytestmark = pytest.mark.slow  # generated cases over every route: over a minute

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
CASES: Counter[str] = Counter()
ANSWERS: Counter[tuple[str, int]] = Counter()  # (operation, status) of authenticated cases
_DIR = Path(tempfile.mkdtemp(prefix="khoyte-schemathesis-"))
_SETTINGS = Settings(data_dir=_DIR, database_url=f"sqlite:///{_DIR / 'k.sqlite3'}")


APP = create_app(_SETTINGS, components=[security_sample.install])
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def _token() -> str:
    with session_scope(APP.state.security.factory) as s:
        _, uri = service.create_user(
            s, _SETTINGS, username="fuzz", password="Sông-Hồng-2025!",
            roles=["province_leader", "doh_specialist", "facility_staff", "it_admin", "auditor"],
            scopes=["facility:82001", "commune:C2"], actor="test", ip="test",
        )  # fmt: skip
        tok = service.issue_token(s, _SETTINGS, service.get_user(s, "fuzz"), service.utcnow())  # type: ignore[arg-type]
    assert uri is not None
    assert pyotp.parse_uri(uri)  # the admin role got a second factor
    return str(tok.raw)  # type: ignore[attr-defined]


TOKEN = _token()
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)


@pytest.fixture(scope="module", autouse=True)
def report(artifacts_dir: Path) -> Iterator[None]:
    yield
    out = {"cases": dict(CASES), "total": sum(CASES.values())}
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # one file per worker: add them up
    (artifacts_dir / f"schemathesis-cases-{worker}.json").write_text(json.dumps(out, indent=1))
    print(f"\nschemathesis: {out['total']} generated cases {dict(CASES)}")


@schema.parametrize()
@FUZZ
def test_api_anonymous(case: schemathesis.Case) -> None:
    CASES["anonymous"] += 1
    case.call_and_validate(checks=CHECKS)


@schema.parametrize()
@FUZZ
def test_api_authenticated(case: schemathesis.Case) -> None:
    CASES["authenticated"] += 1
    token = TOKEN
    if case.path == "/api/v1/auth/logout":  # it revokes the token it is sent with: not TOKEN
        with session_scope(APP.state.security.factory) as s:
            user = service.get_user(s, "fuzz")
            assert user is not None
            token = str(service.issue_token(s, _SETTINGS, user, service.utcnow()).raw)  # type: ignore[attr-defined]
    response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
    ANSWERS[(f"{case.method.upper()} {case.path}", response.status_code)] += 1


def test_the_fuzzing_reached_real_schemas() -> None:
    """The dashboards' parameters are in the schema now, so generated cases get past
    validation (200) as well as into it (422), and the receipt route is exercised."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.skip("the cases are spread over workers")
    kcb = {status for (op, status) in ANSWERS if op == "GET /api/v1/dashboards/kcb"}
    assert {200, 422} <= kcb, ANSWERS
    assert any(op.startswith("GET /api/v1/submissions/") for op, _ in ANSWERS), ANSWERS
