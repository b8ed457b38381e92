"""A sample component with scoped routes, standing in for the gateway and dashboard in the
security tests. It uses the access helpers as components must: ``require_in_scope`` for one
object, the ORM's automatic scope filter (``OrgUnitScoped``) for its model — its list and
aggregate queries carry no scope condition of their own — ``scope_filter`` for a Core query,
``record_event`` for person-identifiable views, ``audit.record`` per submission.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy import String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from khoyte.access import Permission, Principal, Scope, require_in_scope, requires, scope_filter
from khoyte.security import audit
from khoyte.security.scoping import UNSCOPED, OrgUnitScoped
from khoyte.security.web import client_ip, record_event
from khoyte.services import Services
from khoyte.store.db import session_scope


class SampleBase(DeclarativeBase):
    pass


class Visit(OrgUnitScoped, SampleBase):
    __tablename__ = "sample_visits"
    __scope_facility__ = "facility"
    __scope_commune__ = "commune"

    id: Mapped[int] = mapped_column(primary_key=True)
    facility: Mapped[str] = mapped_column(String(10))
    commune: Mapped[str] = mapped_column(String(10))
    patient: Mapped[str] = mapped_column(String(50))


VISITS = Visit.__table__
# facility → commune; C1 holds 82001 and 82002, C2 holds 82003
FACILITIES = {"82001": "C1", "82002": "C1", "82003": "C2"}
VISIT_ROWS = [
    {"facility": f, "commune": FACILITIES[f], "patient": f"BN-{f}-{i}"}
    for f, n in (("82001", 7), ("82002", 3), ("82003", 11))
    for i in range(n)
]

Submit = Annotated[Principal, Depends(requires(Permission.SUBMIT))]
Submissions = Annotated[Principal, Depends(requires(Permission.VIEW_SUBMISSIONS))]
Records = Annotated[Principal, Depends(requires(Permission.VIEW_RECORDS))]
Dashboard = Annotated[Principal, Depends(requires(Permission.VIEW_DASHBOARD))]


def install(app: FastAPI, services: Services) -> None:
    """A component as ``create_app(components=[install])`` takes it: the app's one store."""
    SampleBase.metadata.create_all(services.engine)
    factory = services.sessions
    with session_scope(factory) as s:
        if not s.scalar(
            select(func.count()).select_from(Visit), execution_options={UNSCOPED: True}
        ):
            s.add_all(Visit(**row) for row in VISIT_ROWS)

    def facility_credential(request: Request) -> Principal | None:
        """Stands in for the gateway's facility credentials: ``Authorization: Facility 82001``."""
        scheme, _, code = request.headers.get("authorization", "").partition(" ")
        if scheme != "Facility" or code not in FACILITIES:
            return None
        return Principal(
            kind="facility",
            name=code,
            permissions=frozenset({Permission.SUBMIT}),
            scope=Scope(facilities=frozenset({code})),
            facility=code,
        )

    services.hooks.authenticators.append(facility_credential)

    @app.post("/api/v1/sample/facilities/{code}/submissions", status_code=202)
    def submit(code: str, principal: Submit, request: Request) -> Response:
        require_in_scope(principal, f"facility:{code}", facility=code)
        with session_scope(factory) as s:  # the submission and its audit entry commit together
            audit.record(s, principal, "submission.receive", f"facility:{code}", "success",
                         client_ip(request))  # fmt: skip
        return Response(status_code=202)

    @app.get("/api/v1/sample/facilities/{code}/submissions")
    def submissions(code: str, principal: Submissions) -> dict[str, Any]:
        require_in_scope(principal, f"facility:{code}", facility=code, commune=FACILITIES.get(code))
        with session_scope(factory) as s:
            n = s.scalar(select(func.count(Visit.id)).where(Visit.facility == code))
        return {"facility": code, "submissions": n}

    @app.get("/api/v1/sample/records/{code}")
    def records(code: str, principal: Records, request: Request) -> dict[str, Any]:
        require_in_scope(principal, f"facility:{code}", facility=code, commune=FACILITIES.get(code))
        with session_scope(factory) as s:  # Core query: scope_filter by hand
            cond = scope_filter(principal.scope, VISITS.c.facility, VISITS.c.commune)
            stmt = select(VISITS.c.patient).where(VISITS.c.facility == code, cond)
            patients = list(s.scalars(stmt))
        record_event(request, principal, "record.view", f"facility:{code}", reason="test")
        return {"facility": code, "patients": patients}

    @app.get("/api/v1/sample/aggregates")
    def aggregates(principal: Dashboard) -> dict[str, int]:
        # no scope condition here: the ORM scope filter adds it
        with session_scope(factory) as s:
            rows = s.execute(select(Visit.facility, func.count(Visit.id)).group_by(Visit.facility))
            return {str(f): int(n) for f, n in rows}

    @app.get("/api/v1/sample/visits")
    def visits(principal: Dashboard) -> list[str]:
        with session_scope(factory) as s:  # ORM entities: filtered the same way
            return [v.patient for v in s.scalars(select(Visit).order_by(Visit.id))]

    @app.get("/api/v1/sample/visits-async")
    async def visits_async(principal: Dashboard) -> list[str]:
        # an async route sees the caller too (the principal travels in a context variable)
        with session_scope(factory) as s:
            return [v.patient for v in s.scalars(select(Visit).order_by(Visit.id))]
