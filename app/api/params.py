"""Path and query parameters with the bounds the database can hold.

Ids follow the config's slug rule, so an id that could never exist (a NUL character, which
PostgreSQL cannot store in text) is a 422 naming the parameter, not a database error; integers
stay inside the width of the column they are compared with.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.api.problems import invalid
from app.config.base import SLUG

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1  # deliveries.seq is a 32-bit SERIAL on PostgreSQL

KeyResultId = Annotated[str, Path(pattern=SLUG, description="a Key Result's id")]
ObjectiveId = Annotated[str, Path(pattern=SLUG, description="an objective's id")]
WebhookName = Annotated[str, Path(pattern=SLUG, description="a webhook's name")]
DeliverySeq = Annotated[int, Path(ge=1, le=INT32_MAX, description="a delivery's seq")]
Offset = Annotated[int, Query(ge=0, le=INT64_MAX)]
SeqCursor = Annotated[int | None, Query(ge=-INT64_MAX, le=INT64_MAX, description="a seq cursor")]
ObjectiveFilter = Annotated[str | None, Query(pattern=SLUG)]


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


_DECLARED: dict[int, frozenset[str]] = {}


def _declared_query(route: APIRoute) -> frozenset[str]:
    """Return the query parameters a route takes (computed once per route)."""
    if id(route) not in _DECLARED:
        _DECLARED[id(route)] = frozenset(_query_names(route.dependant))
    return _DECLARED[id(route)]


def refuse_unknown_query(request: Request) -> None:
    """Refuse a query parameter the route does not take (a typo would be silently ignored).

    Unknown keys are errors everywhere else too: in the config and in request bodies.
    """
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _declared_query(route)
    for name in request.query_params:
        if name not in declared:
            takes = ", ".join(sorted(declared)) or "none"
            raise invalid(f"query.{name}", f"unknown parameter (this path takes: {takes})")


UnknownQueryRefused = Depends(refuse_unknown_query)
