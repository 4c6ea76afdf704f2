"""What every page shares: access to reads, the layout's context, and HTML error pages."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from app.web.auth import WebSession, read_session, save_session
from app.web.templating import render

if TYPE_CHECKING:
    from app.tracker import Tracker

log = logging.getLogger(__name__)


def tracker_of(request: Request) -> Tracker:
    """Return the tracker the app was built around."""
    tracker: Tracker = request.app.state.tracker
    return tracker


def current_period(now: int) -> str:
    """Return the calendar quarter of `now` as the scorecard names it (e.g. "2026-Q4")."""
    moment = time.gmtime(now)
    return f"{moment.tm_year}-Q{(moment.tm_mon - 1) // 3 + 1}"


def read_refusal(request: Request) -> Response | None:
    """Send the browser to sign in when reads need a token and the session has none.

    Follows `[api] require_token_for_reads` exactly as the API does; a signed-in session
    counts as presenting its token.
    """
    tracker = tracker_of(request)
    if not tracker.loaded.config.api.require_token_for_reads:
        return None
    if read_session(request).can("read"):
        return None
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    sign_in = f"/sign-in?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        # A refresh must not swap the sign-in page into the content: htmx navigates instead.
        return Response(status_code=204, headers={"HX-Redirect": sign_in})
    return RedirectResponse(sign_in, status_code=303)


def base_context(request: Request, **extra: Any) -> dict[str, Any]:
    """Return the layout's context: session, clock, navigation and refresh interval."""
    tracker = tracker_of(request)
    now = tracker.now()
    session: WebSession = read_session(request)
    return {
        "session": session,
        "now": now,
        "current_period": current_period(now),
        "refresh_seconds": tracker.loaded.config.web.refresh_seconds,
        "path": request.url.path,
        **extra,
    }


def page(request: Request, name: str, *, status_code: int = 200, **extra: Any) -> Response:
    """Render a full page (or fragment) and keep the session cookie."""
    response: Response = render(
        request, name, base_context(request, **extra), status_code=status_code
    )
    save_session(request, response)
    return response


def error_page(request: Request, *, status_code: int, title: str, message: str) -> Response:
    """Render an error as a page with a way back, never a traceback."""
    return page(request, "error.html", status_code=status_code, title=title, message=message)
