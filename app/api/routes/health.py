"""`/healthz` (the process answers) and `/readyz` (the database answers too)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Engine
from sqlmodel import Session

from app.store.db import make_probe_engine
from app.store.versions import database_ready

router = APIRouter(tags=["health"])


class Readiness(BaseModel):
    """Whether the service can answer: `ready`, or `unavailable` with the kind of failure."""

    status: str
    detail: str | None = None


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Answer while the process runs."""
    return {"status": "ok"}


def _probe(engine: Engine) -> None:
    with Session(engine) as session:
        database_ready(session)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The database does not answer."}},
)
async def readyz(request: Request) -> JSONResponse:
    """Answer 200 when the database answers, 503 otherwise.

    The check runs on its own two threads with its own connection, so it stays fast while
    requests keep every worker thread and pooled connection busy.
    """
    state = request.app.state
    if getattr(state, "probe_engine", None) is None:
        state.probe_engine = make_probe_engine(
            state.tracker.engine.url.render_as_string(hide_password=False)
        )
        state.probe_threads = anyio.CapacityLimiter(2)
    try:
        await anyio.to_thread.run_sync(_probe, state.probe_engine, limiter=state.probe_threads)
    except Exception as exc:  # any database failure means not ready
        body = {"status": "unavailable", "detail": type(exc).__name__}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready"})
