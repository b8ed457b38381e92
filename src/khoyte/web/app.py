"""The application factory: one FastAPI app made of the components' routers.

Each component exposes ``install(app, settings)`` and is listed in ``COMPONENTS``; a component
that is absent from the installation is skipped. Settings are built here, never at import time.
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from khoyte import __version__
from khoyte.config import Settings
from khoyte.web import docs, errors

COMPONENTS = (
    "khoyte.gateway.api",
    "khoyte.web.dashboard",
    "khoyte.security.web",
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="khoyte",
        version=__version__,
        description="Kho dữ liệu y tế tập trung Sở Y tế / provincial health data hub.",
        docs_url=None,  # served by khoyte.web.docs without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.authenticators = []
    app.state.after_submission = []  # khoyte.access.after_submission
    errors.install(app)
    docs.install(app)
    for name in COMPONENTS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # component not part of this installation
            raise
        module.install(app, settings)
    return app
