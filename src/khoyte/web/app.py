"""The composition root: one FastAPI app over one :class:`khoyte.services.Services`.

``create_app(settings)`` builds the services (one engine, migrations run once, the archive,
intake, the warehouse with its source handed in, typed hooks), fills the hooks, includes every
router and installs security last (its middleware, and its refusal to start when a route
declares no ``requires(...)``). A ``lifespan`` starts and stops background work. Settings are
built here, never at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

from khoyte import __version__, layout
from khoyte.aggregate import web as aggregate_web
from khoyte.aggregate import web_entry as aggregate_entry_web
from khoyte.aggregate import web_ioc as aggregate_ioc_web
from khoyte.aggregate import web_quality as aggregate_quality_web
from khoyte.aggregate import web_targets as aggregate_targets_web
from khoyte.config import Settings
from khoyte.gateway import api as gateway_api
from khoyte.persons import requests_web as persons_requests_web
from khoyte.persons import web as persons_web
from khoyte.persons.linker import PersonLinker
from khoyte.quality import web as quality_web
from khoyte.registry import web as registry_web
from khoyte.security import web as security_web
from khoyte.services import Services, build_services
from khoyte.surveillance import web as alerts_web
from khoyte.web import bodylimit, dashboard, docs, errors

Component = Callable[[FastAPI, Services], None]
"""An extra part of the app (tests add sample or faulty ones): adds routes and hooks."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    services: Services = app.state.services
    security_web.refuse_unguarded(app)  # again: routes added after create_app count too
    services.start()
    try:
        yield
    finally:
        services.stop()


def create_app(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    components: Sequence[Component] = (),
) -> FastAPI:
    """The web application. ``services``: already built (tests, a clock of their own);
    ``components``: extra parts installed before security checks the route table."""
    settings = services.settings if services is not None else (settings or Settings())
    security_web.check_settings(settings)  # refuse unsafe production settings before opening
    services = services or build_services(settings)
    app = FastAPI(
        title="khoyte",
        version=__version__,
        description="Kho dữ liệu y tế tập trung Sở Y tế / provincial health data hub.",
        docs_url=None,  # served by khoyte.web.docs without a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.settings = settings
    app.state.hooks = services.hooks
    hooks = services.hooks
    hooks.authenticators.append(gateway_api.make_authenticator(services.intake))
    if settings.open_dashboard:
        hooks.authenticators.append(dashboard.open_dashboard_authenticator)
    # link first: the warehouse then loads the record with its person already known, when the
    # linker is quicker than the warehouse's next refresh (else the persons feed updates it)
    linker = PersonLinker(services.sessions, services.engine, settings.persons_link_seconds)
    services.workers.append(linker)
    hooks.after_submission.append(linker.hook)
    hooks.after_submission.append(dashboard.wake_warehouse(services))
    errors.install(app)
    docs.install(app)
    layout.install(app)  # /static: the stylesheet, scripts and vendor libraries of every page
    app.include_router(gateway_api.router)
    app.include_router(dashboard.router)
    app.include_router(registry_web.router)  # the facility registry's IT pages
    app.include_router(quality_web.router)  # the data-quality workspace
    alerts_web.install(app, services)  # alerts, inbox, report requests, the phone view
    app.include_router(aggregate_web.router)  # statutory forms, aggregate uploads, DHIS2
    app.include_router(aggregate_quality_web.router)  # aggregate data quality and approval
    app.include_router(aggregate_ioc_web.router)  # the IOC dashboards of groups 4–8
    app.include_router(aggregate_entry_web.router)  # the web data-entry form
    app.include_router(aggregate_targets_web.router)  # plans (targets): page, API, files
    app.include_router(persons_web.router)  # the master person index and health records
    app.include_router(persons_requests_web.router)  # data subjects' requests (Decree 13)
    for component in components:
        component(app, services)
    security_web.install(app, services)  # last: middleware, hooks, the route-table check
    bodylimit.install(app, settings)  # added last = outermost: bounds every body first
    return app


def create_intake_app(
    settings: Settings | None = None, *, services: Services | None = None
) -> FastAPI:
    """The intake tier (``khoyte serve --intake-only``): the gateway's routes only — submit,
    receipts, records, health and metrics — over the same store and security, with no
    warehouse, pages or background work, so any number of these processes can run beside the
    one full server (which holds the DuckDB warehouse and links, loads and alerts for all of
    them, within its polling intervals). A reverse proxy sends ``/api/v1/submissions``,
    ``/api/v1/checkins``, ``/api/v1/assessments`` and their receipts here (docs/operations.md)."""
    settings = services.settings if services is not None else (settings or Settings())
    security_web.check_settings(settings)
    services = services or build_services(settings, warehouse=False)
    app = FastAPI(
        title="khoyte intake",
        version=__version__,
        description="Cổng tiếp nhận hồ sơ / the intake tier of the provincial health data hub.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.settings = settings
    app.state.hooks = services.hooks
    services.hooks.authenticators.append(gateway_api.make_authenticator(services.intake))
    errors.install(app)
    app.include_router(gateway_api.router)
    security_web.install(app, services, pages=False)
    bodylimit.install(app, settings)
    return app
