"""`/key-results`: Key Results with progress, status, forecast and last error."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from sqlmodel import Session

from app.api.cache import (
    Representation,
    RepresentationCacheDep,
    RowCacheDep,
    cached,
    cached_row,
    representation,
    respond,
)
from app.api.deps import Include, ReadAccess, TrackerDep
from app.api.listing import ListingMirrorDep
from app.api.lookup import get_key_result_or_404
from app.api.params import KeyResultId, ObjectiveFilter
from app.api.problems import NOT_FOUND
from app.api.representations import detail_of
from app.api.schemas import KeyResultDetail, KeyResultSummary
from app.core.specs import stored_spec
from app.store.check_ins import list_check_ins
from app.store.models import Objective
from app.store.versions import read_key_result_version

router = APIRouter(prefix="/key-results", tags=["key-results"], dependencies=[ReadAccess])


@router.get("", response_model=list[KeyResultSummary])
def get_key_results(
    request: Request,
    tracker: TrackerDep,
    cache: RepresentationCacheDep,
    mirror: ListingMirrorDep,
    objective_id: ObjectiveFilter = None,
    include: Include = None,
    include_archived: bool = False,
) -> Response:
    """List Key Results, optionally of one objective; `?include=archived` adds archived ones.

    Cached, with an `ETag` (`app.api.cache`).
    """
    include_archived = include_archived or include == "archived"

    def build(session: Session, version: int | None) -> Representation:
        return representation(
            mirror.key_results_json(
                session,
                version=version,
                objective_id=objective_id,
                include_archived=include_archived,
            )
        )

    key = ("key-results", objective_id, include_archived)
    return respond(request, cached(cache, tracker, key=key, build=build))


@router.get("/{key_result_id}", response_model=KeyResultDetail, responses=NOT_FOUND)
def get_key_result(
    key_result_id: KeyResultId, request: Request, tracker: TrackerDep, cache: RowCacheDep
) -> Response:
    """Return one Key Result in detail (cached on its row's version, with an `ETag`)."""

    def build(session: Session) -> Representation:
        kr = get_key_result_or_404(session, key_result_id)
        latest = list_check_ins(session, key_result_id, limit=1)
        objective = session.get(Objective, kr.objective_id)
        measured_from = stored_spec(kr).period_start if objective else None
        detail = detail_of(kr, latest[0] if latest else None, measured_from=measured_from)
        return representation(detail.model_dump_json().encode())

    def read_version(connection: Connection) -> int | None:
        return read_key_result_version(connection, key_result_id)

    key = ("key-result", key_result_id)
    found = cached_row(cache, tracker, key=key, read_version=read_version, build=build)
    return respond(request, found)
