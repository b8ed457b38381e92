"""A sample component with scoped routes, standing in for the gateway and dashboard in the
security tests: it uses the access helpers exactly as they must (``require_in_scope`` for one
object, ``scope_filter`` for lists and aggregates, ``record_event`` for person-identifiable views).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select

from khoyte.config import Settings
from khoyte.security import audit
from khoyte.security.web import client_ip, record_event
from khoyte.store.db import make_engine, migrate, session_factory, session_scope
from khoyte.web.access import Permission, Principal, Scope, require_in_scope, requires, scope_filter

META = MetaData()
VISITS = Table(
    "sample_visits",
    META,
    Column("id", Integer, primary_key=True),
    Column("facility", String(10)),
    Column("commune", String(10)),
    Column("patient", String(50)),
)
# facility → commune; C1 holds F1 and F2, C2 holds F3
FACILITIES = {"F1": "C1", "F2": "C1", "F3": "C2"}
VISIT_ROWS = [
    {"facility": f, "commune": FACILITIES[f], "patient": f"BN-{f}-{i}"}
    for f, n in (("F1", 7), ("F2", 3), ("F3", 11))
    for i in range(n)
]

Submit = Annotated[Principal, Depends(requires(Permission.SUBMIT))]
Submissions = Annotated[Principal, Depends(requires(Permission.VIEW_SUBMISSIONS))]
Records = Annotated[Principal, Depends(requires(Permission.VIEW_RECORDS))]
Dashboard = Annotated[Principal, Depends(requires(Permission.VIEW_DASHBOARD))]


def install(app: FastAPI, settings: Settings) -> None:
    engine = make_engine(settings)
    migrate(engine)
    META.create_all(engine)
    factory = session_factory(engine)
    app.state.engine = engine
    app.state.session_factory = factory
    with session_scope(factory) as s:
        if not s.scalar(select(func.count()).select_from(VISITS)):
            s.execute(insert(VISITS), VISIT_ROWS)

    def facility_credential(request: Request) -> Principal | None:
        """Stands in for the gateway's facility credentials: ``Authorization: Facility F1``."""
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

    app.state.authenticators.append(facility_credential)

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
            n = s.scalar(select(func.count()).where(VISITS.c.facility == code))
        return {"facility": code, "submissions": n}

    @app.get("/api/v1/sample/records/{code}")
    def records(code: str, principal: Records, request: Request) -> dict[str, Any]:
        require_in_scope(principal, f"facility:{code}", facility=code, commune=FACILITIES.get(code))
        with session_scope(factory) as s:
            patients = list(s.scalars(select(VISITS.c.patient).where(VISITS.c.facility == code)))
        record_event(request, principal, "record.view", f"facility:{code}", reason="test")
        return {"facility": code, "patients": patients}

    @app.get("/api/v1/sample/aggregates")
    def aggregates(principal: Dashboard) -> dict[str, int]:
        cond = scope_filter(principal.scope, VISITS.c.facility, VISITS.c.commune)
        with session_scope(factory) as s:
            rows = s.execute(
                select(VISITS.c.facility, func.count()).where(cond).group_by(VISITS.c.facility)
            ).all()
        return {str(f): int(n) for f, n in rows}
