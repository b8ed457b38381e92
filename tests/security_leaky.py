"""A component that forgets ``requires(...)`` on a route: the application must refuse to start."""

from __future__ import annotations

from fastapi import FastAPI

from khoyte.services import Services


def install(app: FastAPI, services: Services) -> None:
    @app.get("/api/v1/leaky")
    def leaky() -> dict[str, str]:
        return {"secret": "clinical data"}
