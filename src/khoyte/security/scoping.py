"""The ORM's automatic scope filter: every ORM ``SELECT`` made while serving a request only
sees rows of models marked :class:`OrgUnitScoped` that lie in the caller's scope.

Mark a model (gateway submissions, records, persons…)::

    class Submission(OrgUnitScoped, Base):
        __scope_facility__ = "facility_code"      # column holding MA_CSKCB
        __scope_commune__ = "commune_code"        # optional

While a request is served, ``requires(...)`` has put the caller in
``khoyte.access.current_principal``; a session event then adds
``WHERE <facility/commune in scope>`` for every such model the statement touches (joins,
relationships and aliases included) — an empty scope, or an anonymous caller, sees no row.
Outside requests (CLI, background jobs) nothing is added. Core statements on tables (not ORM
entities) are not rewritten: use ``khoyte.access.scope_filter`` there.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from khoyte.access import current_principal, scope_filter

UNSCOPED = "khoyte_unscoped"  # execution option for deliberate system-wide reads


class OrgUnitScoped:
    __scope_facility__: ClassVar[str] = "facility_code"
    __scope_commune__: ClassVar[str | None] = None


def _scoped_models() -> list[type[Any]]:
    found: list[type[Any]] = []
    stack: list[type[Any]] = list(OrgUnitScoped.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "__mapper__", None) is not None and cls not in found:
            found.append(cls)
    return found


@event.listens_for(Session, "do_orm_execute")
def _filter_by_scope(state: ORMExecuteState) -> None:
    if not state.is_select or state.is_column_load or state.is_relationship_load:
        return
    if state.execution_options.get(UNSCOPED):
        return
    principal = current_principal.get()
    if principal is None:
        return
    options = []
    for model in _scoped_models():
        facility = getattr(model, model.__scope_facility__)
        commune = getattr(model, model.__scope_commune__) if model.__scope_commune__ else None
        # a plain expression per model (no lambda): nothing of one caller's scope is cached
        options.append(
            with_loader_criteria(
                model, scope_filter(principal.scope, facility, commune), include_aliases=True
            )
        )
    if options:
        state.statement = state.statement.options(*options)
