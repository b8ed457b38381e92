"""A component that forgets ``requires(...)`` on a route: the application must refuse to start."""

from __future__ import annotations

from fastapi import FastAPI

from khoyte.config import Settings


def install(app: FastAPI, settings: Settings) -> None:
    @app.get("/api/v1/leaky")
    def leaky() -> dict[str, str]:
        return {"secret": "clinical data"}
