"""`/key-results/{id}/attempts`: every try to sample a Key Result, with its error, paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from app.api.deps import ReadAccess, SessionDep
from app.api.lookup import get_key_result_or_404
from app.api.params import INT64_MAX, KeyResultId
from app.api.problems import NOT_FOUND
from app.api.representations import iso_text, listing_response
from app.api.schemas import AttemptOut
from app.store.attempts import count_attempts, list_attempts

router = APIRouter(prefix="/key-results/{key_result_id}/attempts", tags=["attempts"])


@router.get("", response_model=list[AttemptOut], dependencies=[ReadAccess], responses=NOT_FOUND)
def get_attempts(
    key_result_id: KeyResultId,
    request: Request,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
) -> Response:
    """List sampling attempts, newest first: `X-Total-Count` and a `Link` to the next page."""
    get_key_result_or_404(session, key_result_id)
    attempts = list_attempts(session, key_result_id, limit=limit, offset=offset)
    response = listing_response(
        [
            {
                "scheduled_at": iso_text(a.scheduled_ts),
                "attempted_at": iso_text(a.attempted_ts),
                "ok": a.ok,
                "error_kind": a.error_kind,
                "error": a.error_message,
                "duration_ms": a.duration_ms,
            }
            for a in attempts
        ]
    )
    total = count_attempts(session, key_result_id)
    response.headers["X-Total-Count"] = str(total)
    if offset + limit < total:
        following = request.url.include_query_params(offset=offset + limit, limit=limit)
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response
