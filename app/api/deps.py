"""Dependencies shared by the routers: the tracker, a database session, and token checks."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.config.models import ApiToken

if TYPE_CHECKING:
    from app.tracker import Tracker

_bearer = HTTPBearer(auto_error=False)


async def get_tracker(request: Request) -> Tracker:
    """Return the tracker the app was built around.

    The dependencies without I/O are `async` so FastAPI runs them on the event loop: as
    plain functions each cost a hop through the thread pool, more than a cached read.
    """
    tracker: Tracker = request.app.state.tracker
    return tracker


if TYPE_CHECKING:
    TrackerDep = Tracker
else:
    # FastAPI needs only the dependency; the routers need not import the composition root
    # (its whole import chain) to run, only to be type-checked.
    TrackerDep = Annotated[Any, Depends(get_tracker)]


def get_session(tracker: TrackerDep) -> Iterator[Session]:
    """Yield a database session for one request."""
    with Session(tracker.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def find_token(tracker: Tracker, presented: str) -> ApiToken | None:
    """Return the configured token equal to `presented`, comparing every token in constant time.

    The dashboard's sign-in uses it too, so a browser session proves exactly what a bearer
    token proves.
    """
    found: ApiToken | None = None
    for token in tracker.loaded.config.api.tokens:
        if hmac.compare_digest(token.token.get_secret_value().encode(), presented.encode()):
            found = token
    return found


def _verdict(tracker: Tracker, authorization: str | None, scope: str) -> ApiToken | HTTPException:
    """Return the presented token when it may use `scope`, else why not."""
    challenge = {"WWW-Authenticate": "Bearer"}
    kind, _, presented = (authorization or "").partition(" ")
    if kind.lower() != "bearer" or not presented.strip():
        return HTTPException(401, f"a bearer token with {scope} scope is required", challenge)
    token = find_token(tracker, presented.strip())
    if token is None:
        return HTTPException(401, "the bearer token is not valid", challenge)
    if scope not in token.scopes:
        return HTTPException(403, f"the bearer token lacks the {scope} scope")
    return token


def refusal(tracker: Tracker, authorization: str | None, scope: str) -> HTTPException | None:
    """Return why a request with this `Authorization` header may not use `scope`, or None.

    Used by the routes' dependencies and, for writes, by `app.api.limits` before any body
    is read.
    """
    verdict = _verdict(tracker, authorization, scope)
    return verdict if isinstance(verdict, HTTPException) else None


def _require(tracker: Tracker, credentials: HTTPAuthorizationCredentials | None, scope: str) -> str:
    """Return the name of the presented token, or refuse without the scope."""
    header = f"Bearer {credentials.credentials}" if credentials else None
    verdict = _verdict(tracker, header, scope)
    if isinstance(verdict, HTTPException):
        raise verdict
    return verdict.name


async def require_write(tracker: TrackerDep, credentials: Credentials) -> str:
    """Refuse a write without a token that has write scope; return the token's name."""
    return _require(tracker, credentials, "write")


async def require_read(tracker: TrackerDep, credentials: Credentials) -> None:
    """Refuse a read without a token only when `[api] require_token_for_reads` is set."""
    if tracker.loaded.config.api.require_token_for_reads:
        _require(tracker, credentials, "read")


ReadAccess = Depends(require_read)
WriteAccess = Depends(require_write)
# The name of the write token a request presented ("who made this change").
Writer = Annotated[str, Depends(require_write)]
# `?include=archived`: listings add Key Results and objectives removed from the file.
Include = Annotated[
    Literal["archived"] | None,
    Query(description="archived: also list what was removed from the config file"),
]
