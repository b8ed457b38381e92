"""Contract: every error of the gateway's API has the one JSON shape, and every route declares
what it needs (``requires(Permission.X)``)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from khoyte.web.app import create_app
from tests.gateway_helpers import FAC_A, FAC_B, claim, register_facilities, settings_for

SHAPE = {"status", "code", "message_vi", "message_en", "details"}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("contract")
    app = create_app(settings_for(tmp, None, rate_limit_per_minute=30, max_body_bytes=200_000))
    tokens = register_facilities(app.state.services.intake)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client, tokens


def _h(tokens: dict[str, str], fac: str = FAC_A, ctype: str = "application/xml") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[fac]}", "Content-Type": ctype}


Case = Callable[[TestClient, dict[str, str]], httpx.Response]

CASES: dict[str, tuple[int, Case]] = {
    "no_credential": (401, lambda c, t: c.post("/api/v1/submissions", content=claim())),
    "unknown_credential": (
        401,
        lambda c, t: c.get("/api/v1/submissions", headers={"Authorization": "Bearer khy_nope"}),
    ),
    "malformed_authorization": (
        401,
        lambda c, t: c.get("/api/v1/submissions", headers={"Authorization": "Basic Zm9vOmJhcg=="}),
    ),
    "wrong_facility": (
        403,
        lambda c, t: c.post(
            "/api/v1/submissions", content=claim("LKW", facility=FAC_B), headers=_h(t)
        ),
    ),
    "unknown_route": (404, lambda c, t: c.get("/api/v1/nothing-here")),
    "unknown_submission": (404, lambda c, t: c.get("/api/v1/submissions/abc", headers=_h(t))),
    "unknown_record": (404, lambda c, t: c.get(f"/api/v1/records/{FAC_A}/NONE", headers=_h(t))),
    "method_not_allowed": (405, lambda c, t: c.delete("/api/v1/submissions", headers=_h(t))),
    "too_large": (
        413,
        lambda c, t: c.post("/api/v1/submissions", content=b"<" * 300_000, headers=_h(t)),
    ),
    "wrong_content_type": (
        415,
        lambda c, t: c.post(
            "/api/v1/submissions", content=claim(), headers=_h(t, ctype="text/plain")
        ),
    ),
    "bad_query": (422, lambda c, t: c.get("/api/v1/submissions?limit=0", headers=_h(t))),
    "bad_since": (422, lambda c, t: c.get("/api/v1/submissions?since=yesterday", headers=_h(t))),
    "rejected_file": (
        422,
        lambda c, t: c.post("/api/v1/submissions", content=b"", headers=_h(t)),
    ),
    "invalid_base64": (
        400,
        lambda c, t: c.post(
            "/api/v1/submissions",
            json={"maCSKCB": FAC_A, "fileHSBase64": "SGVsbG8*="},
            headers=_h(t, ctype="application/json"),
        ),
    ),
    "invalid_json": (
        400,
        lambda c, t: c.post(
            "/api/v1/submissions", content=b"{", headers=_h(t, ctype="application/json")
        ),
    ),
    "missing_file": (
        400,
        lambda c, t: c.post(
            "/api/v1/submissions",
            data={"maCSKCB": FAC_A},
            headers={**_h(t, ctype="application/x-www-form-urlencoded")},
        ),
    ),
    "facility_mismatch": (
        400,
        lambda c, t: c.post(
            "/api/v1/submissions",
            json={"maCSKCB": FAC_B, "fileHSBase64": base64.b64encode(claim()).decode()},
            headers=_h(t, ctype="application/json"),
        ),
    ),
    "wrong_document_kind": (
        400,
        lambda c, t: c.post("/api/v1/checkins", content=claim("LKK"), headers=_h(t)),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_error_shape(name: str, env: Any) -> None:
    _app, client, tokens = env
    status, call = CASES[name]
    resp = call(client, tokens)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert set(err) == SHAPE
    assert err["status"] == status
    assert isinstance(err["code"], str)
    assert err["code"]
    assert err["message_vi"]
    assert err["message_en"]
    assert err["message_vi"] != err["message_en"]
    assert isinstance(err["details"], dict)


def test_rate_limit_answers_429_in_the_shape(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, None, rate_limit_per_minute=3))
    tokens = register_facilities(app.state.services.intake)
    with TestClient(app) as client:
        codes = [
            client.post(
                "/api/v1/submissions", content=claim(f"LK{i}"), headers=_h(tokens)
            ).status_code
            for i in range(5)
        ]
        assert codes[:3] == [201, 201, 201]
        assert codes[3:] == [429, 429]
        last = client.post("/api/v1/submissions", content=claim("LKZ"), headers=_h(tokens))
        assert last.json()["error"]["code"] == "rate_limited"
        assert int(last.headers["retry-after"]) >= 1
        # another facility has its own budget
        other = client.post(
            "/api/v1/submissions", content=claim("LKB", facility=FAC_B), headers=_h(tokens, FAC_B)
        )
        assert other.status_code == 201


def test_every_route_declares_its_permission(env: Any) -> None:
    app = env[0]
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        perms = [
            getattr(d.call, "permission", None)
            for d in route.dependant.dependencies
            if getattr(d.call, "permission", None) is not None
        ]
        assert perms, f"{route.path} declares no permission"


def test_health_readiness_and_metrics_are_public(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path, None))
    tokens = register_facilities(app.state.services.intake)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
        client.post("/api/v1/submissions", content=claim("LKM"), headers=_h(tokens))
        client.post("/api/v1/submissions", content=claim("LKM"), headers=_h(tokens))
        text = client.get("/metrics").text
        assert 'khoyte_submissions_total{duplicate="False",status="accepted"} 1.0' in text
        assert 'khoyte_submissions_total{duplicate="True",status="accepted"} 1.0' in text
        assert 'khoyte_records_total{status="accepted"} 1.0' in text
