"""Dependencies shared by the routers: the tracker, a database session, and token checks."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.tracker import Tracker

_bearer = HTTPBearer(auto_error=False)


async def get_tracker(request: Request) -> Tracker:
    """Return the tracker the app was built around.

    The dependencies without I/O are `async` so FastAPI runs them on the event loop: as
    plain functions each cost a hop through the thread pool, more than a cached read.
    """
    tracker: Tracker = request.app.state.tracker
    return tracker


TrackerDep = Annotated[Tracker, Depends(get_tracker)]


def get_session(tracker: TrackerDep) -> Iterator[Session]:
    """Yield a database session for one request."""
    with Session(tracker.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _token_scopes(tracker: Tracker, presented: str) -> set[str] | None:
    """Return the scopes of the matching token, comparing every token in constant time."""
    found: set[str] | None = None
    for token in tracker.loaded.config.api.tokens:
        if hmac.compare_digest(token.token.get_secret_value().encode(), presented.encode()):
            found = set(token.scopes)
    return found


def _require(
    tracker: Tracker, credentials: HTTPAuthorizationCredentials | None, scope: str
) -> None:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, f"a bearer token with {scope} scope is required", challenge)
    scopes = _token_scopes(tracker, credentials.credentials)
    if scopes is None:
        raise HTTPException(401, "the bearer token is not valid", challenge)
    if scope not in scopes:
        raise HTTPException(403, f"the bearer token lacks the {scope} scope")


async def require_write(tracker: TrackerDep, credentials: Credentials) -> None:
    """Refuse a write without a token that has write scope."""
    _require(tracker, credentials, "write")


async def require_read(tracker: TrackerDep, credentials: Credentials) -> None:
    """Refuse a read without a token only when `[api] require_token_for_reads` is set."""
    if tracker.loaded.config.api.require_token_for_reads:
        _require(tracker, credentials, "read")


ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)
