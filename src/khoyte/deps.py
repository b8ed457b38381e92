"""Dependency aliases for every router (the full-stack FastAPI template's ``deps.py``).

Routes take what they need as typed parameters — ``services: ServicesDep``, ``intake:
IntakeDep``, ``engine: EngineDep`` — all read from the one :class:`khoyte.services.Services`
that ``create_app`` puts on ``app.state.services``; tests build the app with the services they
want instead of patching modules. This module sits below ``khoyte.web`` (the gateway's and
security's routers use it too; nothing outside ``web`` imports ``web``).

No session dependency: routes open ``session_scope(services.sessions)`` themselves, so a change
commits (or rolls back) before the response is built, not after it was sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from khoyte.access import Permission, Principal, requires
from khoyte.config import Settings
from khoyte.errors import ApiError
from khoyte.gateway.intake import IntakeService
from khoyte.services import Services
from khoyte.warehouse.engine import AnalyticsEngine
from khoyte.warehouse.service import Warehouse


def get_services(request: Request) -> Services:
    found = request.app.state.services
    if not isinstance(found, Services):  # pragma: no cover - create_app always sets it
        raise TypeError("app.state.services is not a khoyte.services.Services")
    return found


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_intake(services: ServicesDep) -> IntakeService:
    return services.intake


def get_warehouse(services: ServicesDep) -> Warehouse:
    if services.warehouse is None:
        raise ApiError(
            503,
            message_vi="Kho phân tích chưa mở được (đang bị tiến trình khác dùng?); thử lại sau.",
            message_en="The analytics store could not be opened (in use by another process?); "
            "retry later.",
        )
    return services.warehouse


WarehouseDep = Annotated[Warehouse, Depends(get_warehouse)]


def get_engine(warehouse: WarehouseDep) -> AnalyticsEngine:
    return warehouse.engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
IntakeDep = Annotated[IntakeService, Depends(get_intake)]
EngineDep = Annotated[AnalyticsEngine, Depends(get_engine)]

# The caller, holding a permission (401/403 otherwise): ``principal: ViewCaller``.
PublicCaller = Annotated[Principal, Depends(requires(Permission.PUBLIC))]
SubmitCaller = Annotated[Principal, Depends(requires(Permission.SUBMIT))]
SubmissionsCaller = Annotated[Principal, Depends(requires(Permission.VIEW_SUBMISSIONS))]
ViewCaller = Annotated[Principal, Depends(requires(Permission.VIEW_DASHBOARD))]
ExportCaller = Annotated[Principal, Depends(requires(Permission.EXPORT))]
QualityCaller = Annotated[Principal, Depends(requires(Permission.DATA_QUALITY))]
