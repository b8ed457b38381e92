"""A person opening a dashboard page without signing in is sent to the sign-in page and back;
API clients and scripts keep the one JSON error shape."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from khoyte.config import Settings
from khoyte.web.app import create_app


def test_pages_redirect_to_sign_in_api_answers_401(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path))
    c = TestClient(app, follow_redirects=False)
    html = {"accept": "text/html,application/xhtml+xml"}
    r = c.get("/kcb?from=2025-01-01", headers=html)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fkcb%3Ffrom%3D2025-01-01"
    assert c.get(r.headers["location"], headers=html).status_code == 200
    for path, headers in (
        ("/kcb", {}),  # not a browser navigation
        ("/api/v1/dashboards/kcb", html),  # the JSON twin
        ("/kcb", {**html, "authorization": "Bearer nope"}),  # a client with a bad credential
    ):
        r = c.get(path, headers=headers)
        assert r.status_code == 401, path
        assert r.json()["error"]["code"] == "unauthenticated"
    app.state.services.close()
