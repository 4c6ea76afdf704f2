"""Bounded requests: refuse unauthenticated writes and oversized bodies before reading them.

FastAPI reads and parses a request's body before it runs the route's dependencies, so the
token check in `app.api.deps` alone let anyone make the server read (and hold) any amount
of data. This middleware runs first: a write without a valid write token is answered 401/403
without reading its body, and a body over `[api] max_body_bytes` is answered 413, from its
Content-Length when it declares one, else by counting what arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.deps import refusal
from app.api.problems import TITLES, problem

if TYPE_CHECKING:
    from app.tracker import Tracker

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class RequestLimits:
    """ASGI middleware: the token of a write, then the size of its body, before the app."""

    def __init__(self, app: ASGIApp, *, tracker: Tracker) -> None:
        self.app = app
        self.tracker = tracker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass reads through; check a write's token and body size first."""
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["path"].startswith("/api/"):
            refused = refusal(self.tracker, headers.get("authorization"), "write")
            if refused is not None:
                response = problem(refused.status_code, TITLES[refused.status_code], refused.detail)
                response.headers.update(refused.headers or {})
                await _close_after(response, scope, receive, send)
                return
        limit = self.tracker.loaded.config.api.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit, scope, receive, send)
            return
        body = await _read_at_most(receive, limit)
        if body is None:
            await _too_large(limit, scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)


async def _read_at_most(receive: Receive, limit: int) -> bytes | None:
    """Return the whole body, or None as soon as more than `limit` bytes have arrived."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)  # the client went away; the app sees an empty body
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Return a `receive` that hands the app the body already read, then the real stream."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    detail = f"the request body is larger than the limit of {limit} bytes ([api] max_body_bytes)"
    await _close_after(problem(413, TITLES[413], detail), scope, receive, send)


async def _close_after(response: Response, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer without reading the body; the server then closes the connection."""
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
