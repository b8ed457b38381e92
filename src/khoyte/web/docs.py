"""``/docs``: the OpenAPI reference (Swagger UI) served from the installation itself.

FastAPI's own page loads Swagger UI from a CDN with an inline script; khoyte has no CDN and a
strict Content-Security-Policy, so the same UI comes from the npm registry (``make assets``) and
starts from a static script.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from khoyte.access import Permission, Principal, requires

PAGE = """<!doctype html>
<html lang="vi">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>khoyte — API (OpenAPI)</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/vendor/swagger-ui.css">
  <script src="/static/vendor/swagger-ui-bundle.js" defer></script>
  <script src="/static/docs.js" defer></script>
</head>
<body>
  <div id="swagger-ui">Tài liệu API: <a href="/openapi.json">/openapi.json</a></div>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    def docs(_: Annotated[Principal, Depends(requires(Permission.PUBLIC))]) -> HTMLResponse:
        return HTMLResponse(PAGE)
