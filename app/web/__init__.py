"""The dashboard: server-rendered pages at `/` beside the JSON API, same process and tokens.

A new page is a router in `app/web/routes/<resource>.py`, added to `ROUTERS` below, whose
handler returns `read_refusal(request)` when set, else `page(request, "<name>.html", **data)`
(`app.web.pages`), with `data` from the function its JSON route uses. Its template extends
`base.html` and fills the blocks `title`, `content`, and optionally `head` (stylesheets) and
`scripts`; the globals `time_tag`, `status_badge`, `progress_bar`, `sparkline`, `json_script`
and the filters `number`, `percent`, `utc_date` format figures as the other pages do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app.web.auth import session_serializer
from app.web.chart_cache import ChartPointsCache
from app.web.pages import error_page
from app.web.routes import key_results, overview, periods, review, session
from app.web.sparkline import SparklineCache
from app.web.templating import STATIC_DIR

if TYPE_CHECKING:
    from app.tracker import Tracker

ROUTERS = (overview, key_results, review, periods, session)
# Paths that are never pages: their errors stay problem+json.
MACHINE_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs")


class ImmutableStaticFiles(StaticFiles):
    """Static files served with a year-long cache: their URLs carry a content hash."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """Serve the file and mark it cacheable for a year."""
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


class PageGZip:
    """Compress pages and assets; leave the API's responses as they were."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=800)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route page requests through gzip."""
        if scope["type"] == "http" and not scope["path"].startswith(MACHINE_PREFIXES):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def wants_page(request: Request) -> bool:
    """Return whether an error should be shown as a page (a browser asking for a page)."""
    return not request.url.path.startswith(MACHINE_PREFIXES) and "text/html" in request.headers.get(
        "accept", ""
    )


def _html_errors(app: FastAPI) -> None:
    """Show errors of page requests as pages; keep problem+json for everything else."""
    http_handler: Any = app.exception_handlers[StarletteHTTPException]
    validation_handler: Any = app.exception_handlers[RequestValidationError]
    unexpected: Any = app.exception_handlers[Exception]

    async def http_error(request: Request, exc: Exception) -> Response:
        if wants_page(request) and isinstance(exc, StarletteHTTPException):
            title = "Page not found" if exc.status_code == 404 else "Request refused"
            return error_page(
                request, status_code=exc.status_code, title=title, message=str(exc.detail)
            )
        response: Response = await http_handler(request, exc)
        return response

    async def validation_error(request: Request, exc: Exception) -> Response:
        if wants_page(request) and isinstance(exc, RequestValidationError):
            message = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            return error_page(request, status_code=422, title="Invalid request", message=message)
        response: Response = await validation_handler(request, exc)
        return response

    async def unexpected_error(request: Request, exc: Exception) -> Response:
        response: Response = await unexpected(request, exc)
        if wants_page(request):
            return error_page(
                request,
                status_code=500,
                title="Something went wrong",
                message="An unexpected error occurred; the server log has the details.",
            )
        return response

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected_error)


def install_web(app: FastAPI, tracker: Tracker) -> None:
    """Add the pages, their static files, gzip for pages and HTML error pages to `app`."""
    app.state.web_sessions = session_serializer(tracker)
    app.state.sparklines = SparklineCache()
    app.state.chart_points = ChartPointsCache()
    for module in ROUTERS:
        app.include_router(module.router)
    app.mount("/static", ImmutableStaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(PageGZip)
    _html_errors(app)
